"""Reads of tenant data. Each takes the clinic (and the acting membership where visibility depends
on the role); an id from a request that is not visible gives Http404."""

import datetime
import operator
import re
import zoneinfo
from contextlib import contextmanager
from functools import reduce

from allauth.mfa.models import Authenticator
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Upper
from django.http import Http404

from clinic.compiled import CompiledQuery, columns_of, loaded, loaded_row, paths_of
from clinic.models import ApiToken, AuditEntry, Clinic, Enrollment, Invitation, Measure, Membership, Patient, Program
from clinic.permissions import has_permission

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def parse_search_date(text: str) -> datetime.date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def measures_for(*, clinic: Clinic) -> QuerySet[Measure]:
    """The shared catalog and the clinic's own measures."""
    return Measure.objects.filter(Q(clinic__isnull=True) | Q(clinic=clinic)).order_by("category", "name", "pk")


def patients_visible_to(membership: Membership) -> QuerySet[Patient]:
    return patients_seen(
        visibility=patient_visibility(membership), clinic_id=membership.clinic_id, membership_id=membership.pk
    )


# How much of the clinic's patients a member sees (patient_visibility).
SEES_ALL, SEES_LINKED, SEES_NONE = "all", "linked", "none"


def patient_visibility(membership: Membership) -> str:
    if has_permission(membership, "patient.view_all"):
        return SEES_ALL
    if has_permission(membership, "patient.view"):
        return SEES_LINKED
    return SEES_NONE


def patients_seen(*, visibility: str, clinic_id: int, membership_id: int | None) -> QuerySet[Patient]:
    """patients_visible_to from the member's visibility and ids: a compiled query builds its SQL from these."""
    patients = Patient.objects.filter(clinic_id=clinic_id)
    if visibility == SEES_ALL:
        return patients
    if visibility == SEES_LINKED:
        # Physicians: only patients they referred or whose plan they sign.
        return patients.filter(physician_links__physician_id=membership_id).distinct()
    return patients.none()


def patient_search(*, membership: Membership, query: str = "", status: str = "") -> QuerySet[Patient]:
    """Search by name ("smith", "smith, jo", "jo smith"), MRN, or date of birth (2024-01-31 or 01/31/2024).

    Name and MRN match as case-insensitive prefixes, which the functional indexes on the patient
    table serve, so the search stays fast at any clinic size. Matches are sorted by the upper-cased
    names on purpose: no index has that order, so PostgreSQL finds the matches through the prefix
    indexes and sorts only them, instead of walking the name index and discarding every row that does
    not match (40,000 of 50,000 for "Sm").
    """
    patients = patients_visible_to(membership)
    if status:
        patients = patients.filter(status=status)
    query = query.strip()
    if query:
        return patients.filter(reduce(operator.or_, search_matches(query))).order_by(
            Upper("last_name"), Upper("first_name"), "id"
        )
    return patients.order_by("last_name", "first_name", "id")


def search_matches(query: str) -> list[Q]:
    """The ways a patient can match a (non-empty) search: any one of them is enough."""
    date = parse_search_date(query)
    if date is not None:
        return [Q(date_of_birth=date)]
    if "," in query:
        last, first = (part.strip() for part in query.split(",", 1))
        return [Q(last_name__istartswith=last, first_name__istartswith=first)]
    words = re.split(r"\s+", query)
    if len(words) >= 2:
        first, last = words[0], " ".join(words[1:])
        return [Q(first_name__istartswith=first, last_name__istartswith=last), Q(last_name__istartswith=query)]
    return [Q(last_name__istartswith=query), Q(first_name__istartswith=query), Q(mrn__istartswith=query)]


@contextmanager
def planned_for_the_search_term(query: str):
    """Run a search's queries planned for their term, not with PostgreSQL's generic plan (issue 11).

    The search's statements are prepared (DB_PREPARED_STATEMENTS), and after five runs PostgreSQL keeps a
    generic plan if it looks no dearer: for the search it estimates ~140 matches, but with the prefix a
    parameter (`LIKE UPPER($3)`) no prefix index can serve it, so that plan tests every patient of the clinic
    (bench-big, "Jo": about 25 ms of PostgreSQL's CPU where the plan for "Jo" takes a few). `SET LOCAL` keeps
    the setting to this transaction: other pages' statements keep their generic plans."""
    if not query.strip():
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


def patient_search_to_count(*, membership: Membership, query: str = "", status: str = "") -> QuerySet:
    """The ids of patient_search's matches, for counting them: one query per way of matching, joined by
    UNION. Each is then an index-only scan of its prefix index (they include what the search filters on,
    migration 0025), where the search's one query with OR reads every match from the table: 1,216 pages
    for "Jo" in bench-big (3,541 matches), 47 this way (issue 11). Prepared, it also stays planned for each
    search term: its generic plan (the term unknown) would filter the whole clinic and costs more."""
    patients = patients_visible_to(membership)
    if status:
        patients = patients.filter(status=status)
    query = query.strip()
    if not query:
        return patients.values_list("id")
    first, *others = (patients.filter(match).values_list("id") for match in search_matches(query))
    return first.union(*others) if others else first


# What the patient list shows of each patient (patient_tags.patient_rows): 7 of the patient's 30-odd columns.
PATIENT_LIST_COLUMNS = ("mrn", "first_name", "last_name", "date_of_birth", "sex", "primary_payer", "status")


def patient_list_rows(*, membership: Membership, query: str = "", status: str = "") -> QuerySet[Patient]:
    """patient_search with only the columns the patient list shows."""
    return patient_search(membership=membership, query=query, status=status).only(*PATIENT_LIST_COLUMNS)


# A patient the member may see, every column, compiled once per kind of visibility (clinic.compiled): through the
# ORM, compiling it was about 1.5 ms of a chart's CPU (issue 11), several times its running.
def _patient_query(visibility: str, columns: list[str]) -> CompiledQuery:
    def build(clinic_id, patient_id, membership_id=None):
        visible = patients_seen(visibility=visibility, clinic_id=clinic_id, membership_id=membership_id)
        return visible.filter(pk=patient_id).values_list(*columns)

    samples = {"clinic_id": -1, "patient_id": -2}
    if visibility == SEES_LINKED:  # a physician's own patients: the member is in the query
        samples["membership_id"] = -3
    return CompiledQuery(build, **samples)


PATIENT_SEEN = {visibility: _patient_query(visibility, columns_of(Patient)) for visibility in (SEES_ALL, SEES_LINKED)}
# Only whether the member may see the patient (the referral page's chart link).
PATIENT_ID_SEEN = {visibility: _patient_query(visibility, ["id"]) for visibility in (SEES_ALL, SEES_LINKED)}


def _seen_rows(queries: dict, membership: Membership, patient_id: int) -> list[tuple]:
    visibility = patient_visibility(membership)
    if visibility not in queries:
        return []
    values = {"clinic_id": membership.clinic_id, "patient_id": patient_id}
    if visibility == SEES_LINKED:
        values["membership_id"] = membership.pk
    return queries[visibility].rows(**values)


def patient_get(*, membership: Membership, patient_id: int) -> Patient:
    rows = _seen_rows(PATIENT_SEEN, membership, patient_id)
    if not rows:
        raise Http404
    return loaded(Patient, **dict(zip(columns_of(Patient), rows[0], strict=True)))


def patient_is_visible(*, membership: Membership, patient_id: int) -> bool:
    """Whether the member may see this patient (patients_visible_to), in one query compiled once (issue 11)."""
    return bool(_seen_rows(PATIENT_ID_SEEN, membership, patient_id))


# The chart's programs: a patient's enrollments with the columns the chart shows, compiled once (clinic.compiled:
# the chart's panels through the ORM were most of its CPU; issue 11). Value: the patient.
CHART_ENROLLMENT_PARTS = [
    (Enrollment, "", ["id", "patient_id", "status", "start_date", "ended_on", "program_id"]),
    (Program, "program__", ["id", "name", "program_type"]),
]
CHART_ENROLLMENTS = CompiledQuery(
    lambda patient_id: Enrollment.objects.filter(patient_id=patient_id)
    .order_by("-start_date")
    .values_list(*paths_of(CHART_ENROLLMENT_PARTS)),
    patient_id=-1,
)  # fmt: skip


def chart_enrollments(patient: Patient) -> list[Enrollment]:
    """The enrollments of a patient the member may see (patient_get), newest first, each with its program."""
    enrollments = []
    for row in CHART_ENROLLMENTS.rows(patient_id=patient.pk):
        enrollment, program = loaded_row(row, CHART_ENROLLMENT_PARTS)
        enrollment.program = program
        enrollments.append(enrollment)
    return enrollments


def memberships_of_clinic(*, clinic) -> QuerySet[Membership]:
    has_totp = Authenticator.objects.filter(user=OuterRef("user"), type=Authenticator.Type.TOTP)
    return (
        Membership.objects.filter(clinic=clinic)
        .select_related("user")
        .annotate(has_mfa=Exists(has_totp))
        .order_by("-is_active", "user__email")
    )


def full_name_or_email(first_name: str, last_name: str, email: str) -> str:
    """A member's label from values read without their user: `User.get_full_name()`, or the address."""
    return f"{first_name} {last_name}".strip() or email


# The audit trail's user filter, compiled once (clinic.compiled; issue 11). Value: the clinic.
MEMBER_USERS = CompiledQuery(
    lambda clinic: Membership.objects.filter(clinic=clinic)
    .order_by("-is_active", "user__email")
    .values_list("user_id", "user__first_name", "user__last_name", "user__email"),
    clinic=-1,
)  # fmt: skip


def member_user_choices(*, clinic) -> list[tuple[int, str]]:
    """(user id, name or email, as `str(user)`) of each member of the clinic, for a filter's select: read as
    values, not memberships and users (the audit trail's ~90 members in bench-big: 180 model instances a page)."""
    return [(user_id, full_name_or_email(*names)) for user_id, *names in MEMBER_USERS.rows(clinic=clinic.pk)]


def membership_get(*, clinic, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(clinic=clinic, pk=membership_id).first()
    if membership is None:
        raise Http404
    return membership


def pending_invitations(*, clinic) -> QuerySet[Invitation]:
    return Invitation.objects.filter(clinic=clinic, accepted_at__isnull=True, revoked_at__isnull=True).order_by(
        "-created_at"
    )


def invitation_get(*, clinic, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(clinic=clinic, pk=invitation_id).first()
    if invitation is None:
        raise Http404
    return invitation


def api_tokens_of(*, membership: Membership) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(clinic_id=membership.clinic_id, membership=membership).order_by("-created_at")


def api_token_get(*, membership: Membership, token_id: int) -> ApiToken:
    token = api_tokens_of(membership=membership).filter(pk=token_id).first()
    if token is None:
        raise Http404
    return token


# What the audit page and its export show (clinic/auditformat.py), not the hash chain, the serialized record or
# the actor's password hash.
AUDIT_ENTRY_COLUMNS = (
    "timestamp", "event", "object_repr", "clinic_id", "patient_id", "remote_addr", "changes", "changes_text",
    "actor_email", "actor", "content_type", "actor__first_name", "actor__last_name", "actor__email",
)  # fmt: skip


def audit_entries(
    *, clinic, patient_id=None, actor_id=None, event: str = "", date_from=None, date_to=None
) -> QuerySet[AuditEntry]:
    entries = (
        AuditEntry.objects.filter(clinic=clinic)
        .select_related("actor")  # the content type: auditformat.readable, from Django's cache
        .only(*AUDIT_ENTRY_COLUMNS)  # 0.5 of the 3.5 ms of CPU reading a page of 50 (bench-big)
    )
    if patient_id:
        entries = entries.filter(patient_id=patient_id)
    if actor_id:
        entries = entries.filter(actor_id=actor_id)
    if event:
        entries = entries.filter(event=event)
    # The days are the clinic's, compared as moments: `timestamp__date` converts every row's time to the local day
    # before comparing, which no index can serve (with a long trail, 10-30 ms of PostgreSQL a page; issue 11).
    if date_from:
        entries = entries.filter(timestamp__gte=_local_midnight(clinic, date_from))
    if date_to:
        entries = entries.filter(timestamp__lt=_local_midnight(clinic, date_to + datetime.timedelta(days=1)))
    return entries.order_by("-timestamp", "-id")


def _local_midnight(clinic: Clinic, day: datetime.date) -> datetime.datetime:
    """The first moment of `day` in the clinic's time zone."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=zoneinfo.ZoneInfo(clinic.timezone))
