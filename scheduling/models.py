"""Models of the scheduling app arrive with the issues that need them (see docs/architecture.md)."""
