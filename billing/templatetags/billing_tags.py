"""`{% patient_coverage patient %}`: the patient's coverage on the chart (clinic/ may not import billing/);
`{% claim_line_rows %}`: the claim lines page's rows."""

from django import template
from django.urls import reverse
from django.utils import timezone

from billing import selectors
from billing.models import ClaimLine
from clinic.html_rows import escape, html_rows, mdy, number_writer
from clinic.permissions import has_permission

register = template.Library()


@register.inclusion_tag("billing/_patient_coverage.html", takes_context=True)
def patient_coverage(context, patient):
    request = context["request"]
    membership = getattr(request, "membership", None)
    if membership is None or not has_permission(membership, "coverage.view"):
        return {"visible": False}
    return {
        "visible": True, "patient": patient, "request": request, "today": timezone.localdate(),
        "coverages": selectors.coverages_of_patient(clinic=request.clinic, patient=patient),
        "can_manage": has_permission(membership, "coverage.manage"),
        "can_request_packet": has_permission(membership, "packet.request"),
    }  # fmt: skip


@register.simple_tag
def claim_line_rows(lines, clinic_slug: str, can_manage: bool) -> str:
    """The claim lines page's rows (selectors.claim_line_rows' named tuples), written here rather than by a
    template loop: 50 lines of some 25 variables, conditions and filters each were three quarters of the page's
    CPU (issue 11: claim lines 19 → 10 ms in process, blocked lines 21 → 11 ms, bench-big's billing member). The
    patients' link is their list's URL reversed once; a batch's and an enrollment's notes' link once each. Every
    value is escaped; numbers are written as `{{ number }}` writes them (`number_writer`)."""
    number = number_writer()
    patients_url = reverse("patient_list", args=[clinic_slug])
    urls = {}

    def url(route, *args):
        if (route, args) not in urls:
            urls[route, args] = reverse(route, args=[clinic_slug, *args])
        return urls[route, args]

    return html_rows(lines, lambda line: _claim_line_row(line, patients_url, url, can_manage, number))


STATUS_BADGES = {ClaimLine.Status.READY: "active", ClaimLine.Status.BLOCKED: "urgent"}  # the rest: "inactive"
# get_status_display() and get_program_type_display(), which hash the field's choices on every call.
STATUSES = dict(ClaimLine.Status.choices)
PROGRAM_TYPES = dict(ClaimLine._meta.get_field("program_type").flatchoices)


def _claim_line_row(line, patients_url: str, url, can_manage: bool, number) -> str:
    cells = []
    if can_manage:
        box = ""
        if line.status in (ClaimLine.Status.READY, ClaimLine.Status.BLOCKED):
            checked = " checked" if line.status == ClaimLine.Status.READY else ""
            box = (
                f'<input type="checkbox" name="line" value="{line.id}" id="line-{line.id}"{checked}>'
                f'<label for="line-{line.id}" class="visually-hidden">Export line {line.id}</label>'
            )
        cells.append(f"<td>{box}</td>")
    patient = f"{escape(line.patient__last_name)}, {escape(line.patient__first_name)}"
    modifiers = "".join(f' <span class="badge">{escape(m)}</span>' for m in line.modifiers)
    payer = escape(line.payer__name) if line.payer__name else "—"
    amount = "—" if line.expected_amount is None else f"${number(line.expected_amount)}"
    badge = STATUS_BADGES.get(line.status, "inactive")
    status = f'<span class="badge {badge}">{escape(str(STATUSES.get(line.status, line.status)))}</span>'
    if line.batch_id:
        status += f' <a href="{url("batch_detail", line.batch_id)}">batch {line.batch_id}</a>'
    reasons = ""
    if line.blockers:
        items = []
        for blocker in line.blockers:
            code = str(blocker.get("code", ""))
            item = f"<li><code>{escape(code)}</code> {escape(str(blocker.get('message', '')))}"
            if code == "kx_note_missing":
                notes_url = url("necessity_notes", line.patient_id, line.enrollment_id)
                item += f' <a href="{notes_url}">Medical-necessity notes</a>'
            items.append(item + "</li>")
        reasons = f'<ul class="plain">{"".join(items)}</ul>'
    if line.note:
        reasons += f'<small class="muted">{escape(line.note)}</small>'
    cells += [
        f'<td class="nowrap">{mdy(line.date_of_service)}</td>',
        f'<td><a href="{patients_url}{line.patient_id}/">{patient}</a></td>',
        f"<td>{escape(str(PROGRAM_TYPES.get(line.program_type, line.program_type)))}</td>",
        f'<td class="nowrap">{escape(line.code)}{modifiers}</td>',
        f"<td>{number(line.units)}</td>",
        f"<td>{payer}</td>",
        f'<td class="nowrap">{amount}</td>',
        f"<td>{status}</td>",
        f"<td>{reasons}</td>",
    ]
    return f"<tr>{''.join(cells)}</tr>\n"
