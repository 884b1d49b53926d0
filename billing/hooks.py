"""A saved floor-sheet row, or a signed treatment plan, re-derives its enrollment's claim lines after the
transaction commits (a signature is what clears `itp_missing`)."""

from django.db import connection, transaction

from billing.claims import request_derivation

PENDING = "_billing_enrollments_pending"


def session_log_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    _pending(instance)


def treatment_plan_saved(sender, instance, raw=False, **kwargs):
    if raw or instance.signed_at is None:
        return  # a draft changes no claim line
    _pending(instance)


def _pending(instance):
    # One task per clinic per transaction, however many rows a class save wrote: the first commit callback
    # sends them all, the others find nothing left. A rolled-back save's ids go with the next one (harmless).
    pending = connection.__dict__.setdefault(PENDING, {})
    enrollments = pending.setdefault(instance.clinic_id, set())
    if instance.enrollment_id not in enrollments:
        enrollments.add(instance.enrollment_id)
        transaction.on_commit(_flush)


def _flush():
    pending = connection.__dict__.pop(PENDING, {})
    for clinic_id, enrollment_ids in pending.items():
        request_derivation(clinic_id=clinic_id, enrollment_ids=enrollment_ids)
