"""The financial KPIs (billing/kpis/): sessions billed, expected reimbursement by payer and program, the value of
blocked lines by reason, days from service to export; the page, its exports and the API."""

import csv
import datetime
import io
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from billing.kpis.board import board_get
from billing.kpis.queries import BillingKpiFilters
from billing.models import ClaimBatch, ClaimLine, Payer
from clinic.models import AuditEntry
from tests.billing.factories import START, add_session, covered_enrollment
from tests.conftest import make_program

PERIOD = {"start": "2026-03-01", "end": "2026-04-30"}


class Lines:
    """Claim lines written directly (derivation is test_claim_rules.py's subject), each on a session of its own."""

    def __init__(self, team):
        self.team = team
        self.clinic = team["admin"].clinic
        self.medicare = Payer.objects.create(clinic=self.clinic, name="Medicare", kind="medicare")
        self.aetna = Payer.objects.create(clinic=self.clinic, name="Aetna", kind="commercial")
        self.cr = covered_enrollment(self.clinic, "cr", mrn="K-1", payer=self.medicare, plans=False)
        self.pr = covered_enrollment(self.clinic, "pr", mrn="K-2", payer=self.aetna, plans=False)

    def line(self, enrollment, day, status, amount, *, payer=None, reasons=(), batch=None):
        session = add_session(enrollment, day)
        return ClaimLine.objects.create(
            clinic=self.clinic, enrollment=enrollment, session_log=session, patient=enrollment.patient,
            program_type=enrollment.program.program_type, date_of_service=day, code="93798", payer=payer,
            expected_amount=None if amount is None else Decimal(amount), status=status, batch=batch,
            blockers=[{"code": code, "message": code} for code in reasons],
        )  # fmt: skip

    def batch(self, exported_on: datetime.date, status="exported"):
        at = datetime.datetime.combine(exported_on, datetime.time(15), zoneinfo.ZoneInfo(self.clinic.timezone))
        return ClaimBatch.objects.create(
            clinic=self.clinic, created_by=self.team["billing"].membership, created_at=at, status=status,
            void_reason="wrong payer" if status == "void" else "",
        )  # fmt: skip

    def typical(self):
        """March: two CR sessions exported (10 and 20 days later), one ready; one PR session ready, one blocked
        for two reasons, one blocked without a fee; a void line. April: one CR line blocked."""
        batch = self.batch(START + datetime.timedelta(days=20))
        self.line(self.cr, START, "exported", "100.00", payer=self.medicare, batch=batch)
        self.line(self.cr, START + datetime.timedelta(days=10), "exported", "100.00", payer=self.medicare, batch=batch)
        self.line(self.cr, START + datetime.timedelta(days=11), "ready", "100.00", payer=self.medicare)
        self.line(self.pr, START, "ready", "50.00", payer=self.aetna)
        self.line(self.pr, START + datetime.timedelta(days=1), "blocked", "50.00", payer=self.aetna,
                  reasons=["itp_missing", "duration_short"])  # fmt: skip
        self.line(self.pr, START + datetime.timedelta(days=2), "blocked", None, reasons=["coverage_missing"])
        self.line(self.pr, START + datetime.timedelta(days=3), "void", "50.00", payer=self.aetna)
        self.line(self.cr, datetime.date(2026, 4, 6), "blocked", "100.00", payer=self.medicare,
                  reasons=["itp_missing"])  # fmt: skip
        return self


@pytest.fixture
def lines(team_a):
    return Lines(team_a).typical()


def board(lines, **filters):
    dates = {"start": datetime.date(2026, 3, 1), "end": datetime.date(2026, 4, 30)}
    return board_get(
        clinic=lines.clinic, membership=lines.team["admin"].membership, filters=BillingKpiFilters(**dates, **filters)
    )


def kpi(lines, key, **filters):
    return board(lines, **filters).kpi(key)


# --- The numbers --------------------------------------------------------------------------------------------


def test_sessions_billed_counts_sessions_with_an_exported_line(lines):
    assert (kpi(lines, "sessions_billed").total, kpi(lines, "sessions_billed").display) == (2, "2")


def test_expected_reimbursement_sums_ready_and_exported_lines_not_blocked_or_void(lines):
    expected = kpi(lines, "expected_reimbursement")
    assert (expected.total, expected.display, expected.value.count) == (Decimal("350.00"), "$350.00", 4)


def test_value_of_blocked_lines_and_its_monthly_series(lines):
    blocked = kpi(lines, "blocked_value")
    assert (blocked.total, blocked.value.count) == (Decimal("150.00"), 3)
    assert [value for _, value in blocked.series] == [Decimal("50.00"), Decimal("100.00")]


def test_blocked_lines_by_reason_count_a_line_under_each_of_its_reasons(lines):
    rows = board(lines).table("blocked-by-reason").rows
    assert [(code, count, value, no_fee) for code, _label, count, value, no_fee in rows] == [
        ("itp_missing", 2, Decimal("150.00"), 0),
        ("duration_short", 1, Decimal("50.00"), 0),
        ("coverage_missing", 1, Decimal("0.00"), 1),
    ]


def test_expected_reimbursement_by_payer_and_by_program(lines):
    by_payer = board(lines).table("by-payer").rows
    assert by_payer == [
        ["Medicare", 2, 3, Decimal("300.00"), 1, Decimal("100.00")],
        ["Aetna", 0, 1, Decimal("50.00"), 1, Decimal("50.00")],
        ["No coverage", 0, 0, Decimal("0.00"), 1, Decimal("0.00")],
    ]
    by_program = board(lines).table("by-program").rows
    assert [row[0] for row in by_program] == ["cr K-1", "pr K-2"]
    assert by_program[0][3] == Decimal("300.00")


def test_days_from_service_to_export_median_and_90th_percentile(lines):
    assert kpi(lines, "days_to_export").total == Decimal("15.0")  # 20 and 10 days
    assert kpi(lines, "days_to_export_p90").total == Decimal("19.0")


def test_a_voided_batch_no_longer_counts_as_exported(lines):
    void = lines.batch(datetime.date(2026, 3, 25), status="void")
    lines.line(lines.cr, datetime.date(2026, 3, 20), "void", "100.00", payer=lines.medicare, batch=void)
    assert kpi(lines, "days_to_export").value.count == 2


def test_payer_filter_keeps_that_payers_lines(lines):
    assert kpi(lines, "expected_reimbursement", payer_id=lines.aetna.pk).total == Decimal("50.00")
    assert kpi(lines, "sessions_billed", payer_id=lines.aetna.pk).total == 0


def test_program_filter_keeps_that_programs_lines(lines):
    assert kpi(lines, "blocked_value", program_id=lines.cr.program_id).total == Decimal("100.00")
    assert kpi(lines, "days_to_export", program_id=lines.pr.program_id).total is None


def test_period_filter_is_on_the_date_of_service(lines):
    march = board_get(
        clinic=lines.clinic, membership=lines.team["admin"].membership,
        filters=BillingKpiFilters(start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 31)),
    )  # fmt: skip
    assert march.kpi("blocked_value").total == Decimal("50.00")


def test_another_clinics_lines_never_count(lines, team_b):
    other = Lines(team_b)
    other.line(other.cr, START, "ready", "999.00", payer=other.medicare)
    assert kpi(lines, "expected_reimbursement").total == Decimal("350.00")


# --- The page, its exports, the API -------------------------------------------------------------------------


def page_url(clinic, **params):
    return reverse("billing_kpis", args=[clinic.slug]), params


@pytest.mark.parametrize("role", ["admin", "billing"])
def test_admin_and_billing_see_tiles_charts_tables_and_glossary(lines, role):
    url, params = page_url(lines.clinic, **PERIOD)
    response = lines.team[role].client.get(url, params)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('src="data:image/svg+xml;base64,') == 5
    assert "$350.00" in page and "Blocked lines by reason" in page
    assert 'id="def-days_to_export_p90"' in page and 'title="Median days from a line' in page
    assert "<script" not in page.split("<main")[1]


@pytest.mark.parametrize("role", ["physiologist", "physician"])
def test_clinicians_get_404_for_the_page_its_exports_and_api(team_a, role):
    client, slug = team_a[role].client, team_a[role].clinic.slug
    assert client.get(reverse("billing_kpis", args=[slug])).status_code == 404
    assert client.get(reverse("billing_kpi_table_csv", args=[slug]), {"table": "by-payer"}).status_code == 404
    assert client.get(reverse("api-billing-kpis", args=[slug])).status_code == 404


def test_the_admin_dashboard_links_to_the_financial_kpis(team_a):
    response = team_a["admin"].client.get(reverse("kpi_dashboard", args=["alpha"]))
    assert reverse("billing_kpis", args=["alpha"]).encode() in response.content


def test_the_pages_query_count_does_not_grow_with_the_lines(team_a, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    data = Lines(team_a)
    data.line(data.cr, START, "ready", "100.00", payer=data.medicare)
    url, params = page_url(data.clinic, **PERIOD)
    client = team_a["billing"].client
    client.get(url, params)
    with CaptureQueriesContext(connection) as small:
        client.get(url, params)
    data.typical()
    for number in range(3):
        make_program(data.clinic, "pr", name=f"Other {number}")
        Payer.objects.create(clinic=data.clinic, name=f"Payer {number}", kind="commercial")
    with django_assert_max_num_queries(len(small)):
        assert client.get(url, params).status_code == 200


def test_csv_export_of_the_table_by_payer(lines):
    url = reverse("billing_kpi_table_csv", args=[lines.clinic.slug])
    response = lines.team["billing"].client.get(url, {"table": "by-payer", **PERIOD})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Payer", "Sessions billed", "Ready or exported lines", "Expected ($)", "Blocked lines",
                       "Blocked ($)"]  # fmt: skip
    assert rows[1] == ["Medicare", "2", "3", "300.00", "1", "100.00"]


def test_xlsx_export_of_the_monthly_table_keeps_numbers_as_numbers(lines):
    url = reverse("billing_kpi_table_xlsx", args=[lines.clinic.slug])
    response = lines.team["admin"].client.get(url, {"table": "monthly", **PERIOD})
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    column = rows[0].index("Sessions billed (n)")
    assert [row[0] for row in rows[1:]] == ["2026-03", "2026-04"]
    assert [row[column] for row in rows[1:]] == [2, 0]


def test_a_table_download_leaves_an_audit_entry_with_its_period_and_payer(lines):
    url = reverse("billing_kpi_table_csv", args=[lines.clinic.slug])
    lines.team["billing"].client.get(url, {"table": "by-payer", **PERIOD, "payer": lines.medicare.pk})
    entry = AuditEntry.objects.get(clinic=lines.clinic, event=AuditEntry.Event.EXPORT)
    assert entry.actor == lines.team["billing"].user
    assert entry.changes_text.startswith("Downloaded the table ")
    assert entry.changes_text.endswith(f" as CSV, {PERIOD['start']} to {PERIOD['end']}, Payer: Medicare")


def test_an_unknown_table_is_a_404(lines):
    url = reverse("billing_kpi_table_csv", args=[lines.clinic.slug])
    assert lines.team["admin"].client.get(url, {"table": "nope"}).status_code == 404


def test_the_api_gives_the_pages_numbers_and_tables_with_the_same_filters(lines):
    url = reverse("api-billing-kpis", args=[lines.clinic.slug])
    response = lines.team["billing"].client.get(url, {**PERIOD, "payer": lines.medicare.pk})
    assert response.status_code == 200
    body = response.json()
    kpis = {item["key"]: item for item in body["kpis"]}
    assert kpis["expected_reimbursement"]["value"] == "300.00"
    assert [month["value"] for month in kpis["sessions_billed"]["monthly"]] == ["2", "0"]
    assert body["by_payer"] == [
        {"payer": "Medicare", "sessions_billed": 2, "ready_or_exported_lines": 3, "expected_amount": "300.00",
         "blocked_lines": 1, "blocked_amount": "100.00"}
    ]  # fmt: skip
    assert body["blocked_by_reason"][0]["code"] == "itp_missing"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"start": "01/02/2026"}, "start"), ({"payer": ""}, "payer"), ({"payer": "x"}, "payer"),
     ({"physician": "1"}, "non_field_errors"), ({"start": "2026-03-01", "end": "2026-01-01"}, "end")],
)  # fmt: skip
def test_the_api_refuses_bad_filters_with_a_message(team_a, params, field):
    response = team_a["billing"].client.get(reverse("api-billing-kpis", args=["alpha"]), params)
    assert response.status_code == 400
    assert field in str(response.json())
