"""Progress charts (outcomes/charts.py, outcomes/linechart.py): SVG that the strict CSP and WeasyPrint both take."""

import datetime
from decimal import Decimal

from django.utils import timezone

from clinic.models import Measure
from outcomes.charts import measure_trend_svg, session_vitals_svg
from outcomes.linechart import Series, line_chart_svg, value_ticks
from outcomes.progress import MeasureChange
from scheduling.models import SessionLog
from tests.scheduling.factories import make_booking, make_enrollment, make_occurrence


def walk_change(*values) -> MeasureChange:
    walk = Measure.objects.get(clinic=None, code="64098-7")
    start = timezone.now() - datetime.timedelta(days=60)
    points = [(start + datetime.timedelta(days=20 * n), Decimal(v)) for n, v in enumerate(values)]
    return MeasureChange(measure=walk, baseline=points[0][1], latest=points[-1][1], points=points)


def test_trend_chart_has_no_script_no_inline_style_and_the_mcid_line(db):
    svg = measure_trend_svg(walk_change(300, 320, 341))
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "<script" not in svg and "<style" not in svg and "style=" not in svg
    assert 'class="medfit-chart trend"' in svg
    assert "MCID from baseline" in svg and "6-minute walk distance (m)" in svg


def test_each_point_of_a_trend_tells_its_value_and_date_on_hover(db):
    change = walk_change(300, 341)
    svg = measure_trend_svg(change)
    assert f"<title>Patient: 341 on {timezone.localtime(change.points[-1][0]):%m/%d}</title>" in svg


def test_chart_text_is_escaped():
    svg = line_chart_svg(kind="trend", title="<b>x</b> & y", x_labels=["<i>"], series=[Series("a<b", [1], "#000")])
    assert "<b>" not in svg and "<i>" not in svg and "&lt;b&gt;x&lt;/b&gt; &amp; y" in svg and "a&lt;b" in svg


def test_a_gap_in_a_series_breaks_its_line():
    svg = line_chart_svg(kind="vitals", title="t", x_labels=["1", "2", "3", "4", "5"],
                         series=[Series("HR", [70, 72, None, 75, 74], "#000")])  # fmt: skip
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4 + 1  # four points and the legend's dot


def test_value_axis_ticks_are_round_and_cover_the_values():
    assert value_ticks(300, 341) == [300, 310, 320, 330, 340, 350]
    assert value_ticks(8.4, 13.1) == [8, 10, 12, 14]
    assert value_ticks(0.52, 0.9) == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert value_ticks(70, 70) == [60, 65, 70, 75, 80]  # one value: a band around it


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
