"""Models of the billing app arrive with the issues that need them (see docs/architecture.md)."""
