"""Django settings. Everything that differs between machines comes from environment variables."""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# Anyone can read this key here, so it signs nothing outside development: without DEBUG the app
# refuses to start with it, and `check --deploy` fails on it (clinic/apps.py).
DEVELOPMENT_SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", "") or (DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in ("", DEVELOPMENT_SECRET_KEY):
    raise RuntimeError("Set SECRET_KEY to a key of your own (or DEBUG=1 for local development).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "auditlog",
    "csp",
    "clinic",
    "referrals",
    "scheduling",
    "outcomes",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise (static files keep their caching), above the rest, so error answers get it too.
    "clinic.nostore.NoStoreMiddleware",
    "clinic.requestlog.RequestLogMiddleware",
    "clinic.querystring.RefuseNulInQueryStringMiddleware",
    # Above sessions and authentication, whose database reads fail first while PostgreSQL is down.
    "clinic.errors.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "clinic.rls.RowLevelSecurityMiddleware",
    "clinic.tokens.ApiTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "clinic.sessions.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clinic.audit.AuditlogMiddleware",
    "clinic.sessions.RequireMfaMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.navigation",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------------
# Two PostgreSQL roles (see docs/deployment.md): the application role in DATABASE_URL (not superuser,
# not table owner, so row-level security holds), and the owner in DATABASE_OWNER_URL, used only with
# MEDFIT_DB_ROLE=owner by `migrate` and the audit retention command.
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://medfit_app@127.0.0.1:5432/medfit")
DATABASE_OWNER_URL = os.environ.get("DATABASE_OWNER_URL", "") or DATABASE_URL
DATABASE_APP_ROLE = dj_database_url.parse(DATABASE_URL)["USER"]


def database_settings(url: str, *, owner: bool) -> dict:
    database = dj_database_url.parse(
        url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")), conn_health_checks=True
    )
    if env_bool("DB_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a query prepared once it has run twice on a connection: PostgreSQL
        # then skips planning it, which under row-level security was most of its CPU for a page (a chart: 11 ms of
        # database CPU, 4 ms prepared; docs/architecture.md, issue 11). Off for a pooler in transaction mode
        # that cannot keep prepared statements.
        database["OPTIONS"] = {**database.get("OPTIONS", {}), "server_side_binding": True, "prepare_threshold": 2}
    if owner:
        # The owner's sessions see every clinic (migrations move data across clinics); see clinic/rls.py.
        database["OPTIONS"] = {**database.get("OPTIONS", {}), "options": "-c medfit.rls_bypass=on"}
    return database


DATABASE_AS_OWNER = os.environ.get("MEDFIT_DB_ROLE", "app") == "owner"
DATABASES = {
    "default": database_settings(DATABASE_OWNER_URL if DATABASE_AS_OWNER else DATABASE_URL, owner=DATABASE_AS_OWNER)
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def celery_url(redis_url: str) -> str:
    """Celery spells a Redis unix socket `redis+socket://`; redis-py spells it `unix://`."""
    return "redis+socket://" + redis_url.removeprefix("unix://") if redis_url.startswith("unix://") else redis_url


# The default cache holds what must survive a Redis outage or restart: allauth's sign-in rate limits
# and lockouts. It lives in PostgreSQL (table created after `migrate`, see clinic/apps.py): Django's
# database cache with one-statement writes and no culling; beat deletes expired rows (clinic/pgcache.py).
# Redis keeps only what may be lost: the worker heartbeat.
CACHE_TABLE = "medfit_cache"
CACHES = {
    "default": {"BACKEND": "clinic.pgcache.PostgresCache", "LOCATION": CACHE_TABLE},
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "medfit",
        # A dead Redis must cost a request a second, not the operating system's TCP timeout.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
}
# Sessions in PostgreSQL only: signed-in people stay signed in while Redis is down or restarts.
SESSION_ENGINE = "clinic.sessionstore"  # Django's database sessions, read with compiled SQL

CELERY_BROKER_URL = celery_url(REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing a task while Redis is down fails within about two seconds instead of hanging the request;
# a message that was not enqueued is still an unsent row for the beat job to send.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / ".data" / "celerybeat-schedule")
# Seconds: how often beat looks for unsent messages and how old one must be before it takes it
# (clinic/outbox.py). `make faults` shortens it so a run takes minutes, not hours.
OUTBOX_SWEEP_SECONDS = int(os.environ.get("OUTBOX_SWEEP_SECONDS", "60"))
# Seconds between runs of the session-reminder job (scheduling/reminders.py).
REMINDER_RUN_SECONDS = int(os.environ.get("REMINDER_RUN_SECONDS", "60"))
# KPI roll-ups (outcomes/kpis/rollups.py): clinics with at least this many enrollments get their dashboard's
# heavy aggregates stored every few minutes; the dashboard reads them while younger than the maximum age and
# reads every row live otherwise (and for smaller clinics, where that is fast).
KPI_ROLLUP_MIN_ENROLLMENTS = int(os.environ.get("KPI_ROLLUP_MIN_ENROLLMENTS", "5000"))
KPI_ROLLUP_REFRESH_MINUTES = int(os.environ.get("KPI_ROLLUP_REFRESH_MINUTES", "15"))
KPI_ROLLUP_MAX_AGE_MINUTES = int(os.environ.get("KPI_ROLLUP_MAX_AGE_MINUTES", "60"))
CELERY_BEAT_SCHEDULE = {
    # Messages that Redis, a killed worker or a mail server left unsent (clinic/outbox.py).
    "send-due-messages": {"task": "clinic.tasks.send_due_messages", "schedule": float(OUTBOX_SWEEP_SECONDS)},
    # Session reminders: plan the rows of upcoming bookings, send the due ones (scheduling/reminders.py).
    "session-reminders": {
        "task": "scheduling.tasks.send_session_reminders",
        "schedule": float(REMINDER_RUN_SECONDS),
        # A run queued while the worker was away is dropped: the next one does the same work.
        "options": {"expires": float(REMINDER_RUN_SECONDS)},
    },
    # Recurring classes generate their occurrences 8 weeks ahead (scheduling/services.py).
    "extend-schedules": {"task": "scheduling.tasks.extend_schedules", "schedule": 24 * 60 * 60.0},
    # Progress reports (outcomes/reports/services.py): the 30-day rows, daily; what no worker took, every 5 min.
    "schedule-progress-reports": {"task": "outcomes.reports.tasks.schedule_reports", "schedule": 24 * 60 * 60.0},
    "sweep-progress-reports": {
        "task": "outcomes.reports.tasks.sweep_reports",
        "schedule": 5 * 60.0,
        "options": {"expires": 5 * 60.0},
    },
    # Documentation packets no worker took, or a killed one left (billing/packets/services.py).
    "sweep-packets": {
        "task": "billing.packets.tasks.sweep_packets",
        "schedule": 5 * 60.0,
        "options": {"expires": 5 * 60.0},
    },
    # Observation exports a broker outage left queued (outcomes/kpis/exports.py).
    "kpi-exports": {"task": "outcomes.kpis.tasks.run_pending_exports", "schedule": 60.0, "options": {"expires": 60.0}},
    # KPI roll-ups of the large clinics (outcomes/kpis/rollups.py).
    "kpi-rollups": {
        "task": "outcomes.kpis.tasks.refresh_kpi_rollups",
        "schedule": KPI_ROLLUP_REFRESH_MINUTES * 60.0,
        "options": {"expires": KPI_ROLLUP_REFRESH_MINUTES * 60.0},
    },
    # DPRP evaluation exports a broker outage left queued (billing/dprp.py).
    "dprp-exports": {"task": "billing.tasks.run_pending_dprp_exports", "schedule": 60.0, "options": {"expires": 60.0}},
    # The default cache's expired rows (clinic/pgcache.py; it no longer culls as it writes).
    "expired-cache-entries": {
        "task": "clinic.tasks.delete_expired_cache_entries",
        "schedule": 15 * 60.0,
        "options": {"expires": 15 * 60.0},
    },
    # Physicians' daily count of treatment plans due: hourly, so a worker that was down at the hour
    # still sends it that day; the outbox key makes it once per physician per day.
    "itp-due-digests": {
        "task": "clinic.tasks.queue_itp_due_digests",
        "schedule": 60 * 60.0,
        "options": {"expires": 60 * 60.0},
    },
}
# Task modules outside an app's tasks.py.
CELERY_IMPORTS = ["outcomes.reports.tasks", "billing.packets.tasks"]
# PDF rendering has a queue of its own ("reports", `make run` starts a worker for it with a memory cap), so
# a burst of reports never delays an invitation or a reminder.
CELERY_TASK_ROUTES = {
    "outcomes.reports.tasks.render_report": {"queue": "reports"},
    "billing.packets.tasks.render_packet": {"queue": "reports"},
}
# Seconds: a report's soft time limit (the task records a failure) and hard limit (the process is killed).
REPORT_TIME_LIMIT_SECONDS = int(os.environ.get("REPORT_TIME_LIMIT_SECONDS", "120"))
# Seconds: a packet's (or a batch ZIP's) soft limit at 3/4, hard limit; below the broker's visibility timeout.
PACKET_TIME_LIMIT_SECONDS = int(os.environ.get("PACKET_TIME_LIMIT_SECONDS", "600"))
# A report or packet queued this many minutes ago that no worker took is queued again (outcomes/reports/services.py).
REPORT_REQUEUE_MINUTES = int(os.environ.get("REPORT_REQUEUE_MINUTES", "10"))
# A task a killed worker had taken goes back to the queue after this many seconds; it must exceed the
# longest task (PDF rendering), or a slow task would run twice. The sweeper covers messages sooner.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 15 * 60}
# Seconds; /healthz reports the worker down when its last heartbeat is older than this.
WORKER_HEARTBEAT_MAX_AGE = int(os.environ.get("WORKER_HEARTBEAT_MAX_AGE", "60"))

# --- Authentication (django-allauth) ----------------------------------------------------------
AUTH_USER_MODEL = "clinic.User"
AUTHENTICATION_BACKENDS = [  # Django's and allauth's, reading the request's user with compiled SQL
    "clinic.auth_backends.ModelBackend",
    "clinic.auth_backends.AuthenticationBackend",
]
# clinic/hashers.py says why Argon2id and these parameters; the others verify older hashes until they are
# upgraded at sign-in.
PASSWORD_HASHERS = [
    "clinic.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "clinic.accounts.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_RATE_LIMITS = {
    # Only FAILED sign-ins are limited (allauth counts an attempt before checking the password and takes
    # it back when the password was right): five wrong passwords for one account lock it for 15 minutes,
    # and one address gets 20 wrong passwords in 5 minutes, whichever accounts they were for.
    "login_failed": os.environ.get("LOGIN_FAILED_RATE_LIMIT", "20/5m/ip,5/15m/key"),
    # No limit on sign-ins as such: allauth's default (30/m/ip) counts successful ones too, so a clinic's
    # morning shift behind one NAT address got 429 from the 31st person on. Guessing is bounded above.
    "login": "",
    "reset_password": "5/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "MedFit"
MFA_RECOVERY_CODE_COUNT = 10

# Automatic logoff (HIPAA 164.312(a)(2)(iii)); a clinic can set its own value, this is the default.
IDLE_TIMEOUT_MINUTES = int(os.environ.get("IDLE_TIMEOUT_MINUTES", "15"))
SESSION_COOKIE_AGE = 12 * 60 * 60

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "MedFit <no-reply@medfit.example>")
# Text messages (scheduling/sms.py): a provider's backend class. Until one is named, production
# keeps text reminders unsent (and retried) instead of printing patients' numbers into the logs.
SMS_BACKEND = os.environ.get(
    "SMS_BACKEND", "scheduling.sms.ConsoleBackend" if DEBUG else "scheduling.sms.NotConfiguredBackend"
)
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clinic.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: a form carries no types (a boolean "0", a number as text), so neither the schema nor the
    # serializers' strictness (clinic.api.StrictCharField) could hold a form-encoded body to its fields.
    "DEFAULT_PARSER_CLASSES": ["clinic.parsers.JSONParser"],  # refuses deeply nested documents
    "DEFAULT_SCHEMA_CLASS": "clinic.api.AutoSchema",  # documents the error answers too
    "DEFAULT_PAGINATION_CLASS": "clinic.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "clinic.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MedFit API",
    "DESCRIPTION": "Clinic-scoped REST API. Authenticate with a personal token: `Authorization: Bearer <token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SexEnum": "clinic.models.Patient.Sex",
        "PatientStatusEnum": "clinic.models.Patient.Status",
        "ReferralStatusEnum": "referrals.models.Referral.Status",
        "PrescriptionComponentKindEnum": "clinic.models.PrescriptionComponent.Kind",
        "IntensityMethodEnum": "clinic.models.PrescriptionComponent.Intensity",
        "HrMaxMethodEnum": "clinic.models.HrMaxMethod",
        "OccurrenceStatusEnum": "scheduling.models.Occurrence.Status",
        "BookingStatusEnum": "scheduling.models.Booking.Status",
        "TimepointEnum": "outcomes.models.Timepoint",
        # Progress reports and packets share queued / rendering / ready / failed.
        "RenderStatusEnum": "billing.packets.models.PacketRequest.Status",
    },
}

# Demo data of the apps that build on clinic/, run by `manage.py seed_demo` after its own.
DEMO_SEEDERS = [
    "referrals.demo.seed",
    "clinic.prescription_demo.seed",
    "clinic.treatment_plans.demo.seed",
    "scheduling.demo.seed",
    "scheduling.reminder_demo.seed",
    "scheduling.floorsheet_demo.seed",
    "outcomes.demo.seed",
    "outcomes.reports.demo.seed",
    "billing.demo.seed",
]

# --- Audit trail ------------------------------------------------------------------------------
# How many proxies of ours (load balancer, nginx) stand in front of the app. Each appends the address
# it saw to X-Forwarded-For, so the client's address is the Nth from the right; 0 ignores the header.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
AUDITLOG_LOGENTRY_MODEL = "clinic.AuditEntry"
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_STORE_JSON_CHANGES = True
# auditlog's migrations always create its default table, which would sit unused (and block TRUNCATE
# through its foreign keys); our swapped-in clinic.AuditEntry is the only audit table.
MIGRATION_MODULES = {"auditlog": None}

# --- Static files, i18n -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
REFERRAL_ATTACHMENT_MAX_BYTES = int(os.environ.get("REFERRAL_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / ".data" / "private"))
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security headers -------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Logging: one JSON object a line, never patient data --------------------------------------
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        "path_template": {"()": "clinic.requestlog.PathTemplateFilter"},
        "template_lookup": {"()": "clinic.requestlog.TemplateLookupFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Every logger reaches the console handler (a logger without handlers would fall back to Python's
    # plain-text stderr handler). Django's request loggers name full URLs, which can carry identifiers:
    # 4xx lines are dropped (medfit.request logs every request), 5xx name the path template.
    "loggers": {
        "django.request": {"level": "ERROR", "filters": ["path_template"]},
        "django.template": {"filters": ["template_lookup"]},  # at DEBUG, it would name full URLs too
        "django.server": {"handlers": ["null"], "propagate": False},  # runserver's access log
    },
}

# Individualized treatment plans (clinic/treatment_plans.py): a signed ITP covers dates of service
# from its signature date up to this many days after it. Source: Medicare Benefit Policy Manual
# Ch.15 §232 and 42 CFR 410.47/410.49, "established, reviewed, and signed by a physician every 30
# days" (../shared/reference/domain.md 3.5). Billing may move it into its dated rules table.
ITP_REVIEW_DAYS = 30
# The staff "due or overdue" list and the physicians' daily email count plans whose coverage ends
# within this many days.
ITP_DUE_WITHIN_DAYS = 7
# The physicians' daily "plans due" email goes out at the first hourly run after this local hour.
ITP_DIGEST_HOUR = 7

# CDC DPRP evaluation export (billing/dprp.py). The column order is the CDC's 2018 template; A1C, COHORTID
# and COACHID came later and their positions in the 2024 template are unconfirmed (domain reference 1.4), so
# the whole list is configurable here, and the export page says the positions are unconfirmed. Column names
# are the CDC's; each must be one billing/dprp.py knows.
DPRP_COLUMNS = [
    "ORGCODE", "PARTICIP", "ENROLL", "PAYER", "STATE", "GLUCTEST", "GDM", "RISKTEST", "AGE", "ETHNIC", "AIAN",
    "ASIAN", "BLACK", "NHOPI", "WHITE", "SEX", "HEIGHT", "EDU", "DMODE", "SESSID", "SESSTYPE", "DATE", "WEIGHT",
    "PA", "A1C", "COHORTID", "COACHID",
]  # fmt: skip
# The codes the export writes. DMODE and the yes/no/not-reported codes are in CDC's example row and two
# independent apps; the ENROLL, PAYER and SEX lists are not verified (domain reference 1.4): check them
# against the current data dictionary. PA's "not recorded" is 999 in the 2018 example, 0 in the 2024 model.
DPRP_CODES = {
    "yes": "1",
    "no": "2",
    "not_reported": "9",
    "number_not_recorded": "999",
    "pa_not_recorded": "999",
    "enroll_referral": "1",  # every MedFit enrollment comes from a referral by a health-care professional
    "dmode": {"in_person": "1", "online": "2", "distance": "3"},
    "sex": {"M": "1", "F": "2"},
    "payer": {
        "medicare": "1",
        "medicare_advantage": "1",
        "medicaid": "2",
        "commercial": "3",
        "self_pay": "4",
        "employer": "6",
        "grant": "7",
    },  # fmt: skip
}
