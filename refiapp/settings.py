"""refiapp settings: one module, driven by the environment (see .env.example)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dj_database_url

from refiapp.env import env_bool, env_int, env_list, env_secret, env_str

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
    # The house, lowest first (docs/architecture.md): each app imports only those above it in this list.
    "core",
    "loans",
    "rates",
    "pipeline",
    "outreach",
    "refinance",
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
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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

_redis_url = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
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

# Security: HTTPS everywhere outside DEBUG (manage.py check --deploy is clean; a test runs it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-q2: ORM broker (at-least-once delivery; every task is idempotent). retry > timeout > longest task.
Q_CLUSTER = {
    "name": "refiapp",
    "orm": "default",
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

# API rate limit per token.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120)
# Fees added to every payoff of an existing loan (payoff statement, reconveyance/recording), in dollars.
REFINANCE_PAYOFF_FEE = Decimal(env_str("REFINANCE_PAYOFF_FEE", "0.00"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
