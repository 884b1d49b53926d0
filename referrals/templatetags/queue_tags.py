"""The referral queue's rows: {% load queue_tags %}{% queue_rows page.object_list queue_url overdue_cutoff %}.

Written here rather than by a template loop: 25 rows of some 15 variables, conditions and filters each were
most of the queue's rendering (issue 11). A row is a dict of selectors.REFERRAL_QUEUE_COLUMNS. Every value is
escaped, as `{{ … }}` did.
"""

from django import template
from django.utils import timezone

from clinic.html_rows import escape, html_rows, local_mdy
from referrals.models import Referral, ReferringProvider
from referrals.templatetags.ago import ago

register = template.Library()

STATUSES = dict(Referral.Status.choices)  # referral.get_status_display()


@register.simple_tag
def queue_rows(referrals, queue_url: str, overdue_cutoff):
    """Each referral as a row: received, patient (a link to the referral: the queue's URL plus the id), program,
    provider, urgency, status and last action; an open referral whose last action is before the cutoff is
    marked overdue."""
    url, now = escape(queue_url), timezone.now()
    return html_rows(referrals, lambda r: _row(r, url, overdue_cutoff, now))


def _row(r: dict, url: str, overdue_cutoff, now) -> str:
    status = r["status"]
    overdue = status in Referral.OPEN_STATUSES and r["last_action_at"] < overdue_cutoff
    duplicate = '<span class="badge warn">Possible duplicate</span>' if r["possible_duplicate"] else ""
    provider = ReferringProvider.display_name(
        r["referring_provider__first_name"], r["referring_provider__last_name"], r["referring_provider__credentials"]
    )
    urgency = '<span class="badge urgent">Urgent</span>' if r["urgency"] == Referral.Urgency.URGENT else "Routine"
    late = ' <strong class="warn">overdue</strong>' if overdue else ""
    return (
        f'<tr class="{"overdue" if overdue else ""}"><td class="nowrap">{local_mdy(r["created_at"])}</td>'
        f'<td><a href="{url}{r["id"]}/">{escape(r["patient_last_name"])}, {escape(r["patient_first_name"])}</a>'
        f" {duplicate}</td><td>{escape(r['program__name'])}</td><td>{escape(provider)}</td>"
        f'<td class="nowrap">{urgency}</td>'
        f'<td><span class="badge status-{escape(status)}">{escape(STATUSES.get(status, status))}</span></td>'
        f"<td>{ago(r['last_action_at'], now)}{late}</td></tr>\n"
    )
