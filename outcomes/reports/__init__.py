"""PDF progress reports for the referring physician (see docs/reports.md)."""
