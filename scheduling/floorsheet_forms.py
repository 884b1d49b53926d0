"""Forms of the floor sheet: one row per booked patient, the class's staff, a hold's override.

A row shows only the fields the patient's program and precautions call for (glucose with diabetes,
weight and activity minutes for DPP/MDPP, ECG for CR/ICR, oximetry for PR); the fields it leaves out
keep their saved values. Weight is entered in the clinic's unit and handed to the service in kg.
Ranges are the service's to check, so the API and the page give the same messages.
"""

import copy
import datetime
from decimal import Decimal

from django import forms
from django.utils import timezone

from clinic.forms import PlainSelect
from clinic.models import Clinic, Membership, ProgramType
from scheduling import floorsheet
from scheduling.models import DeliveryMode, SessionLog

DPP = {ProgramType.DPP, ProgramType.MDPP}


def _number(**attrs):
    return forms.NumberInput(attrs={"inputmode": "numeric", "class": "num", **attrs})


def _decimal(**attrs):
    return forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "class": "num", **attrs})


def _int(label):
    return forms.IntegerField(label=label, required=False, widget=_number())


def _dec(label, places=1):
    return forms.DecimalField(label=label, required=False, decimal_places=places, max_digits=7, widget=_decimal())


def _plain(value):
    """13.0 shows as 13, 2.50 as 2.5."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return value


class RowForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    attendance = forms.ChoiceField(
        label="Check-in", required=False, choices=[("", "—"), *SessionLog.Attendance.choices]
    )
    started_at = forms.TimeField(label="Start", required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    ended_at = forms.TimeField(label="End", required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    pre_hr = _int("HR")
    pre_sbp = _int("SBP")
    pre_dbp = _int("DBP")
    pre_spo2 = _int("SpO2")
    pre_glucose = _int("Glucose (mg/dL)")
    weight = _dec("Weight")
    symptoms = forms.CharField(label="Symptoms", required=False, max_length=300)
    modality = forms.CharField(label="Modality", required=False, max_length=100)
    exercise_minutes = _int("Minutes")
    workload_watts = _int("Watts")
    speed_mph = _dec("Speed (mph)")
    grade_percent = _dec("Grade (%)")
    mets = _dec("METs")
    load_kg = _dec("Load (kg)", 2)
    peak_hr = _int("HR")
    peak_sbp = _int("SBP")
    peak_dbp = _int("DBP")
    rpe = _dec("RPE")
    rpe_scale = forms.ChoiceField(label="Scale", choices=SessionLog.RpeScale.choices, required=False)
    post_hr = _int("HR")
    post_sbp = _int("SBP")
    post_dbp = _int("DBP")
    post_spo2 = _int("SpO2")
    ecg_monitored = forms.BooleanField(label="ECG", required=False)
    rhythm_note = forms.CharField(label="Rhythm", required=False, max_length=200)
    continuous_oximetry = forms.BooleanField(label="Oximetry", required=False)
    o2_flow_lpm = _dec("O2 (L/min)")
    activity_minutes = _int("Activity min")
    delivery_mode = forms.ChoiceField(label="Delivery", required=False, choices=DeliveryMode.choices)
    notes = forms.CharField(label="Notes", required=False, max_length=2000)

    # How the sheet lays a row out (floorsheet_tags.floor_row): legend, the fieldset's extra class and
    # its fields with their extra classes; a field the row does not show is left out, and so is an empty group.
    GROUPS = [
        ("Check-in", "", [("attendance", ""), ("started_at", ""), ("ended_at", "")]),
        ("Before", "", [("pre_hr", ""), ("pre_sbp", ""), ("pre_dbp", ""), ("pre_spo2", ""), ("pre_glucose", ""),
                        ("weight", ""), ("symptoms", "text")]),
        ("Exercise", "", [("modality", "text"), ("exercise_minutes", ""), ("workload_watts", ""), ("speed_mph", ""),
                          ("grade_percent", ""), ("mets", ""), ("load_kg", "")]),
        ("Peak", "", [("peak_hr", ""), ("peak_sbp", ""), ("peak_dbp", ""), ("rpe", ""), ("rpe_scale", "")]),
        ("After", "", [("post_hr", ""), ("post_sbp", ""), ("post_dbp", ""), ("post_spo2", "")]),
        ("Monitoring", "", [("ecg_monitored", ""), ("rhythm_note", "text"), ("continuous_oximetry", ""),
                            ("o2_flow_lpm", ""), ("activity_minutes", ""), ("delivery_mode", "")]),
        ("Notes", "grow", [("notes", "text wide")]),
    ]  # fmt: skip

    def __init__(self, *args, row: floorsheet.Row, clinic: Clinic, **kwargs):
        self.row, self.clinic = row, clinic
        kwargs.setdefault("prefix", f"b{row.booking.pk}")
        if not args or args[0] is None:
            kwargs.setdefault("initial", self.initial_from(row.log))
        super().__init__(*args, **kwargs)
        program = row.program_type
        if not row.enrollment.has_diabetes:
            del self.fields["pre_glucose"]
        if program not in DPP:
            del self.fields["weight"], self.fields["activity_minutes"], self.fields["delivery_mode"]
        if program not in floorsheet.ECG_PROGRAMS:
            del self.fields["ecg_monitored"], self.fields["rhythm_note"]
        if program not in floorsheet.OXIMETRY_PROGRAMS:
            del self.fields["continuous_oximetry"], self.fields["o2_flow_lpm"]
        if "weight" in self.fields:
            self.fields["weight"] = copy.copy(self.fields["weight"])  # shared by every row (_SharedFields)
            self.fields["weight"].label = f"Weight ({clinic.weight_unit})"

    def initial_from(self, log: SessionLog | None) -> dict:
        if log is None:
            occurrence = self.row.booking.occurrence
            return {"version": 0, "rpe_scale": SessionLog.RpeScale.BORG, "delivery_mode": occurrence.delivery_mode}
        initial = {field: _plain(getattr(log, field)) for field in floorsheet.FIELDS}
        initial["version"] = log.version
        initial["weight"] = floorsheet.weight_from_kg(log.weight_kg, self.clinic.weight_unit)
        for field in ("started_at", "ended_at"):
            value = getattr(log, field)
            initial[field] = timezone.localtime(value).time().replace(second=0, microsecond=0) if value else None
        return initial

    def service_data(self) -> dict:
        """The row's values for `floorsheet.session_log_save`: every field, the hidden ones as saved."""
        log = self.row.log
        data = {field: getattr(log, field) for field in floorsheet.FIELDS} if log else {}
        cleaned = dict(self.cleaned_data)
        cleaned.pop("version", None)
        if "weight" in cleaned:
            data["weight_kg"] = floorsheet.weight_to_kg(cleaned.pop("weight"), self.clinic.weight_unit)
        day = timezone.localdate(self.row.booking.occurrence.starts_at)
        for field in ("started_at", "ended_at"):
            value = cleaned.pop(field)
            data[field] = (
                timezone.make_aware(datetime.datetime.combine(day, value), timezone.get_current_timezone())
                if value
                else None
            )
        data.update(cleaned)
        if "delivery_mode" not in self.fields:
            data["delivery_mode"] = ""  # the class's mode: the row does not show the field
        if not data.get("rpe_scale"):
            data["rpe_scale"] = SessionLog.RpeScale.BORG
        return data


class _SharedFields(dict):
    """RowForm's fields, shared by every row instead of deep-copied for each (Django's default, so that a
    form may change its fields): a class of twenty copied some 700 fields and widgets, a fifth of the
    sheet's time. A row only drops fields from its own dict, so nothing shared is changed; change a
    field for one row (as the weight's label) on a copy of it."""

    def __deepcopy__(self, memo):
        return dict(self)


RowForm.base_fields = _SharedFields(RowForm.base_fields)


class StaffForm(forms.Form):
    supervising_practitioner = forms.ModelChoiceField(
        label="Supervising practitioner", queryset=None, required=False, empty_label="— choose —", widget=PlainSelect
    )
    coach = forms.ModelChoiceField(
        label="Coach", queryset=None, required=False, empty_label="— choose —", widget=PlainSelect
    )

    def __init__(self, *args, clinic, occurrence, **kwargs):
        kwargs.setdefault(
            "initial",
            {"supervising_practitioner": occurrence.supervising_practitioner_id, "coach": occurrence.coach_id},
        )
        super().__init__(*args, **kwargs)
        # Only DPP classes have a coach: removed first, so that its choices are not set for nothing.
        if occurrence.program.program_type not in DPP:
            del self.fields["coach"]
        # Both selects list the same members: read them once (a ModelChoiceField reads its own).
        choices = [("", "— choose —"), *floorsheet.clinic_member_names(clinic=clinic)]
        # What a posted choice is checked against: only a post needs the members (the sheet's every GET built their
        # queryset for nothing); an unbound form checks nothing, and an empty queryset is safe to read, unlike None.
        members = floorsheet.clinic_members(clinic=clinic) if self.is_bound else Membership.objects.none()
        for field in self.fields.values():
            field.queryset = members
            field.choices = choices


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the override", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
