"""Progress charts: a measure over time and the session vitals, drawn as SVG markup on the server
(outcomes/linechart.py), the same for the pages and the PDFs."""

import datetime
from collections import namedtuple
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from clinic.compiled import SAMPLE_MOMENT, CompiledQuery
from clinic.models import Measure
from outcomes.linechart import Series, line_chart_svg
from outcomes.progress import BEGINNING, MeasureChange, display_unit, end_of, start_of
from scheduling.models import SessionLog

PATIENT, TARGET, RISK, AMBER = "#0b6e6e", "#1c7c3a", "#b42318", "#a15c00"


def _date_labels(moments) -> list[str]:
    """Each moment's day in the active time zone, as timezone.localtime gives it (looking the zone up once:
    a chart has a label per point, and the look-up was a third of drawing the charts)."""
    zone = timezone.get_current_timezone()
    return [moment.astimezone(zone).strftime("%m/%d") for moment in moments]


def _target(change: MeasureChange) -> Decimal | None:
    """The value the patient must reach for a meaningful improvement (baseline ± MCID), if the measure
    has one."""
    measure = change.measure
    if change.baseline is None or measure.mcid is None or measure.direction == Measure.Direction.CONTEXT:
        return None
    step = measure.mcid
    if measure.mcid_kind == Measure.McidKind.PERCENT:
        step = abs(change.baseline) * measure.mcid / 100
    return change.baseline + step if measure.direction == Measure.Direction.HIGHER else change.baseline - step


def _risk_threshold(change: MeasureChange) -> tuple[Decimal, str] | None:
    """The edge of the risk band the patient was in at baseline (e.g. TUG 12 s), to show the way out."""
    if not change.baseline_at_risk:
        return None
    for band in change.measure.bands.all():
        if band.label == change.baseline_band:
            edge = band.low if change.measure.direction == Measure.Direction.LOWER else band.high
            edge = edge if edge is not None else (band.high if band.low is None else band.low)
            return (edge, band.label) if edge is not None else None
    return None


def measure_trend_svg(change: MeasureChange, *, width=480, height=220) -> str:
    """One measure over time, with the line a meaningful improvement must cross (baseline ± MCID) and the
    edge of the baseline's risk band. "" when there is nothing to draw."""
    if not change.points:
        return ""
    measure = change.measure
    unit = display_unit(measure.unit)
    target = _target(change)
    risk = _risk_threshold(change)
    count = len(change.points)
    series = [Series("Patient", [value for _, value in change.points], PATIENT)]
    if target is not None:
        series.append(Series("MCID from baseline", [target] * count, TARGET, dashed=True, dots=False))
    if risk is not None:
        series.append(Series("Risk threshold", [risk[0]] * count, RISK, dashed=True, dots=False))
    return line_chart_svg(
        kind="trend" if target is not None or risk is None else "trend-risk",
        title=measure.name + (f" ({unit})" if unit else ""),
        x_labels=_date_labels(moment for moment, _ in change.points),
        series=series, places=measure.decimal_places, width=width, height=height,
    )  # fmt: skip


def _session_vitals(*, clinic_id, enrollment_id, start, end):
    """The five values a point needs, not a session log and its class per session (a chart of every
    session), of the attended sessions from `start` to `end` that recorded any."""
    return (
        SessionLog.objects.filter(
            Q(pre_hr__isnull=False) | Q(peak_hr__isnull=False) | Q(pre_sbp__isnull=False) | Q(peak_sbp__isnull=False),
            clinic_id=clinic_id, enrollment_id=enrollment_id, attendance__in=SessionLog.ATTENDED,
            occurrence__starts_at__gte=start, occurrence__starts_at__lt=end,
        )
        .order_by("occurrence__starts_at", "id")
        .values_list("occurrence__starts_at", "pre_hr", "peak_hr", "pre_sbp", "peak_sbp")
    )  # fmt: skip


# Read by every Progress page: compiled once (clinic.compiled, issue 11).
SESSION_VITALS = CompiledQuery(
    _session_vitals, clinic_id=-1, enrollment_id=-2, start=SAMPLE_MOMENT,
    end=SAMPLE_MOMENT + datetime.timedelta(seconds=1),
)  # fmt: skip
# No period given: every session.
_END = datetime.datetime.max.replace(tzinfo=datetime.UTC)
VitalsRow = namedtuple("VitalsRow", "starts_at pre_hr peak_hr pre_sbp peak_sbp")


def session_vitals_svg(*, clinic, enrollment, period_start=None, period_end=None, width=480, height=220) -> str:
    """Resting and peak heart rate and systolic pressure at each attended session of the period (the days
    from `period_start` to `period_end` in the active time zone; one query). "" when no session recorded
    them."""
    rows = SESSION_VITALS.rows(
        clinic_id=clinic.pk, enrollment_id=enrollment.pk,
        start=start_of(period_start) if period_start else BEGINNING, end=end_of(period_end) if period_end else _END,
    )  # fmt: skip
    logs = [VitalsRow._make(row) for row in rows]
    if not logs:
        return ""
    return line_chart_svg(
        kind="vitals", title="Session vitals", x_labels=_date_labels(log.starts_at for log in logs),
        series=[
            Series("Resting HR (bpm)", [log.pre_hr for log in logs], PATIENT),
            Series("Peak HR (bpm)", [log.peak_hr for log in logs], TARGET),
            Series("Resting SBP (mmHg)", [log.pre_sbp for log in logs], RISK),
            Series("Peak SBP (mmHg)", [log.peak_sbp for log in logs], AMBER),
        ],
        width=width, height=height, dot_radius=3,
    )  # fmt: skip
