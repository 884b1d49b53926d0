"""The patient list's rows: {% load patient_tags %}{% patient_rows page.object_list patients_url %}.

Written here rather than by a template loop: 25 rows of a dozen variables, filters and display methods each were
the larger part of the list's and the search's CPU (issue 11). Every value is escaped, as `{{ … }}` did.
"""

from django import template
from django.utils import timezone

from clinic.html_rows import escape, html_rows, mdy
from clinic.models import Patient
from clinic.prescriptions import age_on

register = template.Library()

SEXES, STATUSES = dict(Patient.Sex.choices), dict(Patient.Status.choices)  # get_sex_display(), get_status_display()


@register.simple_tag
def patient_rows(patients, patients_url: str):
    """Each patient as a row: name (a link to the chart: the list's URL plus the id), MRN, date of birth, age
    (Patient.age, with today's date looked up once), sex, payer and status."""
    url, today = escape(patients_url), timezone.localdate()
    return html_rows(patients, lambda p: _row(p, url, today))


def _row(p: Patient, url: str, today) -> str:
    return (
        f'<tr><td><a href="{url}{p.pk}/">{escape(p.last_name)}, {escape(p.first_name)}</a></td>'
        f'<td class="nowrap">{escape(p.mrn)}</td><td class="nowrap">{mdy(p.date_of_birth)}</td>'
        f'<td class="nowrap">{age_on(p.date_of_birth, today)}</td>'
        f'<td class="nowrap">{escape(SEXES.get(p.sex, p.sex))}</td><td>{escape(p.primary_payer or "—")}</td>'
        f'<td><span class="badge {escape(p.status)}">{escape(STATUSES.get(p.status, p.status))}</span></td></tr>\n'
    )
