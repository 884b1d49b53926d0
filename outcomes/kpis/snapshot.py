"""The dashboard's PDF snapshot (templates/outcomes/pdf/dashboard.html): the page's KPI tiles (value,
definition, monthly trend) and its referral tables, with the period, the filters and the time it was
generated in the header.

Rendered in the request rather than in Celery: dashboard_get runs a fixed number of queries whatever the
clinic's size, and the document is as bounded (fourteen tiles, a row per referral source and physician).
"""

import base64
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone

from clinic.models import Clinic, User
from clinic.pdf import render_pdf
from outcomes.kpis import charts
from outcomes.kpis.dashboard import Dashboard, Table
from outcomes.kpis.definitions import CLINICAL, UTILIZATION
from outcomes.kpis.queries import KpiFilters

REFERRAL_TABLES = ("referrals-by-source", "referrals-by-physician")
CHART_WIDTH, CHART_HEIGHT = 420, 180


# pygal's own sheet draws the grid in black dashes in WeasyPrint, which on paper buries the line; a light solid
# grid instead (the last rule inside each chart's SVG).
PRINT_GRID = (
    "<style>.axis .guide.line{stroke:#d5dbe1 !important;stroke-dasharray:none !important;"
    "stroke-width:0.8 !important}.axis .major.guide.line{stroke:#b8c2cc !important}</style>"
)


def chart_uri(kpi) -> str:
    """The tile's trend chart as a data: URI (WeasyPrint fetches nothing). An image rather than SVG inline
    in the HTML: the document's stylesheet is then not matched against every element of fourteen charts,
    which took half the rendering time."""
    svg = charts.trend_svg(kpi, width=CHART_WIDTH, height=CHART_HEIGHT).decode()
    svg = svg.replace("</svg>", PRINT_GRID + "</svg>", 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def aligned(table: Table) -> tuple[str, list, list]:
    """The table with each cell paired with whether its column holds numbers (set right-aligned; a missing
    value fits either)."""
    numeric = [
        all(row[index] is None or isinstance(row[index], int | Decimal) for row in table.rows)
        for index in range(len(table.header))
    ]
    return (
        table.title,
        list(zip(table.header, numeric, strict=True)),
        [list(zip(row, numeric, strict=True)) for row in table.rows],
    )


def snapshot_filename(clinic: Clinic, filters: KpiFilters) -> str:
    return f"dashboard-{clinic.slug}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.pdf"


def snapshot_html(*, board: Dashboard, chosen: list[tuple[str, str]], generated_by: User) -> str:
    groups = [
        (
            title,
            [
                (kpi, chart_uri(kpi), charts.trend_alt(kpi), kpi.unfiltered_by(board.filters))
                for kpi in board.by_group(group)
            ],
        )
        for title, group in (("Clinical outcomes", CLINICAL), ("Utilization", UTILIZATION))
    ]
    context = {
        "clinic": board.clinic, "board": board, "groups": groups, "chosen": chosen,
        "tables": [aligned(board.table(key)) for key in REFERRAL_TABLES],
        "generated_at": timezone.localtime(), "generated_by": generated_by.get_full_name() or generated_by.email,
    }  # fmt: skip
    return render_to_string("outcomes/pdf/dashboard.html", context)


def snapshot_pdf(*, board: Dashboard, chosen: list[tuple[str, str]], generated_by: User) -> bytes:
    return render_pdf(snapshot_html(board=board, chosen=chosen, generated_by=generated_by))
