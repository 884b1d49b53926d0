"""Documentation packets: CR/ICR/PR and DPP/MDPP packets (PDF and CSV) and the ZIP of a program's packets."""
