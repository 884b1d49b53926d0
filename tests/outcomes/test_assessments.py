"""Recording an assessment: validation, computed values, observations, the PHQ-9 item 9 alert."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import alerts
from clinic.models import AuditEntry, ClinicalAlert, Observation
from outcomes import computed, services
from outcomes.models import Assessment
from tests.outcomes.helpers import baseline_values, cr_enrollment, record


@pytest.fixture
def enrollment(patient_a):
    patient_a.sex = "M"
    patient_a.date_of_birth = datetime.date(1960, 1, 1)
    patient_a.save()
    return cr_enrollment(patient_a)


@pytest.fixture
def physiologist(team_a):
    return team_a["physiologist"].membership


def values_of(assessment) -> dict:
    rows = Observation.objects.filter(source="assessment", source_id=assessment.pk).select_related("measure")
    return {row.measure.code: row.value for row in rows}


def test_bmi_is_weight_over_height_squared():
    assert computed.bmi(weight_kg=Decimal("80"), height_cm=Decimal("175")) == Decimal("26.1")


def test_dasi_mets_follow_hlatky():
    # VO2 = 0.43 × 30 + 9.6 = 22.5; 22.5 / 3.5 = 6.43
    assert computed.dasi_mets(Decimal("30")) == Decimal("6.4")


def test_six_minute_walk_predicted_follows_enright_and_sherrill_for_men_and_women():
    men = computed.six_mwd_predicted(sex="M", age=60, height_cm=Decimal(175), weight_kg=Decimal(80))
    women = computed.six_mwd_predicted(sex="F", age=60, height_cm=Decimal(160), weight_kg=Decimal(65))
    assert men == Decimal("7.57") * 175 - Decimal("5.02") * 60 - Decimal("1.76") * 80 - 309  # 573.35
    assert women == Decimal("2.11") * 160 - Decimal("2.29") * 65 - Decimal("5.78") * 60 + 667  # 506.15
    assert computed.six_mwd_predicted(sex="U", age=60, height_cm=Decimal(160), weight_kg=Decimal(65)) is None


def test_a_baseline_stores_its_values_and_the_computed_ones(enrollment, physiologist):
    assessment = record(enrollment, physiologist)
    values = values_of(assessment)
    assert values["64098-7"] == Decimal(400)
    assert values["39156-5"] == Decimal("26.1")
    assert values["dasi-mets"] == Decimal("6.4")
    age = 66 if timezone.localdate() - datetime.timedelta(30) >= datetime.date(2026, 1, 1) else 65
    predicted = Decimal("7.57") * 175 - Decimal("5.02") * age - Decimal("1.76") * 80 - 309
    assert values["6mwd-pct-predicted"] == (Decimal(400) * 100 / predicted).quantize(Decimal(1))
    observation = Observation.objects.filter(source_id=assessment.pk, source="assessment").first()
    assert observation.enrollment_id == enrollment.pk
    assert timezone.localdate(observation.observed_at) == assessment.assessed_on


def test_bmi_uses_the_height_of_an_earlier_assessment(enrollment, physiologist):
    record(enrollment, physiologist)
    interim = record(enrollment, physiologist, timepoint="interim", days_ago=1,
                     values=baseline_values(**{"8302-2": None, "29463-7": "76.0"}))  # fmt: skip
    assert values_of(interim)["39156-5"] == Decimal("24.8")


def test_pounds_are_stored_as_kilograms(enrollment, physiologist):
    values = baseline_values()
    values["29463-7"] = services.Entry(Decimal("176.4"), "[lb_av]")
    assert values_of(record(enrollment, physiologist, values=values))["29463-7"] == Decimal("80.014")


def test_a_value_out_of_range_saves_nothing(enrollment, physiologist):
    with pytest.raises(ValidationError) as raised:
        record(enrollment, physiologist, values=baseline_values(**{"8480-6": "400"}))
    assert "between 50 and 300" in str(raised.value.message_dict["8480-6"])
    assert not Assessment.objects.exists()
    assert not Observation.objects.exists()


def test_too_many_decimals_are_refused(enrollment, physiologist):
    with pytest.raises(ValidationError) as raised:
        record(enrollment, physiologist, values=baseline_values(**{"40443-4": "72.5"}))
    assert "whole number" in str(raised.value.message_dict["40443-4"])


def test_a_unit_the_measure_does_not_take_is_refused(enrollment, physiologist):
    values = baseline_values()
    values["29463-7"] = services.Entry(Decimal("80"), "g")
    with pytest.raises(ValidationError) as raised:
        record(enrollment, physiologist, values=values)
    assert "not g" in str(raised.value.message_dict["29463-7"])


def test_an_assessment_dated_before_the_enrollment_is_refused(enrollment, physiologist):
    with pytest.raises(ValidationError) as raised:
        record(enrollment, physiologist, days_ago=41)
    assert "before the enrollment started" in str(raised.value.message_dict["assessed_on"])
    assert not Observation.objects.exists()


def test_a_missing_required_measure_is_refused(enrollment, physiologist):
    with pytest.raises(ValidationError) as raised:
        record(enrollment, physiologist, values=baseline_values(**{"64098-7": None}))
    assert "required" in str(raised.value.message_dict["64098-7"])


def test_a_computed_measure_cannot_be_typed(enrollment, physiologist):
    values = baseline_values()
    values["39156-5"] = services.Entry(Decimal("22.0"))
    with pytest.raises(ValidationError):
        record(enrollment, physiologist, values=values)


def test_a_second_baseline_of_the_same_battery_is_refused(enrollment, physiologist):
    record(enrollment, physiologist)
    with pytest.raises(ValidationError) as raised:
        record(enrollment, physiologist, days_ago=2)
    assert "correct that one instead" in str(raised.value.message_dict["timepoint"])


def test_interim_assessments_may_repeat(enrollment, physiologist):
    record(enrollment, physiologist, timepoint="interim", days_ago=10)
    record(enrollment, physiologist, timepoint="interim", days_ago=1)
    assert Assessment.objects.filter(timepoint="interim").count() == 2


def test_correcting_an_assessment_replaces_its_observations(enrollment, physiologist):
    assessment = record(enrollment, physiologist)
    services.assessment_record(
        clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment, battery=assessment.battery,
        timepoint="baseline", assessed_on=assessment.assessed_on, values=baseline_values(**{"64098-7": "420"}),
        assessment=assessment,
    )  # fmt: skip
    rows = Observation.objects.filter(source="assessment", source_id=assessment.pk, measure__code="64098-7")
    assert [row.value for row in rows] == [Decimal(420)]


def test_item_9_above_zero_raises_one_urgent_alert(enrollment, physiologist):
    assessment = record(enrollment, physiologist, values=baseline_values(**{"phq9-item9": "1"}))
    services.assessment_record(
        clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment, battery=assessment.battery,
        timepoint="baseline", assessed_on=assessment.assessed_on, values=baseline_values(**{"phq9-item9": "2"}),
        assessment=assessment,
    )  # fmt: skip
    alert = ClinicalAlert.objects.get()
    assert (alert.patient_id, alert.source, alert.source_id) == (enrollment.patient_id, "assessment", assessment.pk)
    assert "PHQ-9" in alert.message and "2" not in alert.message


def test_item_9_at_zero_raises_no_alert(enrollment, physiologist):
    record(enrollment, physiologist)
    assert not ClinicalAlert.objects.exists()


def test_item_9_cannot_exceed_the_total(enrollment, physiologist):
    with pytest.raises(ValidationError):
        record(enrollment, physiologist, values=baseline_values(**{"44261-6": "1", "phq9-item9": "2"}))


def test_acknowledging_an_alert_needs_a_note_and_is_audited(enrollment, physiologist):
    record(enrollment, physiologist, values=baseline_values(**{"phq9-item9": "1"}))
    alert = ClinicalAlert.objects.get()
    with pytest.raises(ValidationError):
        alerts.alert_acknowledge(clinic=enrollment.clinic, actor=physiologist, alert=alert, note=" ")
    alerts.alert_acknowledge(clinic=enrollment.clinic, actor=physiologist, alert=alert, note="Called; safety plan made")
    alert.refresh_from_db()
    assert alert.acknowledged_by == physiologist and alert.note == "Called; safety plan made"
    assert AuditEntry.objects.filter(patient_id=alert.patient_id, changes_text__contains="safety plan made").exists()
    assert alerts.open_alerts(clinic=enrollment.clinic) == []


def test_a_correction_puts_the_changed_values_in_the_audit_trail(enrollment, physiologist):
    assessment = record(enrollment, physiologist)
    services.assessment_record(
        clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment, battery=assessment.battery,
        timepoint="baseline", assessed_on=assessment.assessed_on, values=baseline_values(**{"64098-7": "420"}),
        assessment=assessment,
    )  # fmt: skip
    entry = AuditEntry.objects.filter(object_pk=str(assessment.pk), changes__has_key="64098-7").get()
    assert entry.changes["64098-7"] == ["400.000", "420.000"]
