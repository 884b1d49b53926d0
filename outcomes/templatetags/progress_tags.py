"""Progress pieces for templates: values in a measure's precision and unit, the MCID badge, and the
physician portal's rows with their progress (referrals' templates may load this library; referrals/ may
not import outcomes/, as clinic/'s pages load referrals' tags)."""

from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from clinic.html_rows import escape, html_rows, mdy
from outcomes.progress import display_unit, format_value, headline_progress

register = template.Library()


@register.filter
def measure_value(value: Decimal | None, measure) -> str:
    """72.5 kg, 410 m, 9 (a score): the measure's decimal places and display unit; — when missing."""
    if value is None:
        return "—"
    unit = display_unit(measure.unit)
    text = format_value(value, measure.decimal_places)
    return f"{text} {unit}" if unit and unit != "%" else f"{text}{unit}"


@register.filter
def signed_change(value: Decimal | None, measure) -> str:
    """+42 m, −3.5 kg (a true minus sign)."""
    if value is None:
        return "—"
    text = measure_value(abs(value), measure)
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


@register.filter
def signed_percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "−" if value < 0 else "±") + f"{abs(value):.1f} %"


@register.simple_tag
def mcid_badge(change) -> str:
    """The change's MCID classification as a badge, its MCID in the tooltip."""
    if change.classification:
        return format_html(
            '<span class="badge mcid-{}" title="{}">{}</span>',
            change.classification, change.mcid_text, change.classification_label,
        )  # fmt: skip
    if change.has_change:
        return format_html('<span class="badge" title="{}">Not classified</span>', change.mcid_text)
    return mark_safe('<span class="muted" title="A second value is needed to show a change">Baseline only</span>')


@register.simple_tag
def outcome_rows(changes) -> str:
    """The outcome table's rows (templates/outcomes/_outcome_table.html), written here rather than by a
    template loop: a dozen rows of some fifteen variables and filters each were a tenth of the Progress
    page's CPU (issue 11). Every value is escaped; dates are the active time zone's, as `|date` shows them."""
    return mark_safe("".join(_outcome_row(m) for m in changes))  # noqa: S308


def _outcome_row(m) -> str:
    measure = m.measure
    band = ""
    if m.latest_band:
        at_risk = " at-risk" if m.latest_at_risk else ""
        band = f'<br><span class="muted band{at_risk}">{escape(m.latest_band)}</span>'
    baseline = f'{escape(measure_value(m.baseline, measure))}<br><span class="muted">{_day(m.baseline_at)}</span>'
    if m.has_change:
        latest = f'{escape(measure_value(m.latest, measure))}<br><span class="muted">{_day(m.latest_at)}</span>'
    else:
        latest = '<span class="muted">—</span>'
    return (
        f'\n  <tr>\n    <th scope="row">{escape(measure.name)}{band}</th>\n'
        f'    <td class="nowrap">{baseline}</td>\n'
        f'    <td class="nowrap">{latest}</td>\n'
        f'    <td class="nowrap">{escape(signed_change(m.change, measure))}</td>\n'
        f'    <td class="nowrap">{escape(signed_percent(m.percent_change))}</td>\n'
        f"    <td>{mcid_badge(m)}</td>\n  </tr>\n  "
    )


def _day(moment) -> str:
    """`{{ moment|date:"m/d/Y" }}`."""
    return timezone.localtime(moment).strftime("%m/%d/%Y") if moment else ""


def rows_with_progress(referrals) -> list[tuple]:
    """[(referral, progress or None)] for a page of "My patients": attendance and the headline change of
    each referral's enrollment, in a fixed number of queries for the whole page (headline_progress). Only
    where the physician may open the chart (the referral's `chart_visible`)."""
    referrals = list(referrals)
    enrollments = [r.enrollment for r in referrals if r.enrollment_id and getattr(r, "chart_visible", False)]
    progress = headline_progress(enrollments)
    return [(r, progress.get(r.enrollment_id) if r.enrollment_id else None) for r in referrals]


MUTED_DASH = '<span class="muted">—</span>'


@register.simple_tag
def my_patient_rows(referrals, show_clinic: bool) -> str:
    """The rows of "My patients" with their progress (rows_with_progress), written here rather than by a
    template loop: 25 rows of some 30 variables, conditions and filters each were the larger part of the
    page's CPU (issue 11: 24 → 17 ms in process, bench-big's physician). A row's referral and chart links
    are its clinic's lists' URLs plus the id (referrals/views.py); every value is escaped."""
    return html_rows(rows_with_progress(referrals), lambda row: _my_patient_row(*row, show_clinic))


def _my_patient_row(r, p, show_clinic: bool) -> str:
    name = f"{escape(r.patient_last_name)}, {escape(r.patient_first_name)}"
    enrollment = r.enrollment
    status = f'<span class="badge status-{escape(r.status)}">{escape(r.get_status_display())}</span>'
    if enrollment and enrollment.status != "enrolled":
        status += f" · {escape(enrollment.get_status_display())}"
    start = mdy(enrollment.start_date) if enrollment and enrollment.start_date else "—"
    days = r.days_since_referral
    since = "Today" if days < 1 else f"{days} day{_plural(days)}"
    days = r.days_to_first_session
    first = MUTED_DASH if days is None else f"{days} day{_plural(days)} after referral"
    cells = [f'<td><a href="{escape(r.referrals_url)}{r.pk}/">{name}</a></td>']
    if show_clinic:
        cells.append(f"<td>{escape(r.clinic.name)}</td>")
    cells += [
        f"<td>{escape(r.program.name)}</td>",
        f"<td>{status}</td>",
        f'<td class="nowrap">{start}</td>',
        f"<td>{since}</td>",
        f"<td>{first}</td>",
        f'<td class="nowrap">{_attendance(p)}</td>',
        f"<td>{_headline(p)}</td>",
        f"<td>{_chart_links(r, name)}</td>",
    ]
    return f"<tr>{''.join(cells)}</tr>\n"


def _plural(count: int) -> str:
    return "" if count == 1 else "s"  # |pluralize


def _attendance(p) -> str:
    attendance = p.attendance if p else None
    if attendance and attendance.percent is not None:
        text = f'{attendance.percent} % <span class="muted">({attendance.attended} of {attendance.booked})</span>'
    else:
        text = MUTED_DASH
    if attendance and attendance.last_session_on:
        text += f'<br><span class="muted">last</span> {mdy(attendance.last_session_on)}'
    return text


def _headline(p) -> str:
    if not (p and p.headline):
        return MUTED_DASH
    h = p.headline
    change = f'<span class="nowrap">{escape(signed_change(h.change, h.measure))}</span> ' if h.has_change else ""
    return f"{escape(h.measure.name)}<br>{change}{mcid_badge(h)}"


def _chart_links(r, name: str) -> str:
    if not r.chart_visible:
        return MUTED_DASH
    hidden = f'<span class="visually-hidden"> of {name}</span>'
    links = f'<a class="nowrap" href="{escape(r.patients_url)}{r.patient_id}/">Open chart{hidden}</a>'
    if r.enrollment_id:
        # progress_detail's URL (outcomes/progress_urls.py) after the clinic's patient list's, as the chart's:
        # a reverse() per row was a tenth of the rows' CPU (issue 11).
        progress_url = f"{r.patients_url}{r.enrollment.patient_id}/enrollments/{r.enrollment_id}/progress/"
        links += f'<br><a class="nowrap" href="{escape(progress_url)}">Progress{hidden}</a>'
    return links
