"""The outcomes API: measures, batteries, assessments and observations, by role and clinic."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import ClinicalAlert, Observation
from outcomes.models import Assessment
from tests.conftest import link_physician
from tests.outcomes.helpers import cr_enrollment, record, shared_battery


@pytest.fixture
def enrollment(patient_a):
    return cr_enrollment(patient_a)


def body(enrollment, **changes):
    data = {
        "enrollment": enrollment.pk, "battery": shared_battery().pk, "timepoint": "baseline",
        "assessed_on": (timezone.localdate() - datetime.timedelta(1)).isoformat(),
        "values": [{"measure": "64098-7", "value": "410"}, {"measure": "44261-6", "value": "4"},
                   {"measure": "phq9-item9", "value": "1"}, {"measure": "29463-7", "value": "180.0", "unit": "[lb_av]"},
                   {"measure": "8302-2", "value": "170.0"}],
    }  # fmt: skip
    data.update(changes)
    return data


def post(persona, data):
    url = reverse("api-assessment-list", args=[persona.clinic.slug])
    return persona.client.post(url, data, content_type="application/json")


def test_physiologist_records_an_assessment_with_computed_values_and_an_alert(team_a, enrollment):
    response = post(team_a["physiologist"], body(enrollment))
    assert response.status_code == 201, response.json()
    results = {row["code"]: row for row in response.json()["results"]}
    assert results["29463-7"]["value"] == "81.647" and results["29463-7"]["unit"] == "kg"
    assert results["39156-5"]["computed"] and results["39156-5"]["value"] == "28.300"
    assert results["44261-6"]["band"] == "Minimal"
    assert ClinicalAlert.objects.filter(source_id=response.json()["id"]).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"assessed_on": "2020-01-01"}, "assessed_on"),
        ({"values": [{"measure": "64098-7", "value": "410", "unit": "[mi_i]"}, {"measure": "44261-6", "value": "4"},
                     {"measure": "phq9-item9", "value": "0"}]}, "64098-7"),
        ({"values": [{"measure": "64098-7", "value": "-5"}, {"measure": "44261-6", "value": "4"},
                     {"measure": "phq9-item9", "value": "0"}]}, "64098-7"),
    ],
    ids=["before the enrollment", "a unit the measure does not take", "out of range"],
)  # fmt: skip
def test_bad_input_is_a_400_that_saves_nothing(team_a, enrollment, changes, field):
    response = post(team_a["physiologist"], body(enrollment, **changes))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Assessment.objects.exists() and not Observation.objects.exists()


def test_billing_and_physicians_cannot_record(team_a, enrollment):
    link_physician(enrollment.patient, team_a["physician"].membership)
    assert post(team_a["billing"], body(enrollment)).status_code == 404
    assert post(team_a["physician"], body(enrollment)).status_code == 404


def test_physician_lists_only_their_own_patients_assessments(team_a, enrollment, patient_a):
    from tests.conftest import make_patient

    other = cr_enrollment(make_patient(patient_a.clinic, "A-200", first_name="Other"))
    record(enrollment, team_a["physiologist"].membership)
    record(other, team_a["physiologist"].membership)
    physician = team_a["physician"]
    link_physician(enrollment.patient, physician.membership)
    rows = physician.client.get(reverse("api-assessment-list", args=[physician.clinic.slug])).json()["results"]
    assert [row["patient"] for row in rows] == [enrollment.patient_id]
    observations = physician.client.get(reverse("api-observation-list", args=[physician.clinic.slug])).json()
    assert {row["patient"] for row in observations["results"]} == {enrollment.patient_id}


def test_billing_reads_no_assessments_or_observations(team_a):
    billing = team_a["billing"]
    assert billing.client.get(reverse("api-assessment-list", args=[billing.clinic.slug])).status_code == 404
    assert billing.client.get(reverse("api-observation-list", args=[billing.clinic.slug])).status_code == 404


def test_another_clinics_assessment_is_a_404(team_a, team_b, patient_b):
    assessment = record(cr_enrollment(patient_b), team_b["physiologist"].membership)
    admin = team_a["admin"]
    url = reverse("api-assessment-detail", args=[admin.clinic.slug, assessment.pk])
    assert admin.client.get(url).status_code == 404


def test_observations_filter_by_measure_and_source(team_a, enrollment):
    record(enrollment, team_a["physiologist"].membership)
    walk = Observation.objects.get(measure__code="64098-7")
    admin = team_a["admin"]
    url = reverse("api-observation-list", args=[admin.clinic.slug])
    rows = admin.client.get(url, {"measure": walk.measure_id, "source": "assessment"}).json()["results"]
    assert [row["id"] for row in rows] == [walk.pk]
    assert admin.client.get(url, {"source": "nope"}).status_code == 400


def test_assessment_and_observation_lists_stay_at_a_fixed_number_of_queries(
    team_a, enrollment, django_assert_max_num_queries
):
    physiologist = team_a["physiologist"]
    record(enrollment, physiologist.membership)
    for name in ("api-assessment-list", "api-observation-list", "api-battery-list", "api-measure-list"):
        url = reverse(name, args=[physiologist.clinic.slug])
        physiologist.client.get(url)
        with django_assert_max_num_queries(25) as few:
            physiologist.client.get(url)
        for days in (20, 10, 5):
            record(enrollment, physiologist.membership, timepoint="interim", days_ago=days)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert physiologist.client.get(url).status_code == 200


def test_admin_adds_a_measure_through_the_api_but_not_a_shared_code(team_a):
    admin = team_a["admin"]
    url = reverse("api-measure-list", args=[admin.clinic.slug])
    data = {"code": "tug", "name": "Mine", "unit": "s"}
    refused = admin.client.post(url, data, content_type="application/json")
    assert refused.status_code == 400 and "code" in refused.json()["errors"]
    created = admin.client.post(url, {**data, "code": "my-tug"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["shared"] is False
    physiologist = team_a["physiologist"]
    assert physiologist.client.post(url, {**data, "code": "x"}, content_type="application/json").status_code == 404
