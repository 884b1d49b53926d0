"""Reads of referral data, scoped by clinic and by what the acting membership may see."""

import datetime
from functools import partial

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from clinic.compiled import SAMPLE_MOMENT, AnyOf, CompiledQuery, columns_of, loaded, loaded_row, paths_of
from clinic.models import Clinic, Enrollment, Membership, Patient, PatientPhysician, Program, Role, User
from clinic.permissions import has_permission
from referrals.models import Referral, ReferralAttachment, ReferralStatusChange, ReferringProvider

OVERDUE_BUSINESS_DAYS = 2


def referrals_visible_to(membership: Membership) -> QuerySet[Referral]:
    return referrals_seen(
        visibility=referral_visibility(membership), clinic_id=membership.clinic_id, membership_id=membership.pk
    )


# How much of the clinic's referrals a member sees (referral_visibility).
SEES_ALL, SEES_OWN, SEES_NONE = "all", "own", "none"


def referral_visibility(membership: Membership) -> str:
    if has_permission(membership, "referral.view_all"):
        return SEES_ALL
    if has_permission(membership, "referral.view"):
        return SEES_OWN
    return SEES_NONE


def referrals_seen(*, visibility: str, clinic_id: int, membership_id: int | None) -> QuerySet[Referral]:
    """referrals_visible_to from the member's visibility and ids: a compiled query builds its SQL from these."""
    referrals = Referral.objects.filter(clinic_id=clinic_id)
    if visibility == SEES_ALL:
        return referrals
    if visibility == SEES_OWN:
        # Physicians: the referrals they sent.
        return referrals.filter(referring_provider__membership_id=membership_id)
    return referrals.none()


def compiled_for_each_visibility(build, **samples) -> dict[str, CompiledQuery]:
    """A query over referrals_seen compiled once (clinic.compiled) for each visibility that sees referrals:
    `build(visibility, clinic_id, …samples' names, membership_id=None)` returns its queryset. A physician's own
    referrals need the member in the query; everyone else's, only the clinic."""
    return {
        SEES_ALL: CompiledQuery(partial(build, SEES_ALL), clinic_id=-1, **samples),
        SEES_OWN: CompiledQuery(partial(build, SEES_OWN), clinic_id=-1, membership_id=-3, **samples),
    }


def compiled_for_member(queries: dict[str, CompiledQuery], membership: Membership) -> tuple[CompiledQuery | None, dict]:
    """The member's query among compiled_for_each_visibility's (None if they see no referral) and the member's
    values for it."""
    visibility = referral_visibility(membership)
    values = {"clinic_id": membership.clinic_id}
    if visibility == SEES_OWN:
        values["membership_id"] = membership.pk
    return queries.get(visibility), values


# A referral as its page, its actions and the API read it: every column of the referral, its program, provider,
# patient and enrollment, and the name of who overrode its eligibility (`User.__str__`; not the password hash).
REFERRAL_PARTS = [
    (Referral, "", columns_of(Referral)),
    (Program, "program__", columns_of(Program)),
    (ReferringProvider, "referring_provider__", columns_of(ReferringProvider)),
    (Patient, "patient__", columns_of(Patient)),
    (Enrollment, "enrollment__", columns_of(Enrollment)),
    (User, "eligibility_overridden_by__", ["id", "first_name", "last_name", "email"]),
]


def _referral_query(visibility, clinic_id, referral_id, membership_id=None):
    referrals = referrals_seen(visibility=visibility, clinic_id=clinic_id, membership_id=membership_id)
    return referrals.filter(pk=referral_id).values_list(*paths_of(REFERRAL_PARTS))


# A referral that the member sees, with REFERRAL_PARTS. Through the ORM, compiling this six-table `select_related`
# was a quarter of the referral page's CPU, about 1.5 ms, where PostgreSQL answers it in a tenth of that (issue 11).
REFERRAL_SEEN = compiled_for_each_visibility(_referral_query, referral_id=-2)


def referral_get(*, membership: Membership, referral_id: int) -> Referral:
    """A referral the member may see (referrals_visible_to), with its program, provider, patient, enrollment and
    eligibility overrider as `select_related` would give them; Http404 if there is none."""
    query, values = compiled_for_member(REFERRAL_SEEN, membership)
    rows = query.rows(referral_id=int(referral_id), **values) if query else []  # int(): the API's id is text
    if not rows:
        raise Http404
    referral, program, provider, patient, enrollment, overridden_by = loaded_row(rows[0], REFERRAL_PARTS)
    referral.program, referral.referring_provider, referral.patient = program, provider, patient
    referral.enrollment, referral.eligibility_overridden_by = enrollment, overridden_by
    return referral


# A referral's status history as its page shows it: each change with the name of who made it.
HISTORY_PARTS = [
    (ReferralStatusChange, "", ["id", "to_status", "reason", "changed_by_id", "changed_at"]),
    (User, "changed_by__", ["id", "first_name", "last_name", "email"]),
]
REFERRAL_HISTORY = CompiledQuery(
    lambda clinic_id, referral_id: ReferralStatusChange.objects.filter(clinic_id=clinic_id, referral_id=referral_id)
    .order_by("changed_at", "id")
    .values_list(*paths_of(HISTORY_PARTS)),
    clinic_id=-1, referral_id=-2,
)  # fmt: skip


def referral_history(referral: Referral) -> list[ReferralStatusChange]:
    """The status changes of a referral the member may see (referral_get), oldest first, each with `changed_by`
    (one query, compiled once: issue 11)."""
    changes = []
    for row in REFERRAL_HISTORY.rows(clinic_id=referral.clinic_id, referral_id=referral.pk):
        change, changed_by = loaded_row(row, HISTORY_PARTS)
        change.changed_by = changed_by
        changes.append(change)
    return changes


# A referral's documents as its page lists them.
ATTACHMENT_COLUMNS = ["id", "referral_id", "original_name", "size", "uploaded_at"]
REFERRAL_ATTACHMENTS = CompiledQuery(
    lambda clinic_id, referral_id: ReferralAttachment.objects.filter(clinic_id=clinic_id, referral_id=referral_id)
    .order_by("id")
    .values_list(*ATTACHMENT_COLUMNS),
    clinic_id=-1, referral_id=-2,
)  # fmt: skip


def referral_attachments(referral: Referral) -> list[ReferralAttachment]:
    """The documents of a referral the member may see (referral_get), in the order they were attached (one query,
    compiled once: issue 11)."""
    return [
        loaded(ReferralAttachment, **dict(zip(ATTACHMENT_COLUMNS, row, strict=True)))
        for row in REFERRAL_ATTACHMENTS.rows(clinic_id=referral.clinic_id, referral_id=referral.pk)
    ]


def business_days_before(moment: datetime.datetime, days: int) -> datetime.datetime:
    """The moment `days` working days (Monday–Friday) before `moment`."""
    while days > 0:
        moment -= datetime.timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def overdue_cutoff() -> datetime.datetime:
    return business_days_before(timezone.now(), OVERDUE_BUSINESS_DAYS)


# What the queue shows of a referral, its program and its provider (queue_tags.queue_rows), read as values:
# 25 rows of three model instances each took twice the CPU of their values (issue 11).
REFERRAL_QUEUE_COLUMNS = (
    "id", "created_at", "patient_last_name", "patient_first_name", "possible_duplicate", "urgency", "status",
    "last_action_at", "program__name", "referring_provider__first_name", "referring_provider__last_name",
    "referring_provider__credentials",
)  # fmt: skip


def referral_queue(
    *, membership: Membership, overdue_before: datetime.datetime, status: str = "", query: str = ""
) -> QuerySet[dict]:
    """The staff work queue: open referrals first, oldest first; each a dict of REFERRAL_QUEUE_COLUMNS. Overdue:
    open with a last action before `overdue_before` (overdue_cutoff(), read once for the page)."""
    referrals = referrals_visible_to(membership)
    if status == "open":
        referrals = referrals.filter(status__in=Referral.OPEN_STATUSES)
    elif status == "overdue":
        referrals = referrals.filter(status__in=Referral.OPEN_STATUSES, last_action_at__lt=overdue_before)
    elif status:
        referrals = referrals.filter(status=status)
    if query:
        # Providers are looked up first so that every branch of the OR is served by an index.
        provider_ids = list(
            ReferringProvider.objects.filter(clinic_id=membership.clinic_id, last_name__istartswith=query).values_list(
                "pk", flat=True
            )
        )
        referrals = referrals.filter(
            Q(patient_last_name__istartswith=query) | Q(patient_first_name__istartswith=query)
            | Q(patient_mrn__istartswith=query) | Q(referring_provider_id__in=provider_ids)
        )  # fmt: skip
    return referrals.order_by("created_at", "id").values(*REFERRAL_QUEUE_COLUMNS)


def _count_by_status_query(visibility, clinic_id, membership_id=None):
    referrals = referrals_seen(visibility=visibility, clinic_id=clinic_id, membership_id=membership_id)
    return referrals.order_by().values_list("status").annotate(n=Count("*"))


def _overdue_count_query(visibility, clinic_id, overdue_before, membership_id=None):
    referrals = referrals_seen(visibility=visibility, clinic_id=clinic_id, membership_id=membership_id)
    open_and_late = referrals.order_by().filter(status__in=Referral.OPEN_STATUSES, last_action_at__lt=overdue_before)
    return open_and_late.values("clinic_id").annotate(n=Count("*")).values_list("n")


# referral_status_counts' two queries. Through the ORM, compiling them was about a tenth of a queue page's CPU
# (issue 11). The overdue count is grouped by the clinic (one group, or none when nothing is overdue) because a
# compiled query is a queryset's SQL, and Django writes a plain COUNT(*) only when it runs it.
COUNT_BY_STATUS = compiled_for_each_visibility(_count_by_status_query)
OVERDUE_COUNT = compiled_for_each_visibility(_overdue_count_query, overdue_before=SAMPLE_MOMENT)


def referral_status_counts(*, membership: Membership, overdue_before: datetime.datetime) -> dict[str, int]:
    """Counts per status plus "open", "overdue" and "all" (the queue's tabs), in two queries, each answered from an
    index alone: a GROUP BY status (referral_status_idx) and the overdue among the open ones (referral_overdue_idx).
    One aggregate of seven FILTERed counts over every referral took twice the time (issue 11)."""
    counts = dict.fromkeys(Referral.Status.values, 0)
    by_status, values = compiled_for_member(COUNT_BY_STATUS, membership)
    overdue, _ = compiled_for_member(OVERDUE_COUNT, membership)
    if by_status:
        counts.update(by_status.rows(**values))
    counts["open"] = sum(counts[status] for status in Referral.OPEN_STATUSES)
    counts["all"] = sum(counts[status] for status in Referral.Status.values)
    counts["overdue"] = sum(n for (n,) in overdue.rows(overdue_before=overdue_before, **values)) if overdue else 0
    return counts


def possible_duplicate_patients(referral: Referral) -> QuerySet[Patient]:
    """Patients the referral may describe: same name and birth date, or the MRN it gives."""
    same_person = Q(
        first_name__iexact=referral.patient_first_name,
        last_name__iexact=referral.patient_last_name,
        date_of_birth=referral.patient_date_of_birth,
    )
    same_mrn = Q(mrn__iexact=referral.patient_mrn) if referral.patient_mrn else Q(pk__in=[])
    return Patient.objects.filter(Q(clinic_id=referral.clinic_id) & (same_person | same_mrn)).order_by("id")


# The chart's "Referrals": the columns it shows of a referral, its program and its provider.
CHART_REFERRAL_PARTS = [
    (Referral, "", ["id", "status", "referral_date", "program_id", "referring_provider_id"]),
    (Program, "program__", ["id", "name"]),
    (ReferringProvider, "referring_provider__", ["id", "first_name", "last_name", "credentials"]),
]


def _chart_referrals_query(visibility, clinic_id, patient_id, membership_id=None):
    referrals = referrals_seen(visibility=visibility, clinic_id=clinic_id, membership_id=membership_id)
    return (
        referrals.filter(patient_id=patient_id)
        .order_by("-created_at", "-id")
        .values_list(*paths_of(CHART_REFERRAL_PARTS))
    )


# A patient's referrals that the member sees, newest first. Through the ORM, compiling it was most of the chart's
# referrals panel's CPU (issue 11).
CHART_REFERRALS = compiled_for_each_visibility(_chart_referrals_query, patient_id=-2)


def patient_referrals(*, membership: Membership, patient_id: int) -> list[Referral]:
    """The chart's "Referrals": this patient's referrals that the member may see (referrals_visible_to), newest
    first (one query), each with its program and provider."""
    query, values = compiled_for_member(CHART_REFERRALS, membership)
    referrals = []
    for row in query.rows(patient_id=patient_id, **values) if query else []:
        referral, program, provider = loaded_row(row, CHART_REFERRAL_PARTS)
        referral.program, referral.referring_provider = program, provider
        referrals.append(referral)
    return referrals


def _provider_ids_query(*, one_clinic: bool) -> CompiledQuery:
    """The person's provider records (one per clinic where they are an active physician), or the one of the
    clinic named, compiled once (clinic.compiled: through the ORM, compiling it was most of its 1 ms of CPU a
    page; issue 11). Values: the user's id, and the clinic's slug."""

    def build(user_id, clinic_slug=None):
        providers = ReferringProvider.objects.filter(
            membership__user_id=user_id, membership__is_active=True, membership__roles__contains=[Role.PHYSICIAN]
        )
        if one_clinic:
            # A referral is in its provider's clinic (referral_save checks it), so the clinic named picks the
            # provider here rather than each referral's clinic joined by slug: on bench-big the count of the
            # physician's 3,066 referrals took 10 ms of PostgreSQL's time with the join, 4 without (issue 11).
            providers = providers.filter(clinic__slug=clinic_slug)
        return providers.values_list("pk")

    if one_clinic:
        return CompiledQuery(build, user_id=-1, clinic_slug="-1 (a slug no clinic has)")
    return CompiledQuery(build, user_id=-1)


PROVIDER_IDS, PROVIDER_IDS_IN_CLINIC = _provider_ids_query(one_clinic=False), _provider_ids_query(one_clinic=True)


def physician_referrals(*, user, clinic_slug: str = "", status: str = "") -> QuerySet[Referral]:
    """ "My patients": every referral the person sent, across the clinics where they are an active physician
    (or in the one clinic named). This is the one definition of a physician's "patients you referred":
    the page lists it and the home card counts it (physician_referral_counts)."""
    # The person's provider records first (one per clinic), so the referrals come from the
    # (referring_provider, -created_at) index rather than a join through every membership.
    if clinic_slug:
        providers = PROVIDER_IDS_IN_CLINIC.rows(user_id=user.pk, clinic_slug=clinic_slug)
    else:
        providers = PROVIDER_IDS.rows(user_id=user.pk)
    referrals = Referral.objects.filter(referring_provider_id__in=[provider_id for (provider_id,) in providers])
    if status:
        referrals = referrals.filter(status=status)
    return referrals.order_by("-created_at", "-id")


# A row of "My patients": the columns the list and its progress (outcomes.progress.headline_progress) read of
# the referral, its clinic, program and enrollment, and the enrollment's program and patient.
PHYSICIAN_ROW_PARTS = [
    (Referral, "", [
        "id", "clinic_id", "status", "patient_id", "program_id", "enrollment_id", "referral_date", "created_at",
        "patient_first_name", "patient_last_name", "referring_provider_id",
    ]),
    (Clinic, "clinic__", ["id", "slug", "name"]),
    (Program, "program__", ["id", "name"]),
    (Enrollment, "enrollment__", ["id", "clinic_id", "patient_id", "program_id", "status", "start_date",
                                  "first_session_at"]),
    (Program, "enrollment__program__", ["id", "headline_measure_id", "default_session_count"]),
    (Patient, "enrollment__patient__", ["id", "sex", "date_of_birth"]),
]  # fmt: skip


# Which of a page's patients the physician may open the chart of, compiled once (clinic.compiled; issue 11).
# Values: the page's patients, the physician's user.
CHART_VISIBLE = CompiledQuery(
    lambda patient_ids, user_id: PatientPhysician.objects.filter(
        AnyOf("patient_id", patient_ids), physician__user_id=user_id, physician__is_active=True
    ).values_list("patient_id"),
    patient_ids=[-1], user_id=-2,
)  # fmt: skip


def _physician_rows(referral_ids):
    return (
        Referral.objects.filter(AnyOf("id", referral_ids))
        .order_by("-created_at", "-id")
        .values_list(*paths_of(PHYSICIAN_ROW_PARTS))
    )


# A page of "My patients" by its referrals' ids, compiled once (clinic.compiled). Read with the slice as a
# subquery, its SQL held the page's LIMIT and OFFSET, so Django compiled it for each request (about 1.5 ms of
# CPU), and PostgreSQL planned its six tables anew for each ?status= (1.2 ms: a status's generic plan looked
# dearer than its custom one); by ids it is planned once per connection. The ids cost one small query of
# their own (the view's page of physician_referrals), which the portal's memberships read once pay for.
PHYSICIAN_ROWS = CompiledQuery(_physician_rows, referral_ids=[-1])


def physician_referral_rows(*, user, referral_ids: list[int]) -> list[Referral]:
    """The rows of one page of "My patients" (the ids of a page of physician_referrals), in its order, each with
    its clinic, program, enrollment and `chart_visible`.

    The rows are read as values and made instances by `loaded_row`, not by `select_related`, which took about
    2 ms more of the page's CPU in Django (issue 11)."""
    referrals = []
    made = {}  # the page's clinics, programs and patients, each made once (loaded_row)
    for row in PHYSICIAN_ROWS.rows(referral_ids=list(referral_ids)) if referral_ids else []:
        referral, clinic, program, enrollment, enrollment_program, patient = loaded_row(row, PHYSICIAN_ROW_PARTS, made)
        # Linked as the ORM links a select_related row (the field's cache), not by assignment, whose descriptor
        # checks each instance and sets its id again: 125 links a page (issue 11).
        Referral.clinic.field.set_cached_value(referral, clinic)
        Referral.program.field.set_cached_value(referral, program)
        Referral.enrollment.field.set_cached_value(referral, enrollment)  # None too: no query for a row without
        if enrollment is not None:
            Enrollment.program.field.set_cached_value(enrollment, enrollment_program)
            Enrollment.patient.field.set_cached_value(enrollment, patient)
        referrals.append(referral)
    # The chart opens from "My patients" only where the physician may see it (clinic.PatientPhysician):
    # a referral matched to an existing patient is linked once staff accept it.
    patient_ids = {referral.patient_id for referral in referrals if referral.patient_id is not None}
    visible = set()
    if patient_ids:
        visible = {patient_id for (patient_id,) in CHART_VISIBLE.rows(patient_ids=list(patient_ids), user_id=user.pk)}
    for referral in referrals:
        referral.chart_visible = referral.patient_id in visible
    return referrals


def physician_referral_counts(*, user, clinic_slug: str) -> dict[str, int]:
    """The physician's home card: how many referrals "My patients" lists for this clinic, and how many
    of them still await the clinic's review, in one query."""
    return physician_referrals(user=user, clinic_slug=clinic_slug).aggregate(
        referred=Count("id"), awaiting_review=Count("id", filter=Q(status__in=Referral.OPEN_STATUSES))
    )


def physician_memberships(memberships: list[Membership]) -> list[Membership]:
    """The physician memberships among the person's active ones (clinic.tenancy.active_memberships, with their
    clinics, which the portal's pages read anyway for the header: no query of its own), by clinic name."""
    return sorted((m for m in memberships if Role.PHYSICIAN in m.roles), key=lambda m: m.clinic.name)


def provider_of_physician(*, membership: Membership) -> ReferringProvider:
    """The physician's provider record for the portal form (unsaved if they have none yet)."""
    provider = ReferringProvider.objects.filter(clinic_id=membership.clinic_id, membership=membership).first()
    if provider is None:
        user = membership.user
        provider = ReferringProvider(
            clinic_id=membership.clinic_id, first_name=user.first_name or user.email, last_name=user.last_name,
            email=user.email,
        )  # fmt: skip
    return provider


def providers_of_clinic(*, clinic) -> QuerySet[ReferringProvider]:
    return ReferringProvider.objects.filter(clinic=clinic).select_related("membership__user")


def provider_get(*, clinic, provider_id: int) -> ReferringProvider:
    provider = ReferringProvider.objects.filter(clinic=clinic, pk=provider_id).first()
    if provider is None:
        raise Http404
    return provider


def programs_of_clinic(*, clinic, active_only: bool = False) -> QuerySet[Program]:
    programs = Program.objects.filter(clinic=clinic)
    return programs.filter(is_active=True) if active_only else programs


def program_get(*, clinic, program_id: int) -> Program:
    program = Program.objects.filter(clinic=clinic, pk=program_id).first()
    if program is None:
        raise Http404
    return program


def attachment_get(*, membership: Membership, referral_id: int, attachment_id: int) -> ReferralAttachment:
    referral = referral_get(membership=membership, referral_id=referral_id)
    attachment = ReferralAttachment.objects.filter(
        clinic_id=membership.clinic_id, referral=referral, pk=attachment_id
    ).first()
    if attachment is None:
        raise Http404
    return attachment


def medicare_dpp_warnings_at_first_session(*, clinic, enrollment_ids: list[int]) -> dict[int, str]:
    """For the floor sheet: Medicare DPP enrollments whose patient, judged again at the first core session
    (lab window, BMI measured there), is not eligible, with the reasons. Other enrollments are left out.

    Three queries whatever the number of enrollments: the referrals, the thresholds of their dates and
    the weights recorded at their first sessions (judged one by one, it was two per referral)."""
    from referrals import eligibility

    referrals = list(
        Referral.objects.filter(
            clinic=clinic, enrollment_id__in=enrollment_ids, program__program_type="mdpp",
            enrollment__first_session_at__isnull=False,
        ).select_related("program", "enrollment")
    )  # fmt: skip
    if not referrals:
        return {}
    preloaded = eligibility.Preloaded(
        thresholds=eligibility.load_thresholds_on({eligibility.referral_day(r) for r in referrals}),
        weights=eligibility.first_session_weights(
            clinic.pk, {(r.patient_id, eligibility.judgment_day(r).day) for r in referrals}
        ),
    )
    warnings = {}
    for referral in referrals:
        result = eligibility.eligibility_or_unknown(referral, preloaded)
        if result.status == eligibility.NOT_ELIGIBLE and not result.overridden:
            reasons = " ".join(o.reason for o in result.outcomes if o.status == eligibility.NOT_MET)
            warnings[referral.enrollment_id] = f"Not eligible for Medicare DPP at the first session: {reasons}"
    return warnings
