"""The floor sheet's session log: ranges, edit conflicts, units, observations, first session, holds and
overrides, the pages and the API."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEntry, Clinic, Enrollment, Measure, Observation
from scheduling import floorsheet
from scheduling.floorsheet_forms import RowForm
from scheduling.models import SafetyFlag, SessionLog
from tests.conftest import link_physician, make_member, make_program
from tests.scheduling.factories import (
    class_of,
    ensure_reference_data,
    make_booking,
    make_enrollment,
    make_occurrence,
    make_prescription,
)


@pytest.fixture
def floor(team_a, clinic_a):
    ensure_reference_data()
    program = make_program(clinic_a, "cr")
    occurrence = make_occurrence(clinic_a, program, supervising_practitioner=team_a["admin"].membership)
    enrollment = make_enrollment(clinic_a, program=program)
    booking = make_booking(occurrence, enrollment, team_a["physiologist"].membership)
    return {
        "clinic": clinic_a, "actor": team_a["physiologist"].membership, "occurrence": occurrence,
        "enrollment": enrollment, "booking": booking, "team": team_a, "program": program,
    }  # fmt: skip


def save(floor, booking=None, version=None, actor=None, **values):
    booking = booking or floor["booking"]
    if version is None:
        log = SessionLog.objects.filter(booking=booking).first()
        version = log.version if log else 0
    return floorsheet.session_log_save(
        clinic=floor["clinic"], actor=actor or floor["actor"], booking=booking,
        data={"attendance": "present", **values}, version=version,
    )  # fmt: skip


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# --- Ranges ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pre_hr", 19, "Resting heart rate must be between 20 and 250 bpm."),
        ("peak_hr", 251, "Peak heart rate must be between 20 and 250 bpm."),
        ("pre_sbp", 301, "Resting systolic BP must be between 50 and 300 mmHg."),
        ("pre_spo2", 49, "Resting SpO2 must be between 50 and 100 %."),
        ("pre_glucose", 601, "Glucose must be between 20 and 600 mg/dL."),
        ("post_dbp", 19, "Diastolic BP after exercise must be between 20 and 200 mmHg."),
    ],
)
def test_out_of_range_values_are_refused_with_a_clear_message(floor, field, value, message):
    with pytest.raises(ValidationError) as excinfo:
        save(floor, **{field: value})
    assert errors_of(excinfo)[field] == [message]
    assert not SessionLog.objects.exists()


def test_values_at_the_ends_of_the_ranges_are_accepted(floor):
    log = save(floor, pre_hr=20, pre_sbp=300, pre_dbp=20, pre_spo2=100, post_spo2=50)
    assert log.pre_hr == 20 and log.pre_sbp == 300
    assert save(floor, pre_hr=70, pre_sbp=120, pre_dbp=80, peak_hr=250).peak_hr == 250


def test_rpe_range_follows_the_scale(floor):
    with pytest.raises(ValidationError) as excinfo:
        save(floor, rpe=Decimal(5), rpe_scale="borg")
    assert errors_of(excinfo)["rpe"] == ["RPE on the 6–20 scale must be between 6 and 20."]
    with pytest.raises(ValidationError) as excinfo:
        save(floor, rpe=Decimal(11), rpe_scale="cr10")
    assert errors_of(excinfo)["rpe"] == ["RPE on the 0–10 scale must be between 0 and 10."]
    assert save(floor, rpe=Decimal(4), rpe_scale="cr10").rpe == 4


def test_the_ranges_are_the_measure_rows_min_and_max(floor):
    """One place for a physiologic range: the shared clinic.Measure row (here the heart rate's)."""
    Measure.objects.filter(clinic=None, code="8867-4").update(min_value=30, max_value=220)
    with pytest.raises(ValidationError) as excinfo:
        save(floor, pre_hr=25)
    assert errors_of(excinfo)["pre_hr"] == ["Resting heart rate must be between 30 and 220 bpm."]
    assert save(floor, pre_hr=30).pre_hr == 30


def test_diastolic_must_be_below_systolic(floor):
    with pytest.raises(ValidationError) as excinfo:
        save(floor, pre_sbp=120, pre_dbp=120)
    assert errors_of(excinfo)["pre_dbp"] == ["Diastolic BP must be lower than systolic BP."]


def test_end_must_be_after_start(floor):
    start = floor["occurrence"].starts_at
    with pytest.raises(ValidationError) as excinfo:
        save(floor, started_at=start, ended_at=start)
    assert errors_of(excinfo)["ended_at"] == ["The end time must be after the start time."]


def test_weight_range_message_is_in_pounds_for_a_clinic_in_pounds(floor):
    floor["clinic"].weight_unit = Clinic.WeightUnit.LB
    with pytest.raises(ValidationError) as excinfo:
        save(floor, weight_kg=Decimal("19.9"))
    assert errors_of(excinfo)["weight_kg"] == ["Weight must be between 44.1 and 771.6 lb."]


def test_weight_range_message_is_in_kilograms_for_a_clinic_in_kilograms(floor):
    floor["clinic"].weight_unit = Clinic.WeightUnit.KG
    with pytest.raises(ValidationError) as excinfo:
        save(floor, weight_kg=Decimal("351"))
    assert errors_of(excinfo)["weight_kg"] == ["Weight must be between 20 and 350 kg."]


def test_an_absent_patient_has_no_exercise(floor):
    with pytest.raises(ValidationError) as excinfo:
        save(floor, attendance="absent", exercise_minutes=30)
    assert "attendance" in errors_of(excinfo)


def test_a_session_before_the_enrollment_started_is_refused(floor):
    Enrollment.objects.filter(pk=floor["enrollment"].pk).update(start_date=timezone.localdate() + datetime.timedelta(5))
    with pytest.raises(ValidationError) as excinfo:
        save(floor, pre_hr=70)
    assert errors_of(excinfo)["attendance"] == ["This session is outside the patient's enrollment dates."]


# --- Units -------------------------------------------------------------------------------------------


def test_every_tenth_of_a_pound_round_trips_exactly():
    for tenths in range(441, 7717):
        pounds = Decimal(tenths) / 10
        assert floorsheet.weight_from_kg(floorsheet.weight_to_kg(pounds, "lb"), "lb") == pounds


def test_kilograms_are_stored_as_entered():
    assert floorsheet.weight_to_kg(Decimal("81.4"), "kg") == Decimal("81.400")
    assert floorsheet.weight_from_kg(Decimal("81.400"), "kg") == Decimal("81.4")


def test_weight_entered_in_pounds_on_the_sheet_is_stored_in_kilograms_and_shown_in_pounds(team_a, clinic_a):
    ensure_reference_data()
    clinic_a.weight_unit = Clinic.WeightUnit.LB
    clinic_a.save()
    program = make_program(clinic_a, "mdpp")
    occurrence, (booking,) = class_of(clinic_a, team_a["physiologist"].membership, 1, program=program)
    client = team_a["physiologist"].client
    url = reverse("floor_row_save", args=[clinic_a.slug, occurrence.pk, booking.pk])
    response = client.post(url, {f"b{booking.pk}-version": 0, f"b{booking.pk}-attendance": "present",
                                 f"b{booking.pk}-weight": "212.6"}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    log = SessionLog.objects.get(booking=booking)
    assert log.weight_kg == Decimal("96.434")
    assert 'value="212.6"' in response.content.decode()


# --- Edit conflicts ----------------------------------------------------------------------------------


def test_each_save_raises_the_version(floor):
    assert save(floor, pre_hr=70).version == 1
    assert save(floor, pre_hr=72).version == 2


def test_a_save_from_an_older_copy_is_refused_and_overwrites_nothing(floor):
    save(floor, pre_hr=70)  # version 1, the colleague's
    save(floor, version=1, pre_hr=74, notes="colleague")  # version 2
    with pytest.raises(floorsheet.EditConflict) as excinfo:
        save(floor, version=1, pre_hr=90)
    assert excinfo.value.current.pre_hr == 74
    log = SessionLog.objects.get()
    assert (log.pre_hr, log.notes, log.version) == (74, "colleague", 2)


def test_two_first_saves_of_the_same_row_conflict(floor):
    save(floor, version=0, pre_hr=70)
    with pytest.raises(floorsheet.EditConflict):
        save(floor, version=0, pre_hr=80)
    assert SessionLog.objects.get().pre_hr == 70


def test_the_sheet_shows_a_conflict_with_the_newer_values(floor):
    save(floor, pre_hr=70)
    save(floor, version=1, pre_hr=74)
    b = floor["booking"].pk
    client = floor["team"]["physiologist"].client
    url = reverse("floor_row_save", args=[floor["clinic"].slug, floor["occurrence"].pk, b])
    response = client.post(url, {f"b{b}-version": 1, f"b{b}-attendance": "present", f"b{b}-pre_hr": "90"},
                           HTTP_HX_REQUEST="true")  # fmt: skip
    html = response.content.decode()
    assert "Someone saved this row after you opened it" in html
    assert 'value="74"' in html
    assert "resting HR 90" in html
    assert SessionLog.objects.get().pre_hr == 74


# --- Observations, session numbers, first session ----------------------------------------------------


def test_every_measured_number_becomes_an_observation(floor):
    log = save(floor, pre_hr=70, pre_sbp=130, pre_dbp=80, peak_hr=110, rpe=Decimal(13), post_spo2=96, mets=Decimal(4))
    rows = {
        (o.measure.code, o.phase): (o.value, o.unit)
        for o in Observation.objects.filter(source="session", source_id=log.pk).select_related("measure")
    }
    assert rows == {
        ("8867-4", "pre"): (Decimal(70), "/min"),
        ("8480-6", "pre"): (Decimal(130), "mm[Hg]"),
        ("8462-4", "pre"): (Decimal(80), "mm[Hg]"),
        ("8867-4", "peak"): (Decimal(110), "/min"),
        ("rpe-borg", "peak"): (Decimal(13), "{score}"),
        ("59408-5", "post"): (Decimal(96), "%"),
        ("session-mets", "peak"): (Decimal(4), "{MET}"),
    }
    observation = Observation.objects.filter(source_id=log.pk).first()
    assert observation.patient_id == log.patient_id
    assert observation.enrollment_id == log.enrollment_id
    assert observation.recorded_by == floor["actor"]
    assert observation.observed_at == floor["occurrence"].starts_at


def test_saving_again_replaces_the_observations(floor):
    log = save(floor, pre_hr=70, pre_sbp=130, pre_dbp=80)
    log = save(floor, pre_hr=76)
    values = list(Observation.objects.filter(source="session", source_id=log.pk).values_list("measure__code", "value"))
    assert values == [("8867-4", Decimal(76))]


def test_the_first_attended_session_sets_first_session_at_once(floor):
    first = save(floor, pre_hr=70)
    enrollment = Enrollment.objects.get(pk=floor["enrollment"].pk)
    assert enrollment.first_session_at == floor["occurrence"].starts_at
    assert enrollment.status == Enrollment.Status.ACTIVE
    later = make_occurrence(
        floor["clinic"], floor["program"], starts_at=floor["occurrence"].starts_at + datetime.timedelta(days=2)
    )
    booking = make_booking(later, enrollment, floor["actor"])
    second = save(floor, booking=booking, pre_hr=72)
    enrollment.refresh_from_db()
    assert enrollment.first_session_at == floor["occurrence"].starts_at
    assert (first.session_number, second.session_number) == (1, 2)


def test_an_absence_does_not_start_the_enrollment_or_count(floor):
    log = save(floor, attendance="absent")
    enrollment = Enrollment.objects.get(pk=floor["enrollment"].pk)
    assert enrollment.first_session_at is None and enrollment.status == Enrollment.Status.ENROLLED
    assert log.session_number is None


def test_session_numbers_follow_the_dates_when_an_earlier_session_is_logged_late(floor):
    later = make_occurrence(
        floor["clinic"], floor["program"], starts_at=floor["occurrence"].starts_at + datetime.timedelta(2)
    )
    late_booking = make_booking(later, floor["enrollment"], floor["actor"])
    save(floor, booking=late_booking, pre_hr=70)
    save(floor, pre_hr=70)
    numbers = dict(SessionLog.objects.values_list("booking_id", "session_number"))
    assert numbers == {floor["booking"].pk: 1, late_booking.pk: 2}


# --- Holds and overrides -----------------------------------------------------------------------------


def test_exercise_is_refused_while_a_hold_is_open(floor):
    save(floor, pre_sbp=210, pre_dbp=90)
    with pytest.raises(ValidationError) as excinfo:
        save(floor, pre_sbp=210, pre_dbp=90, modality="Treadmill", exercise_minutes=20)
    assert "On hold: Resting systolic BP above 200 mmHg" in errors_of(excinfo)["exercise"][0]
    assert SessionLog.objects.get().exercise_minutes is None


def test_exercise_is_accepted_once_the_hold_is_overridden(floor):
    log = save(floor, pre_sbp=210, pre_dbp=90)
    flag = log.flags.get(status="open")
    floorsheet.safety_flag_override(clinic=floor["clinic"], actor=floor["actor"], flag=flag, reason="Rechecked 196/88")
    log = save(floor, pre_sbp=210, pre_dbp=90, modality="Treadmill", exercise_minutes=20)
    assert log.exercise_minutes == 20
    assert log.flags.filter(status="open").count() == 0


def test_override_needs_a_reason(floor):
    flag = save(floor, pre_hr=130).flags.get(status="open")
    with pytest.raises(ValidationError) as excinfo:
        floorsheet.safety_flag_override(clinic=floor["clinic"], actor=floor["actor"], flag=flag, reason="  ")
    assert errors_of(excinfo)["reason"] == ["Say why the patient may exercise despite the hold."]
    assert SafetyFlag.objects.get(pk=flag.pk).status == "open"


def test_override_needs_the_supervising_practitioner(floor):
    floor["occurrence"].supervising_practitioner = None
    floor["occurrence"].save()
    flag = save(floor, pre_hr=130).flags.get(status="open")
    with pytest.raises(ValidationError) as excinfo:
        floorsheet.safety_flag_override(clinic=floor["clinic"], actor=floor["actor"], flag=flag, reason="ok")
    assert "supervising practitioner" in errors_of(excinfo)["supervising_practitioner"][0]


def test_override_records_who_acknowledged_and_who_overrode_and_is_audited(floor):
    flag = save(floor, pre_hr=130).flags.get(status="open")
    flag = floorsheet.safety_flag_override(
        clinic=floor["clinic"], actor=floor["actor"], flag=flag, reason="Anxious; 112 after five minutes' rest"
    )
    assert flag.status == "overridden"
    assert flag.acknowledged_by == floor["team"]["admin"].membership
    assert flag.overridden_by == floor["actor"]
    assert flag.overridden_at is not None
    entry = AuditEntry.objects.filter(object_pk=str(flag.pk), changes_text__contains="overridden").get()
    assert "Anxious; 112 after five minutes' rest" in entry.changes_text
    assert entry.patient_id == flag.patient_id and entry.clinic_id == floor["clinic"].pk
    assert entry.actor == floor["actor"].user


def test_override_through_the_sheet_shows_the_overridden_hold(floor):
    flag = save(floor, pre_hr=130).flags.get(status="open")
    client = floor["team"]["physiologist"].client
    b = floor["booking"].pk
    response = client.post(
        reverse("safety_flag_override", args=[floor["clinic"].slug, flag.pk]), {f"o{b}-reason": "Rechecked"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert "Hold overridden" in response.content.decode()
    assert SafetyFlag.objects.get(pk=flag.pk).status == "overridden"


def test_billing_cannot_override(floor):
    flag = save(floor, pre_hr=130).flags.get(status="open")
    client = floor["team"]["billing"].client
    response = client.post(reverse("safety_flag_override", args=[floor["clinic"].slug, flag.pk]), {"reason": "x"})
    assert response.status_code == 404


# --- The page ----------------------------------------------------------------------------------------


def test_the_sheet_lists_booked_patients_with_precautions_and_targets(floor):
    enrollment = floor["enrollment"]
    Enrollment.objects.filter(pk=enrollment.pk).update(
        beta_blocker=True, supplemental_oxygen=True, hr_ceiling=125, has_diabetes=True, precaution_notes="Left knee"
    )
    make_prescription(enrollment, floor["actor"], target_hr_low=98, target_hr_high=118, modality="Recumbent bike")
    client = floor["team"]["physiologist"].client
    html = client.get(reverse("floor_sheet", args=[floor["clinic"].slug, floor["occurrence"].pk])).content.decode()
    for text in ("Beta-blocker", "O2", "HR ≤ 118", "Diabetes", "Left knee", "Recumbent bike", "Glucose (mg/dL)"):
        assert text in html
    assert "Weight (" not in html  # CR: no weight column
    assert "ECG" in html


@pytest.mark.parametrize(
    ("aerobic", "shown"),
    [
        ({"intensity_method": "rpe", "intensity_low": Decimal("11.0"), "intensity_high": Decimal("13.5")},
         "RPE 11–13.5"),
        ({"intensity_method": "mets", "intensity_low": Decimal("3"), "intensity_high": Decimal("4.5")}, "3–4.5 METs"),
        ({"intensity_method": "watts", "intensity_low": Decimal("40"), "intensity_high": Decimal("60")}, "40–60 W"),
        ({"intensity_method": "speed_grade", "speed_mph": Decimal("2.5"), "grade_percent": None}, "2.5 mph, 0 %"),
    ],
)  # fmt: skip
def test_the_targets_show_whole_numbers_without_a_decimal_point(floor, aerobic, shown):
    make_prescription(floor["enrollment"], floor["actor"], **aerobic)
    client = floor["team"]["physiologist"].client
    html = client.get(reverse("floor_sheet", args=[floor["clinic"].slug, floor["occurrence"].pk])).content.decode()
    assert shown in html


def test_each_row_saves_to_its_own_booking(team_a, clinic_a):
    physiologist = team_a["physiologist"]
    occurrence, bookings = class_of(clinic_a, physiologist.membership, 3)
    html = physiologist.client.get(reverse("floor_sheet", args=[clinic_a.slug, occurrence.pk])).content.decode()
    actions = re.findall(r'<form class="inline-form row-form" method="post" action="([^"]+)"', html)
    assert sorted(actions) == sorted(
        reverse("floor_row_save", args=[clinic_a.slug, occurrence.pk, b.pk]) for b in bookings
    )


def _article(html: str, booking_pk: int) -> str:
    """The row's <article>, its CSRF tokens blanked (each response masks the token afresh)."""
    article = re.search(rf'<article [^>]*id="row-{booking_pk}".*?</article>', html, re.S).group(0)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', article)


def test_a_saved_row_comes_back_as_the_sheet_shows_it(floor):
    save(floor, pre_hr=130)  # a hold: the row carries its override form
    b = floor["booking"].pk
    client = floor["team"]["physiologist"].client
    url = reverse("floor_row_save", args=[floor["clinic"].slug, floor["occurrence"].pk, b])
    answer = client.post(
        url, {f"b{b}-version": 1, f"b{b}-attendance": "late", f"b{b}-pre_hr": "131", f"b{b}-symptoms": "<dizzy>"},
        HTTP_HX_REQUEST="true",
    ).content.decode()  # fmt: skip
    sheet = client.get(reverse("floor_sheet", args=[floor["clinic"].slug, floor["occurrence"].pk])).content.decode()
    assert '<option value="late" selected>' in answer and 'value="&lt;dizzy&gt;"' in answer
    assert "Override hold" in answer and 'class="saved just"' in answer
    assert _article(answer, b).replace('class="saved just"', 'class="saved"') == _article(sheet, b)


def test_the_sheet_reads_are_audited(floor):
    client = floor["team"]["physiologist"].client
    client.get(reverse("floor_sheet", args=[floor["clinic"].slug, floor["occurrence"].pk]))
    entry = AuditEntry.objects.filter(changes_text__startswith="Floor sheet").get()
    assert entry.additional_data == {"ids": [floor["booking"].patient_id]}


def test_a_saved_row_says_when_and_by_whom(floor):
    b = floor["booking"].pk
    client = floor["team"]["physiologist"].client
    url = reverse("floor_row_save", args=[floor["clinic"].slug, floor["occurrence"].pk, b])
    response = client.post(url, {f"b{b}-version": 0, f"b{b}-attendance": "present", f"b{b}-pre_hr": "71"},
                           HTTP_HX_REQUEST="true")  # fmt: skip
    html = response.content.decode()
    assert f"Saved {timezone.localtime().strftime('%H')}" in html or "Saved " in html
    assert "by P. Alpha" in html


def test_a_row_with_bad_values_comes_back_with_the_message(floor):
    b = floor["booking"].pk
    client = floor["team"]["physiologist"].client
    url = reverse("floor_row_save", args=[floor["clinic"].slug, floor["occurrence"].pk, b])
    response = client.post(url, {f"b{b}-version": 0, f"b{b}-pre_hr": "300"}, HTTP_HX_REQUEST="true")
    assert "Resting heart rate must be between 20 and 250 bpm." in response.content.decode()
    assert not SessionLog.objects.exists()


def test_choosing_the_supervising_practitioner(floor):
    client = floor["team"]["physiologist"].client
    url = reverse("floor_sheet_staff", args=[floor["clinic"].slug, floor["occurrence"].pk])
    physician = floor["team"]["physician"].membership
    client.post(url, {"supervising_practitioner": physician.pk}, HTTP_HX_REQUEST="true")
    floor["occurrence"].refresh_from_db()
    assert floor["occurrence"].supervising_practitioner == physician


def test_a_member_of_another_clinic_is_not_a_choice_of_supervisor(floor, team_b):
    client = floor["team"]["physiologist"].client
    url = reverse("floor_sheet_staff", args=[floor["clinic"].slug, floor["occurrence"].pk])
    client.post(url, {"supervising_practitioner": team_b["physician"].membership.pk}, HTTP_HX_REQUEST="true")
    floor["occurrence"].refresh_from_db()
    assert floor["occurrence"].supervising_practitioner == floor["team"]["admin"].membership


@pytest.mark.parametrize("size", [5, 20])
def test_floor_sheet_query_count_does_not_grow_with_the_class(team_a, clinic_a, size, django_assert_max_num_queries):
    ensure_reference_data()
    physiologist = team_a["physiologist"]
    occurrence, bookings = class_of(clinic_a, physiologist.membership, size, has_diabetes=True)
    for booking in bookings[:3]:
        floorsheet.session_log_save(
            clinic=clinic_a, actor=physiologist.membership, booking=booking,
            data={"attendance": "present", "pre_hr": 130}, version=0,
        )  # fmt: skip
        make_prescription(booking.enrollment, physiologist.membership)
    # Three set and restore the row-level security scope; session, user, memberships, the audit entry; the
    # bookings with their logs, the flags, the prescriptions, the clinic's members for the supervisor.
    with django_assert_max_num_queries(16):
        response = physiologist.client.get(reverse("floor_sheet", args=[clinic_a.slug, occurrence.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("size", [5, 20])
def test_saving_a_row_query_count_does_not_grow_with_the_class(team_a, clinic_a, size, django_assert_max_num_queries):
    ensure_reference_data()
    physiologist = team_a["physiologist"]
    occurrence, bookings = class_of(clinic_a, physiologist.membership, size)
    for booking in bookings:
        floorsheet.session_log_save(
            clinic=clinic_a, actor=physiologist.membership, booking=booking,
            data={"attendance": "present", "pre_hr": 70}, version=0,
        )  # fmt: skip
    booking = bookings[0]
    url = reverse("floor_row_save", args=[clinic_a.slug, occurrence.pk, booking.pk])
    form = {f"b{booking.pk}-version": 1, f"b{booking.pk}-attendance": "present", f"b{booking.pk}-pre_hr": 72}
    # Request set-up (session, user, membership, three scope changes); the class, the row with its log,
    # the prescription; the save's lock, measures, rules, flags, update, audit entry, observations
    # (delete, insert); the class's counts; and four savepoint statements (the test runs in a transaction).
    with django_assert_max_num_queries(23):
        response = physiologist.client.post(url, form, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Saved" in response.content.decode()
    assert SessionLog.objects.get(booking=booking).pre_hr == 72


def test_the_chart_shows_open_flags(floor):
    save(floor, pre_hr=130)
    client = floor["team"]["physiologist"].client
    html = client.get(reverse("patient_detail", args=[floor["clinic"].slug, floor["booking"].patient_id])).content
    assert "Open safety flags" in html.decode()
    assert "Resting heart rate above 120 bpm" in html.decode()


def test_billing_does_not_see_flags_on_the_chart(floor):
    save(floor, pre_hr=130)
    client = floor["team"]["billing"].client
    html = client.get(reverse("patient_detail", args=[floor["clinic"].slug, floor["booking"].patient_id])).content
    assert "Open safety flags" not in html.decode()


# --- Today -------------------------------------------------------------------------------------------


def test_today_lists_my_classes_with_counts_and_open_flags(floor):
    physiologist = floor["team"]["physiologist"]
    floor["occurrence"].staff = physiologist.membership
    floor["occurrence"].save()
    save(floor, pre_hr=130)
    response = physiologist.client.get(reverse("today", args=[floor["clinic"].slug]))
    occurrences = response.context["occurrences"]
    assert [(o.pk, o.booked, o.checked_in) for o in occurrences] == [(floor["occurrence"].pk, 1, 1)]
    assert [f.rule.code for f in response.context["flags"]] == ["resting_hr_high"]


def test_today_shows_only_my_classes_unless_all_are_asked_for(floor):
    physiologist = floor["team"]["physiologist"]
    url = reverse("today", args=[floor["clinic"].slug])
    assert list(physiologist.client.get(url).context["occurrences"]) == []
    assert len(physiologist.client.get(url + "?show=all").context["occurrences"]) == 1


def test_an_enrollment_is_due_for_reassessment_at_twelve_sessions(floor):
    enrollment = floor["enrollment"]
    start = floor["occurrence"].starts_at - datetime.timedelta(days=40)
    for number in range(12):
        occurrence = make_occurrence(
            floor["clinic"], floor["program"], starts_at=start + datetime.timedelta(days=3 * number)
        )
        save(floor, booking=make_booking(occurrence, enrollment, floor["actor"]), pre_hr=70)
    due = floorsheet.enrollments_due_for_reassessment(clinic=floor["clinic"], today=timezone.localdate())
    assert [(e.pk, e.due_reason) for e in due] == [(enrollment.pk, "12 sessions attended")]


def test_an_enrollment_with_few_recent_sessions_is_not_due(floor):
    save(floor, pre_hr=70)
    assert floorsheet.enrollments_due_for_reassessment(clinic=floor["clinic"], today=timezone.localdate()) == []


def test_the_clinic_home_links_physiologists_to_today(floor):
    html = floor["team"]["physiologist"].client.get(reverse("clinic_home", args=[floor["clinic"].slug])).content
    assert reverse("today", args=[floor["clinic"].slug]) in html.decode()


# --- API ---------------------------------------------------------------------------------------------


def bulk_url(clinic):
    return reverse("api-session-log-bulk", args=[clinic.slug])


def test_bulk_records_a_whole_class(team_a, clinic_a):
    ensure_reference_data()
    admin = team_a["physiologist"]
    occurrence, bookings = class_of(clinic_a, admin.membership, 3)
    rows = [{"booking": b.pk, "version": 0, "attendance": "present", "pre_hr": 70 + i} for i, b in enumerate(bookings)]
    response = admin.client.post(bulk_url(clinic_a), {"occurrence": occurrence.pk, "rows": rows},
                                 content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.json()
    assert sorted(SessionLog.objects.values_list("pre_hr", flat=True)) == [70, 71, 72]


def test_bulk_is_documented_as_answering_the_class_rows_not_a_page(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/clinics/{clinic_slug}/session-logs/bulk/"]["post"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert [parameter["name"] for parameter in operation["parameters"]] == ["clinic_slug"]


def test_bulk_saves_nothing_when_one_row_is_wrong(team_a, clinic_a):
    ensure_reference_data()
    admin = team_a["physiologist"]
    occurrence, bookings = class_of(clinic_a, admin.membership, 3)
    rows = [{"booking": b.pk, "attendance": "present", "pre_hr": 70} for b in bookings]
    rows[1]["pre_hr"] = 400
    response = admin.client.post(bulk_url(clinic_a), {"occurrence": occurrence.pk, "rows": rows},
                                 content_type="application/json")  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == {
        "1": {"pre_hr": ["Resting heart rate must be between 20 and 250 bpm."]}
    }
    assert not SessionLog.objects.exists()
    assert not Observation.objects.exists()


def test_bulk_reports_an_edit_conflict_by_row(team_a, clinic_a):
    ensure_reference_data()
    admin = team_a["physiologist"]
    occurrence, bookings = class_of(clinic_a, admin.membership, 2)
    floorsheet.session_log_save(clinic=clinic_a, actor=admin.membership, booking=bookings[0],
                                data={"attendance": "present"}, version=0)  # fmt: skip
    rows = [{"booking": b.pk, "version": 0, "attendance": "late"} for b in bookings]
    response = admin.client.post(bulk_url(clinic_a), {"occurrence": occurrence.pk, "rows": rows},
                                 content_type="application/json")  # fmt: skip
    assert response.status_code == 400
    assert list(response.json()["errors"]["rows"]) == ["0"]
    assert SessionLog.objects.count() == 1


def test_billing_reads_attendance_but_not_clinical_notes(floor):
    save(floor, pre_hr=70, notes="Felt dizzy", symptoms="dizzy", exercise_minutes=35)
    response = floor["team"]["billing"].client.get(reverse("api-session-log-list", args=[floor["clinic"].slug]))
    (row,) = response.json()["results"]
    assert row["attendance"] == "present" and row["exercise_minutes"] == 35
    assert "notes" not in row and "symptoms" not in row and "rhythm_note" not in row and "pre_hr" not in row


def test_a_row_without_attendance_answers_it_blank_as_the_schema_says(floor):
    log = save(floor, attendance="", pre_hr=70)
    for role in ("physiologist", "billing"):
        response = floor["team"][role].client.get(
            reverse("api-session-log-detail", args=[floor["clinic"].slug, log.pk])
        )
        assert response.json()["attendance"] == ""
    schema = floor["team"]["billing"].client.get("/api/schema/?format=json").json()
    attendance = schema["components"]["schemas"]["SessionLog"]["properties"]["attendance"]
    enums = [schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]["enum"] for ref in attendance["oneOf"]]
    assert "" in sum(enums, [])


def test_physiologist_reads_the_whole_row(floor):
    log = save(floor, pre_hr=70, notes="Felt fine")
    response = floor["team"]["physiologist"].client.get(
        reverse("api-session-log-detail", args=[floor["clinic"].slug, log.pk])
    )
    assert response.json()["notes"] == "Felt fine"


def test_physician_reads_only_their_own_patients_sessions(floor):
    log = save(floor, pre_hr=70)
    physician = floor["team"]["physician"]
    url = reverse("api-session-log-list", args=[floor["clinic"].slug])
    assert physician.client.get(url).json()["results"] == []
    detail = reverse("api-session-log-detail", args=[floor["clinic"].slug, log.pk])
    assert physician.client.get(detail).status_code == 404
    link_physician(floor["booking"].patient, physician.membership)
    assert [r["id"] for r in physician.client.get(url).json()["results"]] == [log.pk]


def test_billing_cannot_record(floor):
    response = floor["team"]["billing"].client.post(
        bulk_url(floor["clinic"]), {"occurrence": floor["occurrence"].pk, "rows": []}, content_type="application/json"
    )
    assert response.status_code == 404


def test_a_physician_of_another_clinic_cannot_be_made_supervisor(floor, clinic_b):
    other = make_member(clinic_b, "physician", email="doc@bravo.test")
    with pytest.raises(ValidationError):
        floorsheet.occurrence_set_staff(
            clinic=floor["clinic"], actor=floor["actor"], occurrence=floor["occurrence"], supervising_practitioner=other
        )


def test_an_enrollment_is_due_thirty_days_after_the_first_session_without_an_assessment(floor):
    past = make_occurrence(floor["clinic"], floor["program"], starts_at=timezone.now() - datetime.timedelta(days=31))
    save(floor, booking=make_booking(past, floor["enrollment"], floor["actor"]), pre_hr=70)
    due = floorsheet.enrollments_due_for_reassessment(clinic=floor["clinic"], today=timezone.localdate())
    assert [e.due_reason for e in due] == ["30+ days since the first session, no assessment yet"]


@pytest.mark.parametrize("classes", [2, 8])
def test_today_query_count_does_not_grow_with_classes(team_a, clinic_a, classes, django_assert_max_num_queries):
    ensure_reference_data()
    physiologist = team_a["physiologist"]
    for _ in range(classes):
        occurrence, bookings = class_of(clinic_a, physiologist.membership, 3, staff=physiologist.membership)
        floorsheet.session_log_save(
            clinic=clinic_a, actor=physiologist.membership, booking=bookings[0],
            data={"attendance": "present", "pre_hr": 130}, version=0,
        )  # fmt: skip
    # Three for the row-level security scope; one for the urgent clinical alerts (clinic/alerts.py).
    with django_assert_max_num_queries(15):
        response = physiologist.client.get(reverse("today", args=[clinic_a.slug]))
    assert len(response.context["occurrences"]) == classes


def test_a_dpp_class_records_its_coach(team_a, clinic_a):
    ensure_reference_data()
    physiologist = team_a["physiologist"]
    occurrence, _ = class_of(clinic_a, physiologist.membership, 1, program=make_program(clinic_a, "mdpp"))
    url = reverse("floor_sheet_staff", args=[clinic_a.slug, occurrence.pk])
    physiologist.client.post(
        url, {"supervising_practitioner": team_a["admin"].membership.pk, "coach": physiologist.membership.pk}
    )
    occurrence.refresh_from_db()
    assert occurrence.coach == physiologist.membership
    html = physiologist.client.get(reverse("floor_sheet", args=[clinic_a.slug, occurrence.pk])).content.decode()
    assert "Coach" in html and "Weight (lb)" in html and "Activity min" in html


def first_row(floor, program):
    occurrence, (booking,) = class_of(floor["clinic"], floor["actor"], 1, program=program)
    return floorsheet.floor_row_get(clinic=floor["clinic"], occurrence_id=occurrence.pk, booking_id=booking.pk)


def test_a_rows_weight_label_is_its_clinics_unit_and_changes_no_other_row(floor):
    row = first_row(floor, make_program(floor["clinic"], "dpp"))
    pounds = RowForm(row=row, clinic=Clinic(weight_unit=Clinic.WeightUnit.LB))
    kilograms = RowForm(row=row, clinic=Clinic(weight_unit=Clinic.WeightUnit.KG))
    assert (pounds["weight"].label, kilograms["weight"].label) == ("Weight (lb)", "Weight (kg)")
    assert RowForm.base_fields["weight"].label == "Weight"


def test_a_row_that_leaves_out_fields_leaves_them_in_the_next_row(floor):
    RowForm(row=first_row(floor, floor["program"]), clinic=floor["clinic"])  # cardiac rehab: no weight
    dpp = make_program(floor["clinic"], "dpp")
    assert "weight" in RowForm(row=first_row(floor, dpp), clinic=floor["clinic"]).fields


@pytest.mark.django_db(transaction=True)
def test_simultaneous_saves_of_one_row_keep_exactly_one(team_a, clinic_a):
    """Five people save the same new row at once, each over its own connection: one wins, four get a conflict."""
    from django.db import connection

    from clinic import rls
    from tests.conftest import run_at_once

    ensure_reference_data()
    physiologist = team_a["physiologist"].membership
    occurrence, (booking,) = class_of(clinic_a, physiologist, 1)
    outcomes = []

    def work():
        rls.activate(rls.clinic_scope(clinic_a.pk), force=True)
        hr = 60 + len(outcomes)
        try:
            floorsheet.session_log_save(
                clinic=clinic_a, actor=physiologist, booking=booking, data={"attendance": "present", "pre_hr": hr},
                version=0,
            )  # fmt: skip
            outcomes.append("saved")
        except floorsheet.EditConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    run_at_once(work, 5)
    assert sorted(outcomes) == ["conflict"] * 4 + ["saved"]
    assert SessionLog.objects.filter(booking=booking).get().version == 1


def test_values_typed_into_a_row_are_escaped_on_the_sheet(floor):
    save(floor, notes='"><script>alert(1)</script>', symptoms="<b>dizzy</b>")
    client = floor["team"]["physiologist"].client
    html = client.get(reverse("floor_sheet", args=[floor["clinic"].slug, floor["occurrence"].pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "<b>dizzy</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_clearing_the_value_instead_of_correcting_it_keeps_the_hold(floor):
    save(floor, pre_sbp=210, pre_dbp=90)
    with pytest.raises(ValidationError) as excinfo:
        save(floor, modality="Treadmill", exercise_minutes=20)
    assert "On hold" in errors_of(excinfo)["exercise"][0]
    log = save(floor, notes="BP cuff moved to the other arm")
    assert log.flags.get(rule__code="resting_sbp_high").status == "open"


def test_overriding_a_flag_of_a_booking_cancelled_meanwhile_reloads_the_sheet(floor):
    flag = save(floor, pre_hr=130).flags.get(status="open")
    type(floor["booking"]).objects.filter(pk=floor["booking"].pk).update(status="cancelled")
    client = floor["team"]["physiologist"].client
    b = floor["booking"].pk
    response = client.post(
        reverse("safety_flag_override", args=[floor["clinic"].slug, flag.pk]), {f"o{b}-reason": "Rechecked"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 204 and response["HX-Refresh"] == "true"


def test_a_medicare_dpp_patient_not_eligible_at_the_first_session_gets_a_warning_on_the_row(team_a, clinic_a):
    from tests.conftest import make_referral
    from tests.referrals.test_eligibility import MDPP, REFERRAL_DATE

    ensure_reference_data()
    physiologist = team_a["physiologist"]
    program = make_program(clinic_a, "mdpp", name="Medicare DPP")
    occurrence, (booking,) = class_of(clinic_a, physiologist.membership, 1, program=program)
    enrollment = booking.enrollment
    Enrollment.objects.filter(pk=enrollment.pk).update(
        first_session_at=timezone.make_aware(datetime.datetime(2026, 10, 5, 9))
    )
    make_referral(
        clinic_a, booking.patient, program=program, enrollment=enrollment,
        **{**MDPP, "bmi": None, "referral_date": REFERRAL_DATE, "lab_test_date": datetime.date(2025, 10, 1)},
    )  # fmt: skip
    html = physiologist.client.get(reverse("floor_sheet", args=[clinic_a.slug, occurrence.pk])).content.decode()
    assert "Not eligible for Medicare DPP at the first session: Blood test from 2025-10-01" in html
