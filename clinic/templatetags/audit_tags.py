"""The audit trail's rows: {% load audit_tags %}{% audit_rows rows %}.

Written here rather than by a template loop: 50 rows of about 15 variables, filters and a date each were about
half of the page's CPU (issue 11: the page went from 17 to 11 ms in process, bench-big's admin). Every value is
escaped, as `{{ … }}` did.
"""

from django import template
from django.utils import timezone
from django.utils.text import Truncator

from clinic.html_rows import escape, html_rows
from clinic.models import AuditEntry

register = template.Library()


EVENTS = dict(AuditEntry.Event.choices)  # entry.get_event_display()


@register.simple_tag
def audit_rows(rows) -> str:
    """Each auditformat.ReadableEntry as a table row: when, who, action, record (a link to the patient's trail
    when it names one), details (the changes, or the access entry's note) and the IP address."""
    return html_rows(rows, _row)


def _row(row) -> str:
    e = row.entry
    when = timezone.localtime(e.timestamp).strftime("%m/%d/%Y %H:%M:%S")  # |date:"m/d/Y H:i:s"
    record = escape(e.object_repr)
    if e.patient_id:
        record = f'<a href="?patient={e.patient_id}">{record}</a>'
    if row.changes:
        count = len(row.changes)
        fields = "".join(
            f"<div><dt>{escape(str(c.field))}</dt><dd>{escape(c.old)} → {escape(c.new)}</dd></div>" for c in row.changes
        )
        details = (
            f'<details class="changes"><summary>{count} field{"" if count == 1 else "s"}: '
            f"{escape(Truncator(row.field_names).chars(60))}</summary><dl>{fields}</dl></details>"
        )
    else:
        details = escape(e.changes_text)
    return (
        f"<tr><td>{when}</td><td>{escape(row.actor)}</td>"
        f'<td><span class="event {escape(e.event)}">{escape(EVENTS.get(e.event, e.event))}</span></td>'
        f'<td>{record}</td><td class="details">{details}</td><td>{escape(e.remote_addr or "")}</td></tr>\n'
    )
