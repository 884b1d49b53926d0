"""Values computed from an assessment's measured ones, and the units a measure may be entered in.
Pure functions: the service decides what to compute and stores the results as observations."""

from decimal import ROUND_HALF_UP, Decimal

# Measure codes of the shared catalog (clinic migrations 0013/0014) the computations read and write.
SIX_MWD, SIX_MWD_PCT = "64098-7", "6mwd-pct-predicted"
WEIGHT, HEIGHT, BMI = "29463-7", "8302-2", "39156-5"
DASI, DASI_METS = "dasi", "dasi-mets"
PHQ9, PHQ9_ITEM9 = "44261-6", "phq9-item9"
COMPUTED = {BMI, DASI_METS, SIX_MWD_PCT}

# Other UCUM units a measure's unit may be entered in, with the factor to the measure's unit. Stored
# values are always in the measure's unit.
CONVERSIONS: dict[str, dict[str, Decimal]] = {
    "kg": {"[lb_av]": Decimal("0.45359237")},
    "cm": {"[in_i]": Decimal("2.54")},
    "m": {"[ft_i]": Decimal("0.3048")},
}
UNIT_LABELS = {
    "[lb_av]": "lb", "[in_i]": "in", "[ft_i]": "ft", "{score}": "points", "{#}": "stands", "/min": "beats/min",
    "mm[Hg]": "mmHg", "kg/m2": "kg/m²", "{MET}": "METs", "min": "minutes",
}  # fmt: skip


# Body measures are typed and shown in the clinic's units (Clinic.weight_unit / length_unit) and stored
# in the measure's.
CLINIC_UNITS = {("kg", "lb"): "[lb_av]", ("cm", "in"): "[in_i]"}


def clinic_unit(measure_unit: str, clinic) -> str:
    """The unit the clinic types and reads a measure in: lb for kg and inches for cm where it chose them."""
    return CLINIC_UNITS.get((measure_unit, clinic.weight_unit)) or CLINIC_UNITS.get(
        (measure_unit, clinic.length_unit), measure_unit
    )


def from_measure_unit(value: Decimal, measure_unit: str, unit: str, places: int) -> Decimal:
    """A stored value (in the measure's unit) in `unit`, to the measure's decimal places."""
    if unit != measure_unit:
        value = value / CONVERSIONS[measure_unit][unit]
    return _places(value, places)


def unit_label(unit: str) -> str:
    return UNIT_LABELS.get(unit, unit)


def units_accepted(measure_unit: str) -> list[str]:
    return [measure_unit, *CONVERSIONS.get(measure_unit, {})]


def to_measure_unit(value: Decimal, unit: str, measure_unit: str) -> Decimal:
    """`value` given in `unit`, in the measure's unit (to 3 places, what an observation holds)."""
    if unit == measure_unit:
        return value
    factor = CONVERSIONS.get(measure_unit, {}).get(unit)
    if factor is None:
        raise ValueError(f"{unit} is not a unit of {measure_unit}")
    return (value * factor).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def bmi(*, weight_kg: Decimal, height_cm: Decimal, places: int = 1) -> Decimal:
    metres = height_cm / 100
    return _places(weight_kg / (metres * metres), places)


def dasi_mets(dasi: Decimal, places: int = 1) -> Decimal:
    """Hlatky 1989 (Am J Cardiol 64:651): VO2peak = 0.43 × DASI + 9.6 mL/kg/min; 1 MET = 3.5 mL/kg/min."""
    vo2 = Decimal("0.43") * dasi + Decimal("9.6")
    return _places(vo2 / Decimal("3.5"), places)


def six_mwd_predicted(*, sex: str, age: int, height_cm: Decimal, weight_kg: Decimal) -> Decimal | None:
    """Enright & Sherrill 1998 (Am J Respir Crit Care Med 158:1384), healthy adults 40-80, in metres.
    None for a sex the equations do not cover."""
    if sex == "M":
        return Decimal("7.57") * height_cm - Decimal("5.02") * age - Decimal("1.76") * weight_kg - 309
    if sex == "F":
        return Decimal("2.11") * height_cm - Decimal("2.29") * weight_kg - Decimal("5.78") * age + 667
    return None


def six_mwd_percent_predicted(
    *, distance_m: Decimal, sex: str, age: int, height_cm: Decimal, weight_kg: Decimal, places: int = 0
) -> Decimal | None:
    predicted = six_mwd_predicted(sex=sex, age=age, height_cm=height_cm, weight_kg=weight_kg)
    if predicted is None or predicted <= 0:
        return None
    return _places(distance_m * 100 / predicted, places)


def decimal_places_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
