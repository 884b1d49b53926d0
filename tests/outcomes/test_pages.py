"""The assessment pages, the chart's alert banner, the today page, and the measures and batteries pages."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import ClinicalAlert, Measure, Observation
from outcomes.models import Assessment, Battery
from tests.conftest import link_physician
from tests.outcomes.helpers import baseline_values, cr_enrollment, record, shared_battery


@pytest.fixture
def enrollment(patient_a):
    return cr_enrollment(patient_a)


def entry_url(enrollment, battery):
    return reverse("assessment_new", args=[enrollment.clinic.slug, enrollment.patient_id, enrollment.pk, battery.pk])


def form_data(battery, **values):
    data = {"timepoint": "baseline", "assessed_on": (timezone.localdate() - datetime.timedelta(1)).isoformat()}
    for item in battery.items.select_related("measure"):
        if item.measure.code in values:
            data[f"m{item.measure_id}"] = values[item.measure.code]
    return data


CR_VALUES = {"64098-7": "400", "44261-6": "3", "phq9-item9": "0", "29463-7": "176.4", "8302-2": "69.0"}


def test_physiologist_records_a_baseline_from_the_form_in_the_clinics_units(team_a, enrollment):
    battery = shared_battery()
    response = team_a["physiologist"].client.post(entry_url(enrollment, battery), form_data(battery, **CR_VALUES))
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    values = {
        o.measure.code: o.value
        for o in Observation.objects.filter(source_id=assessment.pk, source="assessment").select_related("measure")
    }
    assert values["29463-7"] == Decimal("80.014")  # 176.4 lb
    assert values["8302-2"] == Decimal("175.260")  # 69 in
    assert "39156-5" in values
    detail = team_a["physiologist"].client.get(response.url)
    assert b"Mild" not in detail.content and b"Minimal" in detail.content  # the PHQ-9 band is shown


def test_the_results_show_body_measures_in_the_clinics_units(team_a, enrollment):
    battery = shared_battery()
    response = team_a["physiologist"].client.post(entry_url(enrollment, battery), form_data(battery, **CR_VALUES))
    page = team_a["physiologist"].client.get(response.url).content.decode()
    assert "<strong>176.4</strong> lb" in page and "<strong>69.0</strong> in" in page
    assert "<strong>80.0</strong> kg" not in page


def test_an_invalid_form_saves_nothing_and_says_why(team_a, enrollment):
    battery = shared_battery()
    response = team_a["physiologist"].client.post(
        entry_url(enrollment, battery), form_data(battery, **{**CR_VALUES, "64098-7": "5000"})
    )
    assert response.status_code == 200
    assert "must be between 0 and 1200" in response.content.decode()
    assert not Assessment.objects.exists() and not Observation.objects.exists()


def test_the_chart_shows_an_urgent_banner_that_a_physiologist_acknowledges(team_a, enrollment):
    record(enrollment, team_a["physiologist"].membership, values=baseline_values(**{"phq9-item9": "2"}))
    chart = reverse("patient_detail", args=[enrollment.clinic.slug, enrollment.patient_id])
    page = team_a["physiologist"].client.get(chart).content.decode()
    assert "same-day follow-up" in page and "Acknowledge" in page
    assert "same-day follow-up" not in team_a["billing"].client.get(chart).content.decode()
    today = team_a["physiologist"].client.get(reverse("today", args=[enrollment.clinic.slug])).content.decode()
    assert "Urgent follow-up today" in today
    alert = ClinicalAlert.objects.get()
    url = reverse("alert_acknowledge", args=[enrollment.clinic.slug, alert.pk])
    team_a["physiologist"].client.post(url, {"note": "Spoke with the patient", "next": "today"})
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert "same-day follow-up" not in team_a["physiologist"].client.get(chart).content.decode()


def test_billing_cannot_acknowledge_an_alert(team_a, enrollment):
    record(enrollment, team_a["physiologist"].membership, values=baseline_values(**{"phq9-item9": "1"}))
    alert = ClinicalAlert.objects.get()
    url = reverse("alert_acknowledge", args=[enrollment.clinic.slug, alert.pk])
    assert team_a["billing"].client.post(url, {"note": "x"}).status_code == 404


def test_physician_reads_their_own_patients_assessments_only(team_a, enrollment):
    assessment = record(enrollment, team_a["physiologist"].membership)
    url = reverse(
        "assessment_detail", args=[enrollment.clinic.slug, enrollment.patient_id, enrollment.pk, assessment.pk]
    )
    physician = team_a["physician"]
    assert physician.client.get(url).status_code == 404
    link_physician(enrollment.patient, physician.membership)
    assert physician.client.get(url).status_code == 200
    assert physician.client.get(entry_url(enrollment, shared_battery())).status_code == 404


def test_the_assessment_list_stays_at_a_fixed_number_of_queries(team_a, enrollment, django_assert_max_num_queries):
    physiologist = team_a["physiologist"]
    record(enrollment, physiologist.membership)
    url = reverse("assessment_list", args=[enrollment.clinic.slug, enrollment.patient_id, enrollment.pk])
    physiologist.client.get(url)
    with django_assert_max_num_queries(30) as few:
        physiologist.client.get(url)
    for days in (20, 10, 5, 2):
        record(enrollment, physiologist.membership, timepoint="interim", days_ago=days)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert physiologist.client.get(url).status_code == 200


def test_admin_adds_a_measure_of_their_own_but_not_with_a_shared_code(team_a):
    admin = team_a["admin"]
    url = reverse("measure_create", args=[admin.clinic.slug])
    data = {"code": "64098-7", "name": "Walk", "unit": "m", "category": "functional", "decimal_places": 0,
            "direction": "higher", "mcid_kind": "absolute", "is_active": "on"}  # fmt: skip
    response = admin.client.post(url, data)
    assert "shared measure" in response.content.decode()
    assert admin.client.post(url, {**data, "code": "shuttle-walk"}).status_code == 302
    assert Measure.objects.get(clinic=admin.clinic).code == "shuttle-walk"
    shared = Measure.objects.get(clinic=None, code="tug")
    edit = admin.client.post(reverse("measure_edit", args=[admin.clinic.slug, shared.pk]), {**data, "code": "x"})
    assert edit.status_code == 302
    assert Measure.objects.get(pk=shared.pk).code == "tug"


def test_admin_copies_a_shared_battery_and_reorders_and_removes_measures(team_a):
    admin = team_a["admin"]
    shared = shared_battery("falls_prevention")
    response = admin.client.post(reverse("battery_copy", args=[admin.clinic.slug, shared.pk]))
    copy = Battery.objects.get(clinic=admin.clinic)
    assert response.url == reverse("battery_edit", args=[admin.clinic.slug, copy.pk])
    items = list(copy.items.select_related("measure"))
    tug, chair, *rest = items
    data = {"name": "Falls screen", "timepoints": ["baseline", "discharge"], "is_active": "on",
            f"item-{tug.measure_id}-order": "9", f"item-{chair.measure_id}-order": "1",
            f"item-{rest[0].measure_id}-remove": "on"}  # fmt: skip
    for item in rest[1:]:
        data[f"item-{item.measure_id}-order"] = str(item.order)
    admin.client.post(reverse("battery_edit", args=[admin.clinic.slug, copy.pk]), data)
    copy.refresh_from_db()
    codes = list(copy.items.order_by("order").values_list("measure__code", flat=True))
    assert codes[0] == "chair-stand-30s" and codes[-1] == "tug" and rest[0].measure.code not in codes
    assert copy.timepoints == ["baseline", "discharge"]
    listed = admin.client.get(reverse("battery_list", args=[admin.clinic.slug])).context["batteries"]
    falls = [b.name for b in listed if b.program_type == "falls_prevention"]
    assert falls == ["Falls screen"]  # the copy stands in for the default
