"""The demo floor sheets: past classes logged with realistic vitals, a few flags, one hold overridden."""

from clinic.models import Observation
from scheduling import floorsheet_demo
from scheduling.models import SafetyFlag, SessionLog
from tests.conftest import make_member, make_patient, make_program
from tests.scheduling.factories import ensure_reference_data, make_enrollment


def test_demo_logs_past_classes_with_flags_and_one_overridden_hold(clinic_a):
    ensure_reference_data()
    make_member(clinic_a, "physiologist", email="physiologist@alpha.example")
    make_member(clinic_a, "physician", email="physician@alpha.example")
    program = make_program(clinic_a, "cr")
    for number in range(6):
        make_enrollment(clinic_a, patient=make_patient(clinic_a, f"D-{number}"), program=program, hr_ceiling=125)

    floorsheet_demo.seed(clinic_a)

    assert SessionLog.objects.filter(clinic=clinic_a, attendance__in=SessionLog.ATTENDED).count() >= 20
    overridden = SafetyFlag.objects.filter(clinic=clinic_a, status="overridden", severity="hold")
    assert overridden.count() == 1
    assert overridden.get().acknowledged_by.user.email == "physician@alpha.example"
    assert SafetyFlag.objects.filter(clinic=clinic_a, status="open").exists()
    assert Observation.objects.filter(clinic=clinic_a, source="session").exists()


def test_demo_runs_once(clinic_a):
    ensure_reference_data()
    make_member(clinic_a, "physiologist", email="physiologist@alpha.example")
    make_enrollment(clinic_a, program=make_program(clinic_a, "pr"))
    floorsheet_demo.seed(clinic_a)
    count = SessionLog.objects.count()
    floorsheet_demo.seed(clinic_a)
    assert SessionLog.objects.count() == count


def test_demo_without_members_or_enrollments_does_nothing(clinic_a):
    floorsheet_demo.seed(clinic_a)
    assert not SessionLog.objects.exists()
