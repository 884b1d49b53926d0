"""Norm and risk bands at their boundaries: STEADI 30-second chair stand by age and sex, TUG, PHQ-9."""

from decimal import Decimal

import pytest

from clinic.models import Measure
from outcomes.selectors import band_of


def chair_stand():
    return Measure.objects.prefetch_related("bands").get(clinic=None, code="chair-stand-30s")


@pytest.mark.parametrize(
    ("sex", "age", "stands", "at_risk"),
    [
        ("M", 60, 13, True), ("M", 60, 14, False),  # men 60-64: under 14
        ("M", 64, 13, True), ("M", 65, 11, True), ("M", 65, 12, False),  # 65 moves to under 12
        ("F", 60, 11, True), ("F", 60, 12, False),  # women 60-64: under 12
        ("F", 69, 10, True), ("F", 69, 11, False), ("F", 70, 10, False),  # women 70-74: under 10
        ("M", 90, 6, True), ("M", 90, 7, False),
    ],
)  # fmt: skip
def test_steadi_chair_stand_bands_follow_age_and_sex(db, sex, age, stands, at_risk):
    band = band_of(measure=chair_stand(), value=Decimal(stands), sex=sex, age=age)
    assert (band is not None and band.is_risk) == at_risk


def test_a_chair_stand_band_needs_an_age(db):
    assert band_of(measure=chair_stand(), value=Decimal(5), sex="M", age=None) is None


def test_tug_of_twelve_seconds_is_fall_risk(db):
    tug = Measure.objects.get(clinic=None, code="tug")
    assert band_of(measure=tug, value=Decimal("12.0"), sex="F", age=70).is_risk
    assert band_of(measure=tug, value=Decimal("11.9"), sex="F", age=70) is None


@pytest.mark.parametrize(
    ("score", "label"), [(4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (20, "Severe")]
)
def test_phq9_bands(db, score, label):
    phq9 = Measure.objects.get(clinic=None, code="44261-6")
    assert band_of(measure=phq9, value=Decimal(score), sex="", age=50).label == label
