"""Progress charts (outcomes/charts.py): pygal SVG that the strict CSP and WeasyPrint both take."""

import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from clinic.models import Measure
from outcomes.charts import chart_css, measure_trend_svg, session_vitals_svg
from outcomes.progress import MeasureChange
from scheduling.models import SessionLog
from tests.scheduling.factories import make_booking, make_enrollment, make_occurrence


def walk_change(*values) -> MeasureChange:
    walk = Measure.objects.get(clinic=None, code="64098-7")
    start = timezone.now() - datetime.timedelta(days=60)
    points = [(start + datetime.timedelta(days=20 * n), Decimal(v)) for n, v in enumerate(values)]
    return MeasureChange(measure=walk, baseline=points[0][1], latest=points[-1][1], points=points)


def test_static_chart_stylesheet_is_what_the_code_generates(db):
    assert (Path(settings.BASE_DIR) / "static/css/charts.css").read_text() == chart_css()


def test_trend_chart_has_no_script_no_inline_style_and_the_mcid_line(db):
    svg = measure_trend_svg(walk_change(300, 320, 341))
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "<script" not in svg and "<style" not in svg and "style=" not in svg
    assert 'class="pygal-chart medfit-chart trend"' in svg
    assert "MCID from baseline" in svg and "6-minute walk distance (m)" in svg


def test_trend_chart_for_a_pdf_carries_its_stylesheet(db):
    svg = measure_trend_svg(walk_change(300, 341), inline_css=True)
    assert "<style" in svg and ".medfit-chart.trend" in svg and "<script" not in svg


def test_same_data_draws_the_same_chart(db):
    change = walk_change(300, 341)
    assert measure_trend_svg(change) == measure_trend_svg(change)


def test_no_values_draw_no_chart(db):
    walk = Measure.objects.get(clinic=None, code="64098-7")
    assert measure_trend_svg(MeasureChange(measure=walk)) == ""


def test_session_vitals_chart_draws_attended_sessions(clinic_a, team_a):
    enrollment = make_enrollment(clinic_a)
    assert session_vitals_svg(clinic=clinic_a, enrollment=enrollment) == ""
    for days_ago in (9, 5, 2):
        occurrence = make_occurrence(
            clinic_a, enrollment.program, starts_at=timezone.now() - datetime.timedelta(days=days_ago)
        )
        booking = make_booking(occurrence, enrollment, team_a["physiologist"].membership)
        SessionLog.objects.create(
            clinic=clinic_a, booking=booking, occurrence=occurrence, enrollment=enrollment,
            patient=enrollment.patient, attendance="present", pre_hr=70, peak_hr=118, pre_sbp=128, peak_sbp=162,
        )  # fmt: skip
    svg = session_vitals_svg(clinic=clinic_a, enrollment=enrollment)
    assert "Peak HR (bpm)" in svg and "Resting SBP (mmHg)" in svg
    assert "<script" not in svg and "style=" not in svg and " id=" not in svg
