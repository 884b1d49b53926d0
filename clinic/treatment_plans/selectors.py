"""Reads of treatment plans. Each takes the clinic (and the acting membership where visibility
depends on the role); an id from a request that is not visible gives Http404."""

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from clinic.models import (
    ITP_PROGRAM_TYPES,
    Clinic,
    Enrollment,
    Membership,
    PatientPhysician,
    TreatmentPlan,
    TreatmentPlanService,
)
from clinic.permissions import has_permission
from clinic.selectors import patients_visible_to

OPEN_ENROLLMENT = (Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE)


def needs_plan(enrollment: Enrollment) -> bool:
    """CR, ICR and PR need an ITP; other programs have none."""
    return enrollment.program.program_type in ITP_PROGRAM_TYPES


def plans_visible_to(membership: Membership) -> QuerySet[TreatmentPlan]:
    """Plans of the patients this member may see, with what a list shows, in one query. Each row
    carries `patient_id`, so an access entry for it names the patient."""
    return (
        TreatmentPlan.objects.filter(
            clinic_id=membership.clinic_id, enrollment__patient__in=patients_visible_to(membership)
        )
        .select_related("clinic", "enrollment__patient", "enrollment__program", "signed_by__user", "drafted_by__user")
        .annotate(patient_id=F("enrollment__patient_id"))
        .order_by("enrollment_id", "-version")
    )


def _with_services(plans: QuerySet[TreatmentPlan], clinic_id: int) -> QuerySet[TreatmentPlan]:
    return plans.prefetch_related(
        Prefetch("services", queryset=TreatmentPlanService.objects.filter(clinic_id=clinic_id))
    )


def plans_of(*, membership: Membership, enrollment: Enrollment) -> QuerySet[TreatmentPlan]:
    """Every version of an enrollment's plan, newest first."""
    plans = plans_visible_to(membership).filter(enrollment=enrollment).order_by("-version")
    return _with_services(plans, membership.clinic_id)


def plan_get(*, membership: Membership, plan_id: int) -> TreatmentPlan:
    plan = _with_services(plans_visible_to(membership), membership.clinic_id).filter(pk=plan_id).first()
    if plan is None:
        raise Http404
    return plan


def plan_by_version(*, membership: Membership, enrollment: Enrollment, version: int) -> TreatmentPlan:
    plan = plans_of(membership=membership, enrollment=enrollment).filter(version=version).first()
    if plan is None:
        raise Http404
    return plan


def open_draft(*, enrollment: Enrollment) -> TreatmentPlan | None:
    return TreatmentPlan.objects.filter(
        clinic_id=enrollment.clinic_id, enrollment=enrollment, signed_at__isnull=True
    ).first()


def last_signed(*, enrollment: Enrollment) -> TreatmentPlan | None:
    return (
        _with_services(
            TreatmentPlan.objects.filter(clinic_id=enrollment.clinic_id, enrollment=enrollment), enrollment.clinic_id
        )
        .filter(signed_at__isnull=False)
        .order_by("-signed_at")
        .first()
    )


# --- Coverage (claim lines ask these) ------------------------------------------------------------


def covering_plan(plans: Iterable[TreatmentPlan], on_date: datetime.date) -> TreatmentPlan | None:
    """Of an enrollment's plans, the most recently signed one that covers `on_date`."""
    covering = [plan for plan in plans if plan.covers(on_date)]
    return max(covering, key=lambda plan: plan.signed_at, default=None)


def _signed_plans(*, clinic: Clinic, enrollment_ids) -> dict[int, list[TreatmentPlan]]:
    plans = TreatmentPlan.objects.filter(
        clinic=clinic, enrollment_id__in=list(enrollment_ids), signed_at__isnull=False
    ).select_related("signed_by__user")
    by_enrollment: dict[int, list[TreatmentPlan]] = defaultdict(list)
    for plan in plans:
        plan.clinic = clinic  # covers() reads the clinic's time zone; spare a query per plan
        by_enrollment[plan.enrollment_id].append(plan)
    return by_enrollment


def treatment_plan_covering(*, clinic: Clinic, enrollment, on_date: datetime.date) -> TreatmentPlan | None:
    """The signed plan that covers a date of service of an enrollment (an Enrollment or its id), or
    None: the claim line is then blocked with `itp_missing`. One query."""
    enrollment_id = getattr(enrollment, "pk", enrollment)
    return covering_plan(_signed_plans(clinic=clinic, enrollment_ids=[enrollment_id])[enrollment_id], on_date)


def plan_coverage_sql(*, plan: str) -> tuple[str, str]:
    """TreatmentPlan.signed_on and covers_until in SQL, for claim derivation over a whole clinic (billing.claims):
    the first and last date of service the signed plan (table alias `plan`) covers. Its parameters are %(tz)s,
    the clinic's time zone, and %(itp_review_days)s, settings.ITP_REVIEW_DAYS; tests/clinic checks them against
    covers()."""
    signed_on = f"({plan}.signed_at AT TIME ZONE %(tz)s)::date"
    return signed_on, f"{signed_on} + %(itp_review_days)s::int"


# --- What needs a physician's attention -------------------------------------------------------------


def plans_awaiting_signature(*, membership: Membership) -> QuerySet[TreatmentPlan]:
    """Drafts this physician may sign: of patients they are linked to, in open enrollments."""
    linked = PatientPhysician.objects.filter(
        clinic_id=membership.clinic_id, physician=membership, patient=OuterRef("enrollment__patient")
    )
    return (
        TreatmentPlan.objects.filter(
            clinic_id=membership.clinic_id, signed_at__isnull=True, enrollment__status__in=OPEN_ENROLLMENT
        )
        .filter(Exists(linked))
        .select_related("clinic", "enrollment__patient", "enrollment__program", "drafted_by__user")
        .annotate(patient_id=F("enrollment__patient_id"))
        .order_by("created_at", "id")
    )


def may_sign(membership: Membership, plan: TreatmentPlan) -> bool:
    """Physicians linked to the patient (referring or signing) sign; nobody else."""
    if not has_permission(membership, "itp.sign"):
        return False
    return PatientPhysician.objects.filter(
        clinic_id=membership.clinic_id, physician=membership, patient_id=plan.enrollment.patient_id
    ).exists()


class DueRow:
    """One line of the due list: an open CR/ICR/PR enrollment whose signed coverage ends within
    ITP_DUE_WITHIN_DAYS, has ended, or never began."""

    def __init__(self, enrollment: Enrollment, plan: TreatmentPlan | None, today: datetime.date):
        self.enrollment = enrollment
        self.plan = plan
        self.covers_until = plan.covers_until if plan else None
        self.days_left = (self.covers_until - today).days if plan else None

    @property
    def status(self) -> str:
        if self.plan is None:
            return "No signed plan"
        if self.days_left < 0:
            return f"Overdue by {-self.days_left} day{'s' if self.days_left != -1 else ''}"
        if self.days_left == 0:
            return "Coverage ends today"
        return f"Due in {self.days_left} day{'s' if self.days_left != 1 else ''}"

    @property
    def is_overdue(self) -> bool:
        return self.plan is None or self.days_left < 0


def clinic_today(clinic: Clinic) -> datetime.date:
    """Today in the clinic's time zone (a Celery task has no clinic time zone active)."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(clinic.timezone))


def plans_due(*, membership: Membership, today: datetime.date | None = None) -> list[DueRow]:
    """Open CR/ICR/PR enrollments (that this member may see) whose last signature's coverage ends
    within ITP_DUE_WITHIN_DAYS or has ended, and those with no signed plan at all; most urgent first.
    Two queries whatever the number of enrollments."""
    clinic = membership.clinic
    today = today or clinic_today(clinic)
    enrollments = list(
        Enrollment.objects.filter(
            clinic_id=clinic.pk,
            status__in=OPEN_ENROLLMENT,
            program__program_type__in=ITP_PROGRAM_TYPES,
            patient__in=patients_visible_to(membership),
        ).select_related("patient", "program")
    )
    signed = _signed_plans(clinic=clinic, enrollment_ids=[e.pk for e in enrollments])
    horizon = today + datetime.timedelta(days=settings.ITP_DUE_WITHIN_DAYS)
    rows = []
    for enrollment in enrollments:
        latest = max(signed.get(enrollment.pk, ()), key=lambda plan: plan.signed_at, default=None)
        if latest is None or latest.covers_until <= horizon:
            rows.append(DueRow(enrollment, latest, today))
    rows.sort(key=lambda row: (row.plan is not None, row.covers_until or today, row.enrollment.patient.last_name))
    return rows


def physicians_with_plans_due(*, clinic: Clinic, today: datetime.date) -> dict[Membership, int]:
    """For the daily email: each active physician member and how many of their linked patients'
    plans are due (coverage ends within ITP_DUE_WITHIN_DAYS, or has ended, or none signed yet)."""
    physicians = Membership.objects.filter(clinic=clinic, is_active=True, roles__contains=["physician"]).select_related(
        "user", "clinic"
    )
    counts = {}
    for physician in physicians:
        count = len(plans_due(membership=physician, today=today))
        if count:
            counts[physician] = count
    return counts
