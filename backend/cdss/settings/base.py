"""Everything the CDSS needs to run, read from the environment (django-environ).

Required values fail fast with ImproperlyConfigured naming the variable. Each may also come from a
file named by `<NAME>_FILE` (Docker secrets). A `.env` at the repository root is read when present;
real environment variables win over it.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from core.messaging import names  # plain strings: the Celery task names of the beat schedule

BASE_DIR = Path(__file__).resolve().parents[2]  # backend/
REPO_ROOT = BASE_DIR.parent

env = environ.Env()
if (REPO_ROOT / ".env").is_file():
    environ.Env.read_env(REPO_ROOT / ".env", overwrite=False)
# Celery lets this variable (an older .env has it) override its settings at every read; the result backend
# is derived from REDIS_URL below, with Redis's credentials.
os.environ.pop("CELERY_RESULT_BACKEND", None)


def required(name: str) -> str:
    """The value of a variable the system cannot start without (or of the file `<name>_FILE` names)."""
    value = os.environ.get(name, "").strip()
    secret_file = os.environ.get(f"{name}_FILE", "").strip()
    if not value and secret_file:
        value = Path(secret_file).read_text(encoding="utf-8").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Set it in the environment or in .env (see .env.example for every variable)."
        )
    return value


def with_path(url: str, path: str) -> str:
    """`url` with its path replaced (a RabbitMQ vhost, a Redis database number)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{path}"))


def with_credentials(url: str, username: str, password: str) -> str:
    """`url` signed in as `username`:`password`, unless it names credentials itself or no password is set."""
    parts = urlsplit(url)
    if not password or parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"))


# --- Django core -------------------------------------------------------------------------------------
SECRET_KEY = required("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "django_prometheus",
    "knox",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # the one-time recovery codes
    "core",
    "audit",
    "acct",
    "emr",
    "radiology",
    "ai",
    "fhir_sync",
    "notifications",
    "routing",
    "board",
    "cds_hooks",
    "ops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The API's messages in the language the web UI sends (Accept-Language); after sessions, before common.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the session passed the second factor
    "core.middleware.RequestContextMiddleware",
    "audit.middleware.AuditCommittedMiddleware",  # after the context: no answer leaves before its events commit
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out into the lock-out response
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "cdss.urls"
WSGI_APPLICATION = "cdss.wsgi.application"
ASGI_APPLICATION = "cdss.asgi.application"
AUTH_USER_MODEL = "acct.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out callers before checking passwords
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Korean unless the request's Accept-Language asks for English (the web UI sends its chosen language).
# The project's own messages are translated in locale/ (the .mo is compiled by `make install` and the image).
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "Korean"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(REPO_ROOT / "var" / "static"))


# --- MariaDB (PyMySQL, utf8mb4, strict mode) -------------------------------------------------------
def database(url: str) -> dict:
    config = env.db_url_config(url)
    config["ENGINE"] = "django_prometheus.db.backends.mysql"  # the MySQL backend plus query metrics
    config["OPTIONS"] = {
        "charset": "utf8mb4",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        "isolation_level": "read committed",
        "connect_timeout": 5,
    }
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return config


# Two accounts (docs/security.md, "Database accounts"): the processes connect as DATABASE_URL's, which may
# only read and write rows; migrations run as DATABASE_OWNER_URL's (CDSS_DB_OWNER=1), and after each migrate
# core.dbaccess grants the application's role (DATABASE_APP_ROLE) its rights on every table.
DATABASE_APP_USER = env.db_url_config(required("DATABASE_URL"))["USER"]
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="cdss_app")
DATABASES = {
    "default": database(required("DATABASE_OWNER_URL" if env.bool("CDSS_DB_OWNER", default=False) else "DATABASE_URL"))
}

# --- Redis: cache, sessions, channel layer ----------------------------------------------------------
# Redis asks for a password (docs/security.md, "Redis"): REDIS_USERNAME / REDIS_PASSWORD sign in the URLs
# below that name no credentials of their own. rediss:// URLs use TLS.
REDIS_USERNAME = env.str("REDIS_USERNAME", default="cdss")
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="")
REDIS_URL = with_credentials(required("REDIS_URL"), REDIS_USERNAME, REDIS_PASSWORD)
CACHES = {
    "default": {
        "BACKEND": "django_prometheus.cache.backends.redis.NativeRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cdss",
        # JSON, never pickle: a value planted in Redis is refused, not run (core/cache.py)
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2, "serializer": "core.cache.JsonSerializer"},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # Each socket waits on Redis with a blocking pop of 5 s (channels_redis' brpop_timeout). redis-py's
        # default read timeout is also 5 s, so under load a socket's wait ended in a read timeout and the
        # socket was closed with 1011 (the soak benchmark saw every one go within a minute): reads get 15 s.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}],
            "prefix": "cdss:ws",
        },
    }
}

# --- RabbitMQ: our topology (core.messaging) and Celery --------------------------------------------
RABBITMQ_URL = required("RABBITMQ_URL")

CELERY_BROKER_URL = RABBITMQ_URL
CELERY_RESULT_BACKEND = with_path(REDIS_URL, "1")  # Redis database 1, signed in as REDIS_URL is
CELERY_TASK_ACKS_LATE = True  # a task is acknowledged after it ran, so a crash redelivers it
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker child requeues its task instead of acking it
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The worker's AMQP heartbeat: a worker host that drops off the network is given up by RabbitMQ after about
# this long and its unacknowledged tasks go to another worker (docs/scale-out.md). The ai-server reads it too.
CELERY_BROKER_HEARTBEAT = env.int("RABBITMQ_HEARTBEAT_SECONDS", default=30)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic tasks as code; django_celery_beat copies them into its database schedule at start-up.
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": names.RELAY_OUTBOX_TASK, "schedule": 5.0},
    "prune-outbox": {"task": names.PRUNE_OUTBOX_TASK, "schedule": 3600.0},
    "refresh-patient-cache": {"task": names.EMR_REFRESH_TASK, "schedule": 15 * 60.0},
}
CELERY_TIMEZONE = TIME_ZONE
# Sent outbox rows are deleted after this many days (core.outbox.prune_published); pending ones never.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)

# --- External systems ------------------------------------------------------------------------------
ORTHANC_URL = required("ORTHANC_URL").rstrip("/")
ORTHANC_USERNAME = required("ORTHANC_USERNAME")
ORTHANC_PASSWORD = required("ORTHANC_PASSWORD")
# Orthanc's DicomWeb.Root: the gateway's own path, so that URLs inside Orthanc's answers name the gateway
ORTHANC_DICOMWEB_ROOT = env.str("ORTHANC_DICOMWEB_ROOT", default="/api/radiology/dicom-web").rstrip("/")
# nginx serves DICOMweb retrievals straight from Orthanc once Django authorised the caller for the study
# (radiology.dicomweb.authorise_read): the grant is cached by nginx this long, and a read of a study is
# audited at most once per user and study in this window (docs/security.md, "DICOMweb reads").
RADIOLOGY_DICOMWEB_GRANT_SECONDS = env.int("RADIOLOGY_DICOMWEB_GRANT_SECONDS", default=10)
RADIOLOGY_DICOMWEB_AUDIT_SECONDS = env.int("RADIOLOGY_DICOMWEB_AUDIT_SECONDS", default=600)
# A refusal is kept this long (per credential and study): a viewer whose session ended does not send each of
# its hundreds of frame requests to Django, nor write a denial for each.
RADIOLOGY_DICOMWEB_REFUSAL_SECONDS = env.int("RADIOLOGY_DICOMWEB_REFUSAL_SECONDS", default=5)
# A measurement SR (DICOM SR in the PACS) parsed once is kept in the cache this long (ai.selectors): a stored
# instance does not change; the PACS is still asked each time which SRs a study holds.
MEASUREMENT_SR_CACHE_SECONDS = env.int("MEASUREMENT_SR_CACHE_SECONDS", default=86400)
FHIR_BASE_URL = env.str("FHIR_BASE_URL", default="").rstrip("/")  # empty: not configured
FHIR_TOKEN_URL = env.str("FHIR_TOKEN_URL", default="")  # empty: the FHIR server needs no token (stock HAPI)
FHIR_CLIENT_ID = env.str("FHIR_CLIENT_ID", default="")
FHIR_CLIENT_SECRET = env.str("FHIR_CLIENT_SECRET", default="")
FHIR_TIMEOUT_SECONDS = env.float("FHIR_TIMEOUT_SECONDS", default=10.0)
# --- CDS Hooks (cds_hooks, docs/cds-hooks.md): the EHRs allowed to call, and what the cards say --------------
# A JSON list of issuers: [{"iss": "...", "jwks_url": "..." | "jwks": {"keys": [...]}, "jku": [...]?,
# "fhir_servers": [...]?}]. An issuer not listed is refused (401).
CDS_HOOKS_ISSUERS = env.json("CDS_HOOKS_ISSUERS", default=[])
# The service's public base URL as the EHR calls it (the JWT's `aud` is this + /cds-services/...); empty:
# the request's own scheme and host (behind nginx, which sets them).
CDS_HOOKS_BASE_URL = env.str("CDS_HOOKS_BASE_URL", default="").rstrip("/")
CDS_HOOKS_WEB_URL = env.str("CDS_HOOKS_WEB_URL", default="").rstrip("/")  # the web UI for card links; empty: same
CDS_HOOKS_JWT_MAX_SECONDS = env.int("CDS_HOOKS_JWT_MAX_SECONDS", default=300)  # exp at most this far ahead
CDS_HOOKS_JWT_LEEWAY_SECONDS = env.int("CDS_HOOKS_JWT_LEEWAY_SECONDS", default=30)  # clock skew allowed
CDS_HOOKS_JWKS_CACHE_SECONDS = env.int("CDS_HOOKS_JWKS_CACHE_SECONDS", default=3600)
CDS_HOOKS_CORS_ORIGINS = env.list("CDS_HOOKS_CORS_ORIGINS", default=[])  # browser-based EHRs, never "*"
# patient-view: a lesion-volume card when the latest study changed by at least this much (percent, from the
# nadir upwards or from the baseline downwards); the default is the volumetric progression threshold.
CDS_HOOKS_VOLUME_CHANGE_PERCENT = env.float("CDS_HOOKS_VOLUME_CHANGE_PERCENT", default=40.0)
CDS_HOOKS_RECENT_IMAGING_DAYS = env.int("CDS_HOOKS_RECENT_IMAGING_DAYS", default=90)  # order-select/sign
EMR_BASE_URL = env.str("EMR_BASE_URL", default="").rstrip("/")  # empty: not configured
EMR_SITE = env.str("EMR_SITE", default="default")
EMR_CLIENT_ID = env.str("EMR_CLIENT_ID", default="")
EMR_CLIENT_SECRET = env.str("EMR_CLIENT_SECRET", default="")
EMR_USERNAME = env.str("EMR_USERNAME", default="")
EMR_PASSWORD = env.str("EMR_PASSWORD", default="")
EMR_TIMEOUT_SECONDS = env.float("EMR_TIMEOUT_SECONDS", default=5.0)
EMR_PATIENT_CACHE_TTL_SECONDS = env.int("EMR_PATIENT_CACHE_TTL_SECONDS", default=300)
# the periodic refresh asks the EMR only what changed since its last run (less this overlap, for clock
# skew and writes in flight); a full pass, in pages, at most this often
EMR_REFRESH_OVERLAP_SECONDS = env.int("EMR_REFRESH_OVERLAP_SECONDS", default=300)
EMR_FULL_REFRESH_INTERVAL_SECONDS = env.int("EMR_FULL_REFRESH_INTERVAL_SECONDS", default=86400)
AI_SERVER_URL = env.str("AI_SERVER_URL", default="").rstrip("/")
# Bearer token of the ai-server's internal write endpoints (POST /measurement-reports builds and stores a
# DICOM SR); the ai-server holds the same value. Empty: saving measurements answers 503.
AI_SERVICE_TOKEN = env.str("AI_SERVICE_TOKEN", default="")
# The tumour-board PDF's CJK font: TrueType outlines (reportlab cannot embed the CFF of fonts-noto-cjk), made
# from fonts-noto-cjk by scripts/board_font.py (docs/board.md); the backend image sets it to the font its
# `font` stage makes (backend/Dockerfile).
BOARD_PDF_FONT = env.str("BOARD_PDF_FONT", default="") or str(
    REPO_ROOT / "var" / "fonts" / "NotoSansCJKkr-Regular-TT.ttf"
)
# core.http: after this many consecutive failures calls to a system fail fast, until a probe succeeds.
CIRCUIT_BREAKER_FAILURES = env.int("CIRCUIT_BREAKER_FAILURES", default=5)
CIRCUIT_BREAKER_RESET_SECONDS = env.float("CIRCUIT_BREAKER_RESET_SECONDS", default=30.0)

# --- Object storage (MinIO in production; any S3 API) -----------------------------------------------
S3_ENDPOINT_URL = required("S3_ENDPOINT_URL")
# One account per service (docs/security.md, "Object-store accounts"): S3_ACCESS_KEY is the account of this
# process (scripts/process.sh, compose); a Django process given none is the application (cdss-app). The
# admin account creates the buckets and their object lock (core.storage.ensure_buckets: manage.py
# bootstrap, the tests); the running processes do not hold it.
S3_ACCESS_KEY = env.str("S3_ACCESS_KEY", default="") or required("APP_S3_ACCESS_KEY")
S3_SECRET_KEY = env.str("S3_SECRET_KEY", default="") or required("APP_S3_SECRET_KEY")
S3_ADMIN_ACCESS_KEY = env.str("S3_ADMIN_ACCESS_KEY", default="")
S3_ADMIN_SECRET_KEY = env.str("S3_ADMIN_SECRET_KEY", default="")
S3_REGION = env.str("S3_REGION", default="us-east-1")
S3_BUCKET_PREFIX = env.str("S3_BUCKET_PREFIX", default="")
S3_BUCKETS = {
    purpose: S3_BUCKET_PREFIX + name
    for purpose, name in {
        "artifacts": "ai-artifacts",
        "thumbnails": "dicom-thumbnails",
        "backups": "cdss-backups",
        "audit": "cdss-audit",  # signed audit checkpoints; object lock (core.storage.ensure_buckets)
        "models": "ai-models",  # the ai-server's model registry (written by cdss-models): created here only
    }.items()
}

# --- Audit chain (audit.chain, audit.checkpoints; docs/security.md "Audit trail") ---------------------------
# The checkpoint key signs the chain's head; give it only to the processes that run the audit tasks (empty:
# checkpoints are neither written nor checked, and verification reports that as an error).
AUDIT_CHECKPOINT_KEY = env.str("AUDIT_CHECKPOINT_KEY", default="")
AUDIT_CHECKPOINT_PREFIX = env.str("AUDIT_CHECKPOINT_PREFIX", default="checkpoints/")
AUDIT_CHECKPOINT_RETENTION_DAYS = env.int("AUDIT_CHECKPOINT_RETENTION_DAYS", default=6 * 366)
# Acknowledged restores (audit.restores): signed like the checkpoints, kept as long.
AUDIT_RESTORE_PREFIX = env.str("AUDIT_RESTORE_PREFIX", default="restores/")
# An event whose transaction commits this long after it occurred is no longer sealed but reported.
AUDIT_SEAL_WINDOW_SECONDS = env.int("AUDIT_SEAL_WINDOW_SECONDS", default=15 * 60)
# Monthly archives (audit.archive; docs/runbooks/audit-archive.md): kept locked in the audit bucket for at least
# two years (PIPA), removed from the database once older than AUDIT_DATABASE_MONTHS.
AUDIT_ARCHIVE_PREFIX = env.str("AUDIT_ARCHIVE_PREFIX", default="archives/")
AUDIT_ARCHIVE_RETENTION_DAYS = env.int("AUDIT_ARCHIVE_RETENTION_DAYS", default=6 * 366)
AUDIT_DATABASE_MONTHS = env.int("AUDIT_DATABASE_MONTHS", default=12)
CELERY_BEAT_SCHEDULE["audit-seal"] = {
    "task": names.AUDIT_SEAL_TASK,
    "schedule": env.float("AUDIT_SEAL_SECONDS", default=5.0),
}
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": names.AUDIT_CHECKPOINT_TASK,
    "schedule": env.float("AUDIT_CHECKPOINT_SECONDS", default=5 * 60.0),
}
CELERY_BEAT_SCHEDULE["audit-verify"] = {
    "task": names.AUDIT_VERIFY_TASK,
    "schedule": env.float("AUDIT_VERIFY_SECONDS", default=3600.0),
}

# --- Alerts: Alertmanager's webhook authenticates with this bearer token (empty: the webhook refuses all)
ALERTMANAGER_WEBHOOK_TOKEN = env.str("ALERTMANAGER_WEBHOOK_TOKEN", default="")

# --- Operations page (ops.selectors): links to the monitoring tools where they run (empty: no link). The
# page also asks PROMETHEUS_URL for the backups' age when this process cannot read their gauges itself.
GRAFANA_URL = env.str("GRAFANA_URL", default="").rstrip("/")
PROMETHEUS_URL = env.str("PROMETHEUS_URL", default="").rstrip("/")
ALERTMANAGER_URL = env.str("ALERTMANAGER_URL", default="").rstrip("/")
# The live colour of a blue-green deploy: the file scripts/deploy.sh switches, and this process's own colour.
DEPLOY_COLOUR_FILE = env.str("DEPLOY_COLOUR_FILE", default=str(REPO_ROOT / "var" / "run" / "colour"))
DEPLOY_COLOUR = env.str("CDSS_COLOUR", default="")

# --- Health ------------------------------------------------------------------------------------------
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)
# /ready serves one run of the checks for this long in each process (core/health.py: cached_checks).
READINESS_CACHE_SECONDS = env.float("READINESS_CACHE_SECONDS", default=2.0)

# --- Identity: sessions for browsers, knox tokens for API clients, lock-out after repeated failures ---
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_LIMIT_PER_USER": 20,
}
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # one attacker cannot lock everyone out
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "acct.api.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"
AXES_VERBOSE = False
# X-Real-IP is read only from these peers (nginx, which overwrites it): from anyone else it is ignored.
TRUSTED_PROXY_ADDRESSES = env.list("TRUSTED_PROXY_ADDRESSES", default=["127.0.0.1", "::1"])
# Two-factor sign-in (acct.otp): TOTP for ADMIN and OPS (and whoever enrols), recovery codes beside it.
OTP_TOTP_ISSUER = "CDSS"
OTP_REQUIRED_ROLES = ("ADMIN", "OPS")
CSRF_FAILURE_VIEW = "core.api.errors.csrf_failure"
SESSION_COOKIE_HTTPONLY = True
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",  # Swagger UI and admin set inline styles; scripts stay strict
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
X_FRAME_OPTIONS = "DENY"

# --- REST API and its OpenAPI schema ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "acct.authentication.TokenAuthentication",  # first, so a missing credential answers 401, not 403
        "acct.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "acct.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CDSS API",
    "DESCRIPTION": "Clinical decision support for the brain-tumour pathway.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our own static files: no CDN, works offline
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # a result's status appears in Result and in its Revision: one enum under one name
    "ENUM_NAME_OVERRIDES": {
        "ResultStatusEnum": "ai.models.AIResult.Status",
        "MeasurementKindEnum": "ai.api.serializers.MEASUREMENT_KINDS",
        "KindEnum": "emr.models.TimelineEvent.Kind",  # the name it had before the measurement kinds
    },
}

# --- Logging: one line per event on stdout; the process manager or Docker collects it ---------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.context.RequestIdLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["stdout"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"pika": {"level": "WARNING"}},
}

# --- Radiology: DICOM upload limits (keep nginx's client_max_body_size in nginx/cdss-proxy.conf equal to
# RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES), zip safety, the Orthanc change-feed import -------------------------
RADIOLOGY_UPLOAD_MAX_FILE_BYTES = env.int("RADIOLOGY_UPLOAD_MAX_FILE_BYTES", default=256 * 1024 * 1024)
RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES = env.int("RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES", default=1024 * 1024 * 1024)
RADIOLOGY_UPLOAD_MAX_FILES = env.int("RADIOLOGY_UPLOAD_MAX_FILES", default=5000)  # parts plus zip members
RADIOLOGY_ZIP_MAX_RATIO = env.int("RADIOLOGY_ZIP_MAX_RATIO", default=100)  # uncompressed/compressed, per member
RADIOLOGY_CHANGES_BATCH = env.int("RADIOLOGY_CHANGES_BATCH", default=200)
# How often the change feed reads Orthanc's /changes: a study sent by C-STORE appears this long at most after
# Orthanc calls it stable (ORTHANC_STABLE_AGE).
RADIOLOGY_CHANGES_SECONDS = env.float("RADIOLOGY_CHANGES_SECONDS", default=15.0)
# Threads that store checked files in Orthanc while the next ones are checked (1: one after another, the
# tested default; 2-4 measured faster, see docs/radiology.md).
RADIOLOGY_UPLOAD_CONCURRENCY = env.int("RADIOLOGY_UPLOAD_CONCURRENCY", default=4)
# Django's own cap on multipart parts must not be lower than ours; uploads go to temp files, never memory.
DATA_UPLOAD_MAX_NUMBER_FILES = max(RADIOLOGY_UPLOAD_MAX_FILES + 1, 100)  # our handler reports the extra one
CELERY_BEAT_SCHEDULE["radiology-changes-feed"] = {
    "task": names.RADIOLOGY_CHANGES_TASK,
    "schedule": RADIOLOGY_CHANGES_SECONDS,
}

# --- FHIR sync (fhir_sync): retries, reconciliation, which entities are sent ----------------------------
FHIR_SYNC_MAX_RETRIES = env.int("FHIR_SYNC_MAX_RETRIES", default=3)  # then a dead letter
FHIR_SYNC_RETRY_BACKOFF_SECONDS = env.float("FHIR_SYNC_RETRY_BACKOFF_SECONDS", default=10.0)  # 10, 20, 40 s (+jitter)
FHIR_SYNC_RETRY_BACKOFF_MAX_SECONDS = env.float("FHIR_SYNC_RETRY_BACKOFF_MAX_SECONDS", default=600.0)
FHIR_SYNC_RECONCILE_LIMIT = env.int("FHIR_SYNC_RECONCILE_LIMIT", default=1000)  # newest entities checked per type
FHIR_SYNC_AUDIT_EVENTS = env.bool("FHIR_SYNC_AUDIT_EVENTS", default=True)  # audit events as FHIR AuditEvents
# One transaction Bundle carries at most this many pending syncs (1: one request per entity, as before);
# a worker waits up to FHIR_BUNDLE_MAX_WAIT seconds for a Bundle to fill (0: sends what is pending now).
FHIR_BUNDLE_MAX_ENTRIES = env.int("FHIR_BUNDLE_MAX_ENTRIES", default=100)
FHIR_BUNDLE_MAX_WAIT = env.float("FHIR_BUNDLE_MAX_WAIT", default=0.0)
CELERY_BEAT_SCHEDULE["fhir-sync-reconcile"] = {
    "task": names.FHIR_RECONCILE_TASK,
    "schedule": env.float("FHIR_SYNC_RECONCILE_SECONDS", default=15 * 60.0),
}

# --- AI jobs (ai): deadline of one attempt, attempts before the poll fails a job, expression upload limit ---
AI_JOB_DEADLINE_SECONDS = env.int("AI_JOB_DEADLINE_SECONDS", default=900)
AI_JOB_MAX_ATTEMPTS = env.int("AI_JOB_MAX_ATTEMPTS", default=3)
AI_EXPRESSION_MAX_BYTES = env.int("AI_EXPRESSION_MAX_BYTES", default=5 * 1024 * 1024)
AI_SERVER_TIMEOUT_SECONDS = env.float("AI_SERVER_TIMEOUT_SECONDS", default=5.0)
# Building a measurement SR reads the measured images from the PACS first: longer than a model list.
AI_SERVER_SR_TIMEOUT_SECONDS = env.float("AI_SERVER_SR_TIMEOUT_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE["ai-poll-jobs"] = {
    "task": names.AI_POLL_TASK,
    "schedule": env.float("AI_POLL_SECONDS", default=30.0),
}
