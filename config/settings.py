"""All of Quorum's settings, read from the environment with safe defaults (README lists them)."""

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DJANGO_ENV = env("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured("DJANGO_ENV must be development, production or test")
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = Path(env("QUORUM_VAR_DIR", str(BASE_DIR / "var"))).resolve()

# --- secrets and hosts ----------------------------------------------------------------------
INSECURE_SECRET_KEYS = {"", "change-me", "changeme", "secret", "insecure", "django-insecure"}


def _development_secret_key():
    """A random key kept under var/ so sessions survive restarts of the embedded server."""
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


DEBUG = env_bool("DEBUG", not PRODUCTION and DJANGO_ENV != "test")
SECRET_KEY = env("SECRET_KEY") or ("" if PRODUCTION else _development_secret_key())
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "apps.orgs.errors.csrf_failure"

if PRODUCTION:
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if (
        SECRET_KEY.strip().lower() in INSECURE_SECRET_KEYS
        or SECRET_KEY.startswith("django-insecure")
        or len(SECRET_KEY) < 50
        or len(set(SECRET_KEY)) < 5
    ):
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if not ALLOWED_HOSTS or any(host in {"*", ".*"} or host.startswith("*") for host in ALLOWED_HOSTS):
        problems.append("ALLOWED_HOSTS must list the site's host names (no wildcard)")
    if not env("DATABASE_URL"):
        problems.append("DATABASE_URL must point at PostgreSQL")
    if not env("REDIS_URL"):
        problems.append("REDIS_URL must point at Redis")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems) + ".")

# --- applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "guardian",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "channels",
    "csp",
    # Quorum, in dependency order (DESIGN §3)
    "apps.audit",
    "apps.accounts",
    "apps.orgs",
    "apps.live",
    "apps.jobs",
    "apps.projects",
    "apps.tasks",
    "apps.qa",
    "apps.workforce",
    "apps.exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.orgs.middleware.DocumentCSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.orgs.middleware.PhiMfaRequiredMiddleware",
    "apps.orgs.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "apps.orgs.web.nav",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A psycopg connection pool per process: no connect per request, and safe under ASGI threads.
        pool_size = int(env("DB_POOL_MAX_SIZE", "10"))
        if pool_size > 0:
            DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
                "min_size": 1, "max_size": pool_size, "timeout": float(env("DB_POOL_TIMEOUT", "10")),
            }
        # No JIT compilation: the app's statements are short (and the exports' long ones gained nothing from it: a
        # third of a second compiling), and PostgreSQL compiled any whose estimated cost
        # passed jit_above_cost (an estimate off for a new project, a plan with a disabled sort) for about
        # 130 ms, inside a submit. A connection option, so a DATABASE_URL's own `options` would replace it.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
        # Hand-written hot statements (apps.orgs.rows.fetch) bind on the server and are prepared from their second
        # run on a connection; the ORM's client-side cursors never are. A transaction pooler in front of
        # PostgreSQL (PgBouncer before 1.21) needs DB_PREPARE_THRESHOLD= (empty: never prepare).
        threshold = os.environ.get("DB_PREPARE_THRESHOLD", "1").strip()
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = int(threshold) if threshold else None
        DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", f"test_{DATABASES['default']['NAME']}")}
else:
    # Embedded default (DESIGN §2): SQLite in WAL mode; IMMEDIATE transactions take the write
    # lock at BEGIN, so concurrent writers queue on busy_timeout instead of failing on upgrade.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "quorum.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: cache, channel layer, celery broker ----------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNELS_PREFIX", "quorum")},
        }
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Jobs run on a Celery worker thread inside the embedded server (apps.jobs.embedded).
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", "memory://")

# The queue jobs go to and workers take from; the browser tests give their server its own (tests/e2e).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True  # job state lives in the Job table, not a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int(env("JOB_SOFT_TIME_LIMIT", "3300"))
CELERY_TASK_TIME_LIMIT = int(env("JOB_TIME_LIMIT", "3600"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "audit-seal": {"task": "audit.seal", "schedule": float(env("AUDIT_SEAL_INTERVAL", "10"))},
    "jobs-reap-stale": {"task": "jobs.reap_stale", "schedule": 60.0},
    "jobs-worker-heartbeat": {"task": "jobs.worker_heartbeat", "schedule": 15.0},
    "tasks-expire-leases": {"task": "tasks.expire_leases", "schedule": float(env("LEASE_SWEEP_INTERVAL", "30"))},
    "qa-refresh-annotators": {"task": "qa.refresh_annotators", "schedule": 300.0},
    "workforce-pay-bonuses": {"task": "workforce.pay_bonuses", "schedule": 3600.0},
    "workforce-propose-promotions": {"task": "workforce.propose_promotions", "schedule": 24 * 3600.0},
}

# --- auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# django-guardian: object-level grants (e.g. "this annotator works on this project"); no anonymous user row.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if DJANGO_ENV == "test":
    # Fast hashing in the test suite only; argon2 stays first everywhere else.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "apps.orgs.adapters.InvitationAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("LOGIN_FAILED_RATE", "5/m/ip,5/5m/key"),
    "login": "30/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "signup": "20/m/ip",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", "Quorum")
# A session ends after SESSION_IDLE_TIMEOUT seconds without a request (each request renews it).
SESSION_COOKIE_AGE = int(env("SESSION_IDLE_TIMEOUT", str(60 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0"))
X_FRAME_OPTIONS = "DENY"
INVITATION_DAYS = int(env("INVITATION_DAYS", "7"))
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# --- email ----------------------------------------------------------------------------------
EMAIL_URL = env("EMAIL_URL")
if EMAIL_URL:
    _email = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = _email.username or ""
    EMAIL_HOST_PASSWORD = _email.password or ""
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
    EMAIL_USE_SSL = _email.scheme == "smtps"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Quorum <quorum@localhost>")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.orgs.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.orgs.pagination.CursorPage",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.orgs.throttling.ActorRateThrottle",
        "apps.orgs.throttling.AddressRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "actor": env("API_THROTTLE_RATE", "1200/min"),
        "anon": env("API_ANON_THROTTLE_RATE", "120/min"),
    },
    "EXCEPTION_HANDLER": "apps.orgs.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": "Multi-tenant data annotation: projects, queues, quality, workforce, exports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["apps.orgs.api.schema_paths_hook"],
    # Several models have a `status` or `source`: name their enums after the model.
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "apps.projects.models.Project.Status",
        "TaskStatusEnum": "apps.tasks.models.Task.Status",
        "AnnotationStatusEnum": "apps.tasks.models.Annotation.Status",
        "AnnotationSourceEnum": "apps.tasks.models.Annotation.Source",
    },
}
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 1000

# --- content security policy (no inline scripts; no CDN) ------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
# Front-end libraries from npm, copied there by `make install` (never a CDN), served as /static/vendor/….
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "var" / "vendor")]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- imports --------------------------------------------------------------------------------
IMPORT_MAX_BYTES = int(env("IMPORT_MAX_BYTES", str(1024**3)))  # above: 413
IMPORT_ASYNC_BYTES = int(env("IMPORT_ASYNC_BYTES", str(50 * 1024**2)))  # above: spooled, run as a job (202)
SNAPSHOT_SYNC_TASKS = int(env("SNAPSHOT_SYNC_TASKS", "50000"))  # POST /snapshots above this many tasks: a job (202)
MEDIA_MAX_FILE_BYTES = int(env("MEDIA_MAX_FILE_BYTES", str(200 * 1024**2)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

# --- audit ----------------------------------------------------------------------------------
# Events younger than this are never sealed, so no open transaction can still add below a seal.
AUDIT_SEAL_DELAY_SECONDS = float(env("AUDIT_SEAL_DELAY_SECONDS", "10"))
AUDIT_SEAL_BATCH = int(env("AUDIT_SEAL_BATCH", "5000"))

# --- jobs -----------------------------------------------------------------------------------
# `manage.py serve` (what `make run` starts) runs a Celery worker and beat as threads of the web
# process, on whatever broker is configured (in-memory without REDIS_URL); production runs them apart.
EMBEDDED_WORKER = env_bool("EMBEDDED_WORKER", not PRODUCTION)
WORKER_HEARTBEAT_MAX_AGE = int(env("WORKER_HEARTBEAT_MAX_AGE", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},  # one line per record, via root
        "django.db.backends": {"level": "INFO"},
    },
}
