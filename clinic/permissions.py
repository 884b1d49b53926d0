"""The permission table: which role may do what. The one place this is decided."""

import functools

from clinic.models import Role

ADMIN, PHYSIOLOGIST, PHYSICIAN, BILLING = Role.ADMIN, Role.PHYSIOLOGIST, Role.PHYSICIAN, Role.BILLING

PERMISSIONS: dict[str, set[str]] = {
    # Patients. Physicians see only their own patients (see selectors.patients_visible_to).
    "patient.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN, BILLING},
    "patient.view_all": {ADMIN, PHYSIOLOGIST, BILLING},
    "patient.create": {ADMIN, PHYSIOLOGIST, BILLING},
    "patient.edit": {ADMIN, PHYSIOLOGIST, BILLING},
    "patient.deactivate": {ADMIN},
    "patient.export": {ADMIN, BILLING},
    # Referrals. Physicians see only their own referrals (see referrals.selectors).
    "referral.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "referral.view_all": {ADMIN, PHYSIOLOGIST},
    "referral.create": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "referral.manage": {ADMIN, PHYSIOLOGIST},
    "referral.portal": {PHYSICIAN},
    "provider.manage": {ADMIN, PHYSIOLOGIST},
    "program.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN, BILLING},
    "program.manage": {ADMIN},
    "enrollment.manage": {ADMIN, PHYSIOLOGIST},
    # Session reminders (scheduling/reminders.py): their history on the chart and in the API.
    "reminder.view": {ADMIN, PHYSIOLOGIST, BILLING},
    # Exercise prescriptions. Physicians read those of their own patients only (patients_visible_to).
    "prescription.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "prescription.edit": {ADMIN, PHYSIOLOGIST},
    # Individualized treatment plans (clinic/treatment_plans/). Billing reads dates and signatures, not
    # the clinical text (diagnosis, goals, services); physicians read their own patients' plans and
    # sign those of patients they are linked to (treatment_plans.selectors.may_sign).
    "itp.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN, BILLING},
    "itp.view_clinical": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "itp.edit": {ADMIN, PHYSIOLOGIST},
    "itp.sign": {PHYSICIAN},
    "itp.due": {ADMIN, PHYSIOLOGIST, BILLING},
    # Progress of an enrollment (outcomes/progress.py): change from baseline, attendance, safety events.
    # Physicians read it for their own patients only; billing sees no clinical outcomes.
    "progress.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    # Schedules and bookings (scheduling/). Physicians read the bookings of their own patients only
    # (scheduling.selectors.bookings_visible_to); billing reads bookings and attendance, not clinical notes.
    "schedule.view": {ADMIN, PHYSIOLOGIST, BILLING},
    "schedule.manage": {ADMIN, PHYSIOLOGIST},
    "booking.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN, BILLING},
    "booking.view_all": {ADMIN, PHYSIOLOGIST, BILLING},
    "booking.manage": {ADMIN, PHYSIOLOGIST},
    "authorization.view": {ADMIN, PHYSIOLOGIST, BILLING},
    "authorization.manage": {ADMIN, PHYSIOLOGIST, BILLING},
    # The floor sheet (scheduling/floorsheet.py). Billing reads attendance and times, not clinical notes;
    # physicians read their own patients' sessions only (see floorsheet.session_logs_visible_to).
    "session.record": {ADMIN, PHYSIOLOGIST},
    "session.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN, BILLING},
    "session.view_clinical": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "safety.override": {ADMIN, PHYSIOLOGIST},
    "today.view": {ADMIN, PHYSIOLOGIST},
    # Billing (billing/): claim lines, batches, payers and fee schedules; coverage on the patient's chart.
    # Billing staff see attendance, codes and coverage, never clinical notes.
    "billing.view": {ADMIN, BILLING},
    "billing.manage": {ADMIN, BILLING},
    # The CDC DPRP evaluation export (billing/dprp.py): participants' weights and activity, no notes.
    "dprp.export": {ADMIN, BILLING},
    # The financial KPIs page and API (billing/kpis/): aggregates of claim lines, no patient named.
    "billing.kpi": {ADMIN, BILLING},
    # Medical-necessity notes (KX, rehab sessions 37–72): clinical text written by clinicians; billing sees that
    # a note exists, its author, date and the sessions it covers, never the text.
    "necessity_note.view": {ADMIN, PHYSIOLOGIST, BILLING},
    "necessity_note.view_clinical": {ADMIN, PHYSIOLOGIST},
    "necessity_note.write": {ADMIN, PHYSIOLOGIST},
    # Documentation packets (billing/packets/): a reviewer's copy of attendance, vitals, plans' signatures and
    # claims, structured values only (no clinicians' free text).
    "packet.request": {ADMIN, BILLING},
    "coverage.view": {ADMIN, PHYSIOLOGIST, BILLING},
    "coverage.manage": {ADMIN, BILLING},
    # Measures, batteries and assessments (outcomes/). The catalog holds no patient data; assessments and
    # observations are clinical: physicians read their own patients' only (patients_visible_to), billing none.
    "measure.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "measure.manage": {ADMIN},
    "battery.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "battery.manage": {ADMIN},
    "assessment.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "assessment.record": {ADMIN, PHYSIOLOGIST},
    "observation.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    # Clinical alerts (a PHQ-9 item 9 above 0): on the chart for clinicians, acknowledged by a physiologist.
    "alert.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "alert.acknowledge": {ADMIN, PHYSIOLOGIST},
    # Progress reports (outcomes/reports/): physicians read their own patients' (their inbox); billing none.
    "report.view": {ADMIN, PHYSIOLOGIST, PHYSICIAN},
    "report.request": {ADMIN, PHYSIOLOGIST},
    # Running the clinic.
    "staff.manage": {ADMIN},
    "clinic.settings": {ADMIN},
    "audit.view": {ADMIN},
    # The KPI dashboard, its exports and the KPI API (outcomes/kpis/): aggregates for running the clinic.
    "kpi.view": {ADMIN},
}


def has_permission(membership, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")
    return membership is not None and membership.is_active and bool(PERMISSIONS[permission] & set(membership.roles))


@functools.cache
def permissions_of(roles: frozenset[str]) -> frozenset[str]:
    """Every permission that any of `roles` grants: the header asks on every page (computed once per set of roles)."""
    return frozenset(name for name, allowed in PERMISSIONS.items() if roles & allowed)
