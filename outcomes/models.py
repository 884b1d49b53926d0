"""Models of the outcomes app; each feature's models live in its own module and are imported here."""

from outcomes.kpis.models import KpiExport  # noqa: F401
