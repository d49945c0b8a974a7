"""refiapp settings: one module, driven by the environment (see .env.example)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from refiapp.env import env_bool, env_int, env_list, env_secret, env_str
from refiapp.security import lockout_parameters

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", debug=DEBUG, dev_default="dev-only-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public https base URL of this app; links in messages and webhook signature checks use it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "django_q",
    "anymail",
    "axes",
    "csp",
    # The house, lowest first (docs/architecture.md): each app imports only those above it in this list.
    "core",
    "loans",
    "rates",
    "pipeline",
    "outreach",
    "refinance",
    "los",
    "automations",
    "webhooks",
    "campaigns",
    "reports",
    "scoring",
    "refiapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # One clock: a signed-in staff request runs in its organization's time zone (pages, partials, exports, admin).
    "core.middleware.OrganizationTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "refiapp.urls"
WSGI_APPLICATION = "refiapp.wsgi.application"

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
                "core.context_processors.workspace",
                "rates.context_processors.rate_staleness",
            ],
            # {{ amount|usd }}, {{ rate|pct }}, {{ spread|pts }}: the one way every template shows money and rates.
            "builtins": ["core.templatetags.money"],
        },
    },
]

# SQLite file by default (the embedded demo); PostgreSQL through psycopg 3 when DATABASE_URL says so.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout so the web server and the django-q2 worker can share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis (optional): the shared cache (API rate limit) and the django-q2 broker, so any number of web servers and
# workers on any number of machines share them. Unset: per-process memory cache and the ORM broker (embedded).
REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes) on /accounts/login/ and /admin/login/: after LOGIN_FAILURE_LIMIT failures for
# one username, or from one client IP, logging in is refused for LOGIN_COOLOFF_MINUTES (docs/security.md).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
# Comma-separated; "username+ip_address" counts the pair instead (an office behind one NAT address).
AXES_LOCKOUT_PARAMETERS = lockout_parameters(env_list("LOGIN_LOCKOUT_PARAMETERS", "username,ip_address"))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "refiapp.security.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # failures are what matter; successful logins are not kept
# Proxies in front of the app that append to X-Forwarded-For (0: use the connection's address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The one date format and the one date-time format (core/formats/en/formats.py; also the fallback when no
# language is active, e.g. in a management command).
FORMAT_MODULE_PATH = ["core.formats"]
from core.formats.en.formats import DATE_FORMAT, DATETIME_FORMAT, SHORT_DATE_FORMAT, SHORT_DATETIME_FORMAT  # noqa: E402,F401

STATIC_URL = "static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads on local disk (MEDIA_ROOT) by default; on S3-compatible object storage (AWS S3, MinIO, R2, ...) through
# django-storages when AWS_STORAGE_BUCKET_NAME is set, so every web server and worker reads the same files. The
# bucket stays private: uploads are only ever read by the app (keys from the environment or the instance role).
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
UPLOAD_STORAGE = (
    {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            "location": env_str("AWS_LOCATION", "uploads"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    if AWS_STORAGE_BUCKET_NAME
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
)
STORAGES = {
    "default": UPLOAD_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploads (stored LOS exports): MEDIA_ROOT is never served by the app itself.
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "media"))
# LOS exports stream from disk past this size; a request body may not exceed 50 MB.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 52_428_800
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 52_428_800)
# Stored uploads are deleted after this many days (daily job expire-uploads); each user may keep this many bytes
# of uploads and upload this many files in 24 hours (the upload form says which limit was reached).
UPLOAD_RETENTION_DAYS = env_int("UPLOAD_RETENTION_DAYS", 90)
UPLOAD_MAX_BYTES_PER_USER = env_int("UPLOAD_MAX_BYTES_PER_USER", 524_288_000)
UPLOAD_MAX_PER_USER_PER_DAY = env_int("UPLOAD_MAX_PER_USER_PER_DAY", 20)

# Security: HTTPS everywhere outside DEBUG (manage.py check --deploy is clean; a test runs it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Deployment-checklist warnings that do not apply here, by name (scripts/release fails on every other one).
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS")
# Load balancers and orchestrators probe /healthz over plain http on the instance.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): the app's pages load scripts, styles and images only from this origin,
# with no inline script, no inline style and no eval (htmx is configured without them, see base.html). The
# admin's sequence preview alone allows inline styles, for the email HTML it shows in a sandboxed frame.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-q2: the Redis broker when REDIS_URL is set (workers on several machines; no receipts, so a task running
# in a killed worker is lost: the match is resumed by its own schedule, the outbox by reconciliation), else the ORM
# broker (at-least-once delivery). Every task is idempotent. retry > timeout > longest task.
Q_CLUSTER = {
    "name": "refiapp",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 600),
    "retry": env_int("Q_RETRY", 720),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 500,
    "label": "Task queue",
    "time_zone": "UTC",
    "sync": env_bool("Q_SYNC", False),
}

# Email: console by default; any django-anymail ESP in production (EMAIL_BACKEND + ANYMAIL_* vars).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "refiapp <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = {
    key: value
    for key, value in {
        "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET"),
        "SENDGRID_API_KEY": env_str("SENDGRID_API_KEY"),
        "POSTMARK_SERVER_TOKEN": env_str("POSTMARK_SERVER_TOKEN"),
        "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY"),
        "MAILGUN_SENDER_DOMAIN": env_str("MAILGUN_SENDER_DOMAIN"),
    }.items()
    if value
}

# SMS: "local" records messages in the database (embedded default); "twilio" sends through Twilio REST.
SMS_BACKEND = env_str("SMS_BACKEND", "local")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
TWILIO_TIMEOUT_SECONDS = env_int("TWILIO_TIMEOUT_SECONDS", 15)
# Optional ESP inbound address: a plus-tagged copy goes into Reply-To so borrower replies reach the app.
OUTREACH_INBOUND_EMAIL = env_str("OUTREACH_INBOUND_EMAIL")

# Market rates.
FRED_API_KEY = env_str("FRED_API_KEY")
FRED_API_URL = env_str("FRED_API_URL", "https://api.stlouisfed.org/fred/series/observations")

# LOS connections: the Fernet key(s) that encrypt stored client secrets (comma-separated: the first encrypts,
# all decrypt, for rotation). Generate one with `python -m los.secrets`. Not needed to start (collectstatic,
# migrate): `check --deploy` (scripts/release) fails without it, and saving or reading a secret refuses clearly.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZDA=" if DEBUG else "")
# Drop folders on S3 (django-storages): keys from the standard AWS environment variables or an instance role;
# region and endpoint as for uploads (above).
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None

# CRM webhooks: on, a webhook URL may be http and resolve to a private, loopback or link-local address (development,
# or a CRM on the same private network); off (default), only https URLs of public addresses are called.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
# The demo's stand-in CRM at /demo-crm/hooks/ (refiapp.demo_crm), the demo endpoint's receiver: `make demo` only
# (check --deploy warns when it is on outside DEBUG).
DEMO_CRM_RECEIVER = env_bool("DEMO_CRM_RECEIVER", False)

# API rate limit per token, and the largest command body (a command is about 1 KB): larger ones get a JSON 413.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120)
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 65_536)
# Fees added to every payoff of an existing loan (payoff statement, reconveyance/recording), in dollars.
REFINANCE_PAYOFF_FEE = Decimal(env_str("REFINANCE_PAYOFF_FEE", "0.00"))

# /healthz answers 503 when the last successful match / FRED fetch is older than this (a weekend is 4 days).
HEALTHZ_MATCH_MAX_AGE_HOURS = env_int("HEALTHZ_MATCH_MAX_AGE_HOURS", 100)
HEALTHZ_RATES_MAX_AGE_HOURS = env_int("HEALTHZ_RATES_MAX_AGE_HOURS", 100)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# A filter left empty reads "Any" (django-filter's default is "---------").
FILTERS_EMPTY_CHOICE_LABEL = "Any"
