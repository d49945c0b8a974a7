"""Test overrides on top of the one settings module (selected in pyproject's pytest config)."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1vbmx5LWZpZWxkLWtleS0zMi1ieXRlcy1vayE=")

from refiapp.settings import *  # noqa: E402,F403
from refiapp.settings import DATABASES, Q_CLUSTER  # noqa: E402

DEBUG = False
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
# Tasks run inline; the ORM broker even when the environment names a Redis (tests never need one).
Q_CLUSTER = {**{k: v for k, v in Q_CLUSTER.items() if k != "redis"}, "orm": "default", "sync": True}
SMS_BACKEND = "local"
PUBLIC_BASE_URL = "https://refi.example.test"
ANYMAIL = {"WEBHOOK_SECRET": "hook-user:hook-password"}
TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
TWILIO_FROM_NUMBER = "+15005550006"
FRED_API_KEY = ""
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MEDIA_ROOT = "/tmp/refiapp-test-media"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (one per test process), not Django's shared-cache in-memory database: there, a second writer gets
    # "database table is locked" at once, while a real SQLite file waits (busy timeout, BEGIN IMMEDIATE) as in
    # production. The concurrent double-submit test of the command API needs the real behaviour.
    DATABASES["default"]["TEST"] = {"NAME": f"/tmp/refiapp-test-{os.getpid()}.sqlite3"}
