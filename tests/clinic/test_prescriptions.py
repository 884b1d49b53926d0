"""Exercise prescriptions (FITT-VP): target heart rates, precautions, versions, pages and access."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic import prescriptions as rx
from clinic.models import AuditEntry, Enrollment, ExercisePrescription, HrMaxMethod, PrescriptionComponent
from tests.conftest import link_physician, make_member, make_patient, make_program, run_at_once

Intensity = PrescriptionComponent.Intensity


def born_years_ago(years: int) -> datetime.date:
    """A birthday on 1 January, so the age is exactly `years` on any day of this year."""
    return datetime.date(timezone.localdate().year - years, 1, 1)


def make_enrollment(patient, **precautions) -> Enrollment:
    program = make_program(patient.clinic, "cr", name=f"CR {patient.mrn}")
    return Enrollment.objects.create(
        clinic=patient.clinic, patient=patient, program=program, start_date=timezone.localdate(), **precautions
    )


AEROBIC_HRR = {"intensity_method": Intensity.HRR, "intensity_low": Decimal(40), "intensity_high": Decimal(60),
               "frequency_per_week": 3, "minutes": 30, "modality": "Treadmill walking"}  # fmt: skip
RESISTANCE = {"intensity_method": Intensity.RPE, "intensity_low": Decimal(11), "intensity_high": Decimal(13),
              "frequency_per_week": 2, "sets": 2, "reps": 12, "modality": "Machines, 8 exercises"}  # fmt: skip


def save(enrollment, actor, *, data=None, components=None, based_on_version=None):
    return rx.prescription_save(
        clinic=enrollment.clinic, actor=actor, enrollment=enrollment,
        data=data if data is not None else {"resting_hr": 70, "hr_max_method": HrMaxMethod.AGE},
        components=components if components is not None else {"aerobic": AEROBIC_HRR},
        based_on_version=based_on_version,
    )  # fmt: skip


@pytest.fixture
def sixty(clinic_a):
    return make_patient(clinic_a, "RX-60", first_name="Sam", last_name="Sixty", date_of_birth=born_years_ago(60))


@pytest.fixture
def enrollment(sixty):
    return make_enrollment(sixty)


@pytest.fixture
def physiologist(team_a):
    return team_a["physiologist"]


def aerobic_of(prescription) -> PrescriptionComponent:
    return prescription.components.get(kind="aerobic")


# --- The calculations ---------------------------------------------------------------------------


def test_karvonen_at_40_to_60_percent_for_a_60_year_old_resting_at_70_gives_106_to_124():
    hr_max = rx.hr_max_for(HrMaxMethod.AGE, age=60)
    assert hr_max == 160
    assert rx.karvonen(resting_hr=70, hr_max=hr_max, percent=40) == 106
    assert rx.karvonen(resting_hr=70, hr_max=hr_max, percent=60) == 124


def test_hr_max_220_minus_age():
    assert rx.hr_max_for(HrMaxMethod.AGE, age=45) == 175


def test_hr_max_tanaka_is_208_minus_0_7_times_age():
    assert rx.hr_max_for(HrMaxMethod.TANAKA, age=60) == 166


def test_hr_max_gellish_is_207_minus_0_7_times_age():
    assert rx.hr_max_for(HrMaxMethod.GELLISH, age=60) == 165


def test_hr_max_estimates_round_half_up():
    assert rx.hr_max_for(HrMaxMethod.TANAKA, age=55) == 170  # 169.5
    assert rx.hr_max_for(HrMaxMethod.GELLISH, age=55) == 169  # 168.5


def test_measured_hr_max_is_the_measured_peak_whatever_the_age():
    assert rx.hr_max_for(HrMaxMethod.MEASURED, age=60, measured=142) == 142


def test_percent_of_hr_max_range():
    target = rx.target_range(
        method=Intensity.HRMAX, low=64, high=76, resting_hr=None, hr_max=160, ceiling=None
    )  # fmt: skip
    assert (target.low, target.high, target.capped) == (102, 122, False)


def test_the_ceiling_caps_the_high_end_of_the_range_and_says_so():
    target = rx.target_range(method=Intensity.HRR, low=40, high=60, resting_hr=70, hr_max=160, ceiling=115)
    assert (target.low, target.high) == (106, 115)
    assert (target.computed_low, target.computed_high) == (106, 124)
    assert target.capped


def test_age_is_counted_in_whole_years_up_to_the_birthday():
    dob = datetime.date(1960, 6, 15)
    assert rx.age_on(dob, datetime.date(2020, 6, 14)) == 59
    assert rx.age_on(dob, datetime.date(2020, 6, 15)) == 60


def test_rpe_has_no_heart_rate_target():
    assert rx.target_range(method=Intensity.RPE, low=11, high=13, resting_hr=70, hr_max=160, ceiling=None) is None


# --- Saving: targets, precautions -----------------------------------------------------------------


def test_saving_computes_the_karvonen_range_from_the_age_on_the_prescription_date(enrollment, physiologist):
    prescription = save(enrollment, physiologist.membership)
    aerobic = aerobic_of(prescription)
    assert (aerobic.target_hr_low, aerobic.target_hr_high) == (106, 124)
    assert prescription.hr_max_method == HrMaxMethod.AGE


@pytest.mark.parametrize(
    ("method", "measured", "expected"),
    [(HrMaxMethod.AGE, None, (106, 124)), (HrMaxMethod.TANAKA, None, (108, 128)),
     (HrMaxMethod.GELLISH, None, (108, 127)), (HrMaxMethod.MEASURED, 140, (98, 112))],
)  # fmt: skip
def test_each_hr_max_method_is_recorded_and_used(enrollment, physiologist, method, measured, expected):
    data = {"resting_hr": 70, "hr_max_method": method, "hr_max_measured": measured}
    prescription = save(enrollment, physiologist.membership, data=data)
    prescription.refresh_from_db()
    assert prescription.hr_max_method == method
    aerobic = aerobic_of(prescription)
    assert (aerobic.target_hr_low, aerobic.target_hr_high) == expected


def test_the_hr_ceiling_caps_the_saved_target(sixty, physiologist):
    enrollment = make_enrollment(sixty, hr_ceiling=115)
    aerobic = aerobic_of(save(enrollment, physiologist.membership))
    assert (aerobic.target_hr_low, aerobic.target_hr_high) == (106, 115)


def test_a_range_wholly_above_the_ceiling_is_refused(sixty, physiologist):
    enrollment = make_enrollment(sixty, hr_ceiling=100)
    with pytest.raises(ValidationError, match="above this patient's heart-rate ceiling of 100 bpm"):
        save(enrollment, physiologist.membership)
    assert not ExercisePrescription.objects.exists()


@pytest.mark.parametrize("method", [Intensity.HRR, Intensity.HRMAX, Intensity.TARGET_HR])
def test_a_beta_blocker_refuses_heart_rate_based_aerobic_intensity_and_suggests_rpe(sixty, physiologist, method):
    enrollment = make_enrollment(sixty, beta_blocker=True)
    aerobic = {**AEROBIC_HRR, "intensity_method": method, "intensity_low": 100, "intensity_high": 110}
    with pytest.raises(ValidationError) as refused:
        save(enrollment, physiologist.membership, components={"aerobic": aerobic})
    message = refused.value.message_dict["aerobic.intensity_method"][0]
    assert "beta-blocker" in message and "RPE" in message
    assert not ExercisePrescription.objects.exists()


def test_a_beta_blocker_allows_rpe_for_aerobic_work(sixty, physiologist):
    enrollment = make_enrollment(sixty, beta_blocker=True)
    aerobic = {**AEROBIC_HRR, "intensity_method": Intensity.RPE, "intensity_low": 11, "intensity_high": 13}
    prescription = save(enrollment, physiologist.membership, components={"aerobic": aerobic})
    assert aerobic_of(prescription).target_hr_low is None


def test_heart_rate_reserve_needs_a_resting_heart_rate(enrollment, physiologist):
    with pytest.raises(ValidationError) as refused:
        save(enrollment, physiologist.membership, data={"hr_max_method": HrMaxMethod.AGE})
    assert "Karvonen" in refused.value.message_dict["resting_hr"][0]


def test_measured_hr_max_needs_the_measured_peak(enrollment, physiologist):
    with pytest.raises(ValidationError) as refused:
        save(enrollment, physiologist.membership, data={"resting_hr": 70, "hr_max_method": HrMaxMethod.MEASURED})
    assert "peak heart rate" in refused.value.message_dict["hr_max_measured"][0]


def test_rpe_outside_6_to_20_is_refused(enrollment, physiologist):
    resistance = {**RESISTANCE, "intensity_low": 4}
    with pytest.raises(ValidationError) as refused:
        save(enrollment, physiologist.membership, components={"resistance": resistance})
    assert "6–20" in refused.value.message_dict["resistance.intensity_low"][0]


def test_an_intensity_that_does_not_suit_the_component_is_refused(enrollment, physiologist):
    resistance = {**RESISTANCE, "intensity_method": Intensity.HRR, "intensity_low": 40}
    with pytest.raises(ValidationError) as refused:
        save(enrollment, physiologist.membership, components={"resistance": resistance})
    assert "does not suit resistance work" in refused.value.message_dict["resistance.intensity_method"][0]


def test_sets_without_repetitions_are_refused(enrollment, physiologist):
    resistance = {**RESISTANCE, "reps": None}
    with pytest.raises(ValidationError) as refused:
        save(enrollment, physiologist.membership, components={"resistance": resistance})
    assert "both sets and repetitions" in refused.value.message_dict["resistance.reps"][0]


def test_a_prescription_without_any_component_is_refused(enrollment, physiologist):
    with pytest.raises(ValidationError, match="at least one component"):
        save(enrollment, physiologist.membership, components={"aerobic": {}})


def test_a_discharged_enrollments_prescription_cannot_change(sixty, physiologist):
    enrollment = make_enrollment(sixty, status=Enrollment.Status.DISCHARGED)
    with pytest.raises(ValidationError, match="can be read, not changed"):
        save(enrollment, physiologist.membership)


# --- Versions -----------------------------------------------------------------------------------


def test_a_new_version_supersedes_the_previous_one_which_stays_readable(enrollment, physiologist):
    first = save(enrollment, physiologist.membership)
    second = save(enrollment, physiologist.membership, components={"resistance": RESISTANCE}, based_on_version=1)
    first.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert first.superseded_at is not None and second.superseded_at is None
    assert rx.prescription_current(enrollment=enrollment).pk == second.pk
    assert aerobic_of(rx.prescription_get(enrollment=enrollment, version=1)).target_hr_high == 124


def test_a_save_started_from_an_old_version_is_refused_and_asks_to_reload(enrollment, physiologist):
    save(enrollment, physiologist.membership, based_on_version=0)
    save(enrollment, physiologist.membership, based_on_version=1)
    with pytest.raises(ValidationError, match="Someone else just saved version 2 .* Reload"):
        save(enrollment, physiologist.membership, based_on_version=1)
    assert ExercisePrescription.objects.count() == 2


def test_concurrent_saves_from_the_same_version_leave_exactly_one_current_version(transactional_db, team_a):
    patient = make_patient(team_a["admin"].clinic, "RX-RACE", date_of_birth=born_years_ago(60))
    enrollment = make_enrollment(patient)
    outcomes = []

    def write():
        try:
            save(enrollment, team_a["physiologist"].membership, based_on_version=0)
            outcomes.append("saved")
        except ValidationError as error:
            outcomes.append(error.messages[0])

    run_at_once(write, times=6)
    assert outcomes.count("saved") == 1
    assert all("Someone else just saved version 1" in o for o in outcomes if o != "saved")
    assert ExercisePrescription.objects.filter(enrollment=enrollment, superseded_at__isnull=True).count() == 1


def test_concurrent_saves_without_a_base_version_take_turns_and_leave_one_current(transactional_db, team_a):
    patient = make_patient(team_a["admin"].clinic, "RX-RACE2", date_of_birth=born_years_ago(60))
    enrollment = make_enrollment(patient)
    run_at_once(lambda: save(enrollment, team_a["physiologist"].membership), times=6)
    versions = ExercisePrescription.objects.filter(enrollment=enrollment)
    assert sorted(versions.values_list("version", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert list(versions.filter(superseded_at__isnull=True).values_list("version", flat=True)) == [6]


def test_current_prescriptions_of_many_enrollments_take_two_queries(clinic_a, physiologist, django_assert_num_queries):
    enrollments = [
        make_enrollment(make_patient(clinic_a, f"RX-{i}", date_of_birth=born_years_ago(60))) for i in range(5)
    ]
    for enrollment in enrollments[:4]:
        save(enrollment, physiologist.membership)
        save(enrollment, physiologist.membership)
    with django_assert_num_queries(2):
        current = rx.current_prescriptions(clinic=clinic_a, enrollment_ids=[e.pk for e in enrollments])
        highs = {pk: [c.target_hr_high for c in p.components.all()] for pk, p in current.items()}
    assert highs == {e.pk: [124] for e in enrollments[:4]}
    assert all(p.version == 2 for p in current.values())


# --- Pages --------------------------------------------------------------------------------------


def page_url(name, enrollment, **kwargs):
    return reverse(name, args=[enrollment.clinic.slug, enrollment.patient_id, enrollment.pk, *kwargs.values()])


def form_post(**overrides) -> dict:
    data = {"based_on_version": 0, "resting_hr": 70, "hr_max_method": "220_age", "hr_max_measured": "", "notes": "",
            "aerobic-frequency_per_week": 3, "aerobic-intensity_method": "pct_hrr", "aerobic-intensity_low": 40,
            "aerobic-intensity_high": 60, "aerobic-minutes": 30, "aerobic-modality": "Treadmill, bike"}  # fmt: skip
    return {**data, **overrides}


def test_physiologist_saves_a_prescription_through_the_form(enrollment, physiologist):
    response = physiologist.client.post(page_url("prescription_edit", enrollment), form_post())
    assert response.status_code == 302
    page = physiologist.client.get(response.url)
    assert b"106\xe2\x80\x93124 bpm" in page.content  # 106–124 bpm
    assert b"Prescription version 1 saved." in page.content


def test_the_form_shows_the_beta_blocker_refusal_on_the_intensity_field(sixty, physiologist):
    enrollment = make_enrollment(sixty, beta_blocker=True)
    response = physiologist.client.post(page_url("prescription_edit", enrollment), form_post())
    assert response.status_code == 200
    assert "beta-blocker" in str(response.context["component_forms"][0].errors["intensity_method"])
    assert "takes a beta-blocker" in str(response.context["preview"].errors)  # the preview says the same
    assert not ExercisePrescription.objects.exists()


def test_the_form_shows_a_reload_message_when_someone_saved_first(enrollment, physiologist):
    save(enrollment, physiologist.membership)
    response = physiologist.client.post(page_url("prescription_edit", enrollment), form_post(based_on_version=0))
    assert "Someone else just saved version 1" in str(response.context["form"].non_field_errors())


def test_the_preview_computes_the_target_range_as_the_form_is_filled_and_saves_nothing(enrollment, physiologist):
    response = physiologist.client.post(page_url("prescription_preview", enrollment), form_post())
    content = response.content.decode()
    assert "106–124 bpm" in content and "160 bpm" in content and "<html" not in content
    assert not ExercisePrescription.objects.exists()


def test_the_preview_shows_the_beta_blocker_refusal_before_saving(sixty, physiologist):
    enrollment = make_enrollment(sixty, beta_blocker=True)
    content = physiologist.client.post(page_url("prescription_preview", enrollment), form_post()).content.decode()
    assert "takes a beta-blocker" in content and "bpm</strong>" not in content


def test_the_form_shows_the_current_versions_targets_beside_it(enrollment, physiologist):
    save(enrollment, physiologist.membership)
    response = physiologist.client.get(page_url("prescription_edit", enrollment))
    assert response.context["preview"].targets["Aerobic"].high == 124
    assert response.context["form"]["based_on_version"].value() == 1


def test_precautions_show_beside_the_form_and_on_the_prescription(sixty, physiologist):
    enrollment = make_enrollment(sixty, supplemental_oxygen=True, precaution_notes="Left knee replacement")
    for name in ("prescription_edit", "prescription_detail"):
        content = physiologist.client.get(page_url(name, enrollment)).content.decode()
        assert "Supplemental oxygen" in content and "Left knee replacement" in content


def test_the_prescription_page_says_when_the_ceiling_capped_the_target(sixty, physiologist):
    enrollment = make_enrollment(sixty, hr_ceiling=115)
    save(enrollment, physiologist.membership)
    content = physiologist.client.get(page_url("prescription_detail", enrollment)).content.decode()
    assert "106–115 bpm" in content and "capped at ceiling 115 bpm" in content and "computed 106–124 bpm" in content


def test_an_old_version_stays_readable_with_a_superseded_notice(enrollment, physiologist):
    save(enrollment, physiologist.membership)
    save(enrollment, physiologist.membership, components={"resistance": RESISTANCE})
    content = physiologist.client.get(page_url("prescription_version", enrollment, version=1)).content.decode()
    assert "superseded on" in content and "106–124 bpm" in content


def test_the_history_lists_every_version(enrollment, physiologist):
    for _ in range(3):
        save(enrollment, physiologist.membership)
    response = physiologist.client.get(page_url("prescription_history", enrollment))
    assert [version.version for version, _ in response.context["rows"]] == [3, 2, 1]


def test_the_history_page_query_count_does_not_grow_with_versions(enrollment, physiologist):
    client, url = physiologist.client, page_url("prescription_history", enrollment)
    save(enrollment, physiologist.membership, components={"aerobic": AEROBIC_HRR, "resistance": RESISTANCE})
    client.get(url)  # warm the content-type cache
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(9):
        save(enrollment, physiologist.membership, components={"aerobic": AEROBIC_HRR, "resistance": RESISTANCE})
    with CaptureQueriesContext(connection) as ten:
        assert client.get(url).status_code == 200
    assert len(ten) == len(one) <= 16


def test_the_patient_copy_shows_clinic_patient_and_plain_language(sixty, physiologist, clinic_a):
    clinic_a.phone = "(555) 201-4400"
    clinic_a.save()
    enrollment = make_enrollment(sixty, supplemental_oxygen=True)
    save(enrollment, physiologist.membership, components={"aerobic": AEROBIC_HRR, "resistance": RESISTANCE})
    content = physiologist.client.get(page_url("prescription_print", enrollment, version=1)).content.decode()
    expected = [
        "Alpha Clinic", "(555) 201-4400", "Sam Sixty", "3 days a week", "106 to 124 beats per minute",
        "Effort 11–13 on the 6–20 scale", "2 sets of 12 repetitions", "oxygen", "prescription-print.css",
    ]  # fmt: skip
    for text in expected:
        assert text in content, text
    assert "heart-rate reserve" not in content  # the patient gets the target heart rate, not the method


def test_reading_a_prescription_is_audited_under_the_patient(enrollment, physiologist):
    prescription = save(enrollment, physiologist.membership)
    physiologist.client.get(page_url("prescription_detail", enrollment))
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS, object_pk=str(prescription.pk)).get()
    assert entry.patient_id == enrollment.patient_id and entry.actor == physiologist.user


def test_the_chart_links_each_enrollment_to_its_prescription(enrollment, physiologist):
    chart = physiologist.client.get(reverse("patient_detail", args=[enrollment.clinic.slug, enrollment.patient_id]))
    assert page_url("prescription_detail", enrollment) in chart.content.decode()


def test_billing_gets_no_prescription_link_on_the_chart(enrollment, team_a):
    chart_url = reverse("patient_detail", args=[enrollment.clinic.slug, enrollment.patient_id])
    chart = team_a["billing"].client.get(chart_url)
    assert page_url("prescription_detail", enrollment) not in chart.content.decode()


# --- Who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("admin", 200, 200), ("physiologist", 200, 200), ("physician", 404, 404), ("billing", 404, 404)],
)
def test_roles_on_a_patient_the_physician_did_not_refer(role, read, write, enrollment, team_a):
    client = team_a[role].client
    assert client.get(page_url("prescription_detail", enrollment)).status_code == read
    assert client.get(page_url("prescription_edit", enrollment)).status_code == write


def test_physician_reads_the_prescription_of_their_own_patient_but_cannot_write_it(enrollment, team_a):
    physician = team_a["physician"]
    link_physician(enrollment.patient, physician.membership)
    save(enrollment, team_a["physiologist"].membership)
    assert physician.client.get(page_url("prescription_detail", enrollment)).status_code == 200
    assert physician.client.get(page_url("prescription_print", enrollment, version=1)).status_code == 200
    assert physician.client.get(page_url("prescription_edit", enrollment)).status_code == 404
    assert b"New version" not in physician.client.get(page_url("prescription_detail", enrollment)).content


def test_physician_cannot_read_another_physicians_patients_prescription(enrollment, team_a):
    other = make_member(enrollment.clinic, "physician", email="other-doc@alpha.test")
    link_physician(enrollment.patient, other)
    assert team_a["physician"].client.get(page_url("prescription_detail", enrollment)).status_code == 404


def test_an_enrollment_under_another_patients_id_is_a_404(enrollment, physiologist, clinic_a):
    other = make_patient(clinic_a, "RX-OTHER")
    url = reverse("prescription_detail", args=[clinic_a.slug, other.pk, enrollment.pk])
    assert physiologist.client.get(url).status_code == 404


def test_another_clinics_enrollment_is_a_404(enrollment, team_b):
    admin_b = team_b["admin"]
    url = reverse("prescription_detail", args=[admin_b.clinic.slug, enrollment.patient_id, enrollment.pk])
    assert admin_b.client.get(url).status_code == 404


# --- API ----------------------------------------------------------------------------------------


def api_url(enrollment, version=None):
    if version is None:
        return reverse("api-prescription-list", args=[enrollment.clinic.slug, enrollment.pk])
    return reverse("api-prescription-detail", args=[enrollment.clinic.slug, enrollment.pk, version])


API_BODY = {"resting_hr": 70, "hr_max_method": "220_age",
            "components": [{"kind": "aerobic", "intensity_method": "pct_hrr", "intensity_low": "40",
                            "intensity_high": "60", "minutes": 30, "frequency_per_week": 3}]}  # fmt: skip


def test_api_create_saves_a_new_version_and_list_shows_every_version(enrollment, physiologist):
    client = physiologist.client
    first = client.post(api_url(enrollment), API_BODY, content_type="application/json")
    assert first.status_code == 201, first.json()
    assert first.json()["components"][0]["target_hr_low"] == 106 and first.json()["hr_max"] == 160
    second = client.post(api_url(enrollment), {**API_BODY, "based_on_version": 1}, content_type="application/json")
    assert second.json()["version"] == 2 and second.json()["is_current"]
    listed = client.get(api_url(enrollment)).json()["results"]
    assert [(row["version"], row["is_current"]) for row in listed] == [(2, True), (1, False)]
    assert client.get(api_url(enrollment, 1)).json()["superseded_at"] is not None


def test_api_refuses_heart_rate_intensity_for_a_patient_on_a_beta_blocker(sixty, physiologist):
    enrollment = make_enrollment(sixty, beta_blocker=True)
    response = physiologist.client.post(api_url(enrollment), API_BODY, content_type="application/json")
    assert response.status_code == 400
    assert "beta-blocker" in response.json()["errors"]["aerobic.intensity_method"][0]


def test_api_stale_version_is_a_clear_400(enrollment, physiologist):
    save(enrollment, physiologist.membership)
    body = {**API_BODY, "based_on_version": 0}
    response = physiologist.client.post(api_url(enrollment), body, content_type="application/json")
    assert response.status_code == 400
    assert "Reload" in response.json()["errors"]["non_field_errors"][0]


def test_api_caps_and_reports_the_capped_target(sixty, physiologist):
    enrollment = make_enrollment(sixty, hr_ceiling=115)
    data = physiologist.client.post(api_url(enrollment), API_BODY, content_type="application/json").json()
    assert (data["components"][0]["target_hr_high"], data["components"][0]["target_hr_capped"]) == (115, True)


@pytest.mark.parametrize(("role", "status"), [("physician", 404), ("billing", 404), ("admin", 200)])
def test_api_reads_follow_the_role_table(role, status, enrollment, team_a):
    assert team_a[role].client.get(api_url(enrollment)).status_code == status


def test_api_physician_reads_own_patient_but_cannot_create(enrollment, team_a):
    physician = team_a["physician"]
    link_physician(enrollment.patient, physician.membership)
    assert physician.client.get(api_url(enrollment)).status_code == 200
    assert physician.client.post(api_url(enrollment), API_BODY, content_type="application/json").status_code == 404


def test_openapi_schema_documents_the_prescription_endpoints(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    path = "/api/v1/clinics/{clinic_slug}/enrollments/{enrollment_id}/prescriptions/"
    assert {"get", "post"} <= set(schema["paths"][path])
    assert "get" in schema["paths"][path + "{version}/"]
