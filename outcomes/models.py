"""Models of the outcomes app. Each feature keeps its models in its own module, imported here."""

from outcomes.reports.models import ReportRequest  # noqa: F401
