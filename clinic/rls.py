"""PostgreSQL row-level security: the second wall between clinics.

Every table with a clinic column has a policy (see `enable_sql`) that shows and accepts only rows of
the clinics set on the database connection. The application connects as a role that is neither
superuser nor table owner, so the policy holds even where a query forgets its clinic filter.

What a connection may see is a `Scope`, stored in session settings (`medfit.*`):
- a page or API request under /c/<slug>/ or /api/v1/clinics/<slug>/ sees exactly that clinic
  (`clinic.tenancy`), the physician portal and sign-in events the clinics of the person's active
  memberships;
- any signed-in request sees the person's own memberships (to list their clinics);
- an API token or invitation is found by its hash before its clinic is known;
- audit entries of no clinic (a failed sign-in with an unknown email) are written in the platform
  scope, which sees exactly those;
- Celery tasks use the clinic they were given;
- management commands use `bypass()`, which is audited; migrations connect as the owner, whose
  connection starts with the bypass on (settings.DATABASES).

`RowLevelSecurityMiddleware` puts each request's scope in place and restores the previous scope at
the end, so a pooled connection never carries one request's clinic into the next.
"""

import contextlib
import logging
from dataclasses import dataclass

from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

logger = logging.getLogger("medfit.rls")

CLINIC_IDS = "medfit.clinic_ids"
USER_ID = "medfit.user_id"
TOKEN_HASH = "medfit.token_hash"  # noqa: S105 (a setting's name)
BYPASS = "medfit.rls_bypass"
PLATFORM = "medfit.platform"


@dataclass(frozen=True)
class Scope:
    clinic_ids: tuple[int, ...] = ()
    user_id: int | None = None
    token_hash: str = ""
    bypass: bool = False
    platform: bool = False  # audit entries that belong to no clinic (a sign-in with an unknown email)


NOTHING = Scope()


def _settings_of(scope: Scope) -> list[tuple[str, str]]:
    return [
        (CLINIC_IDS, ",".join(str(int(clinic_id)) for clinic_id in scope.clinic_ids)),
        (USER_ID, "" if scope.user_id is None else str(int(scope.user_id))),
        (TOKEN_HASH, scope.token_hash),
        (BYPASS, "on" if scope.bypass else ""),
        (PLATFORM, "on" if scope.platform else ""),
    ]


def current() -> Scope:
    return getattr(connection, "medfit_scope", NOTHING)


def activate(scope: Scope, *, force: bool = False) -> None:
    """Set what this connection may see. Skips the round trip when the scope is already in place."""
    if scope == current() and not force:
        return
    pairs = _settings_of(scope)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in pairs),
            [value for pair in pairs for value in pair],
        )
    connection.medfit_scope = scope


@contextlib.contextmanager
def scoped(scope: Scope):
    """Run a block with `scope`, then put back whatever was in place before."""
    previous = current()
    activate(scope)
    try:
        yield
    finally:
        activate(previous)


def clinic_scope(clinic_id: int, user_id: int | None = None) -> Scope:
    return Scope(clinic_ids=(clinic_id,), user_id=user_id)


def member_clinics_scope(user, memberships=None) -> Scope:
    """The clinics of every active membership the person holds (portal, sign-in events). `memberships`: those
    active memberships, where the caller has read them already (clinic.tenancy.active_memberships)."""
    from clinic.models import Membership

    if memberships is None:
        with scoped(Scope(user_id=user.pk)):
            clinic_ids = set(Membership.objects.filter(user=user, is_active=True).values_list("clinic_id", flat=True))
    else:
        clinic_ids = {membership.clinic_id for membership in memberships}
    return Scope(clinic_ids=tuple(sorted(clinic_ids)), user_id=user.pk)


@contextlib.contextmanager
def bypass(*, reason: str, actor=None):
    """See every clinic's rows: for management commands and the platform admin only. Audited."""
    from django.contrib.contenttypes.models import ContentType

    from clinic.models import AuditEntry, Clinic

    previous = current()
    activate(Scope(bypass=True))
    try:
        logger.warning("row-level security bypassed", extra={"reason": reason})
        AuditEntry.objects.create(
            content_type=ContentType.objects.get_for_model(Clinic),
            action=AuditEntry.Action.ACCESS,
            event=AuditEntry.Event.RLS_BYPASS,
            object_pk="",
            object_repr="All clinics",
            changes_text=reason,
            actor=actor,
            actor_email=actor.email if actor else "system",
        )
        yield
    finally:
        activate(previous)


@receiver(connection_created)
def _new_connection_sees_nothing(sender, connection, **kwargs):
    """A fresh database session has no medfit.* settings: nothing is visible until a scope is set."""
    connection.medfit_scope = NOTHING


class RowLevelSecurityMiddleware:
    """The request's baseline scope: a signed-in person sees their own memberships; clinic pages and
    the API narrow it to one clinic (`clinic.tenancy`, `clinic.tokens`); the Django admin bypasses
    for superusers. Runs before the API token middleware, so the restore covers token scopes too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        previous = current()
        user = getattr(request, "user", None)
        try:
            if user is not None and user.is_authenticated:
                if request.path.startswith("/admin/") and user.is_active and user.is_superuser:
                    with bypass(reason=f"Django admin: {request.method} {request.path}", actor=user):
                        return self.get_response(request)
                activate(Scope(user_id=user.pk))
            else:
                activate(NOTHING)
            return self.get_response(request)
        finally:
            activate(previous)


# --- Policies (used by migrations) -----------------------------------------------------------

FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION medfit_rls_bypass() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('medfit.rls_bypass', true), '') = 'on' $$;

CREATE OR REPLACE FUNCTION medfit_rls_clinic_ids() RETURNS bigint[] LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(string_to_array(nullif(current_setting('medfit.clinic_ids', true), ''), ',')::bigint[],
                   '{}'::bigint[]) $$;

CREATE OR REPLACE FUNCTION medfit_rls_user_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('medfit.user_id', true), '')::bigint $$;

CREATE OR REPLACE FUNCTION medfit_rls_platform() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('medfit.platform', true), '') = 'on' $$;

CREATE OR REPLACE FUNCTION medfit_rls_token_hash() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('medfit.token_hash', true), '') $$;
"""

# Each function in a scalar subquery: PostgreSQL computes it once per query (an init plan) instead of
# inlining it and parsing the settings for every row (migration 0022). The cast keeps `ANY` on the array.
VISIBLE = "((SELECT medfit_rls_bypass()) OR clinic_id = ANY ((SELECT medfit_rls_clinic_ids())::bigint[]))"


def enable_sql(table: str, *, also_visible: str = "", also_insertable: str = "") -> str:
    """SQL that puts `table` behind the wall: rows of the connection's clinics only, for every role
    (FORCE includes the owner). `also_visible` widens what may be read, updated and deleted, and
    `also_insertable` what may be written, for the few tables read before a clinic is known."""
    using = f"({VISIBLE} OR {also_visible})" if also_visible else VISIBLE
    check = f"({VISIBLE} OR {also_insertable})" if also_insertable else VISIBLE
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n"
        f"DROP POLICY IF EXISTS clinic_isolation ON {table};\n"
        f"CREATE POLICY clinic_isolation ON {table} USING {using} WITH CHECK {check};"
    )


def disable_sql(table: str) -> str:
    return (
        f"DROP POLICY IF EXISTS clinic_isolation ON {table};\n"
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;\n"
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
    )
