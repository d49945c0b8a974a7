"""Client secrets at rest: Fernet with FIELD_ENCRYPTION_KEY (rotation by a list of keys; clear failures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from los import secrets
from los.models import LosSync
from los.services.connections import los_connection_save
from los.services.sync import los_sync_run

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip_and_rotation(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    token = secrets.encrypt("client-secret")
    assert "client-secret" not in token and secrets.decrypt(token) == "client-secret"
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"  # rotation: the new key encrypts, the old one still reads
    assert secrets.decrypt(token) == "client-secret"
    assert Fernet(NEW.encode()).decrypt(secrets.encrypt("x").encode()) == b"x"


def test_a_replaced_key_is_a_clear_error(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    token = secrets.encrypt("client-secret")
    settings.FIELD_ENCRYPTION_KEY = NEW
    with pytest.raises(secrets.SecretUnreadable, match="cannot be decrypted with FIELD_ENCRYPTION_KEY"):
        secrets.decrypt(token)
    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured, match="must be a Fernet key"):
        secrets.encrypt("x")


@pytest.mark.django_db
def test_a_sync_with_an_unreadable_secret_fails_and_says_so(admin, settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    connection, _ = los_connection_save(
        organization=admin.organization, kind="encompass", client_id="id", client_secret="secret", instance_id="BE1"
    )
    settings.FIELD_ENCRYPTION_KEY = NEW
    sync = los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND)
    assert sync.status == LosSync.Status.FAILED
    assert "Enter the client secret again" in sync.message


def test_production_starts_without_the_key_but_check_deploy_and_use_refuse(tmp_path):
    """collectstatic and migrate must not need the LOS key (every page would be a 500 without static files);
    check --deploy (scripts/release) names it, and using a secret without it is a clear error."""
    root = ROOT
    env = {k: v for k, v in os.environ.items() if k not in {"FIELD_ENCRYPTION_KEY", "DATABASE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="refiapp.settings",
        DEBUG="0",
        SECRET_KEY="prod-like-" + "k3y" * 20,
        ALLOWED_HOSTS="refi.example.com",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=root, env=env, capture_output=True, text=True
    )
    assert collect.returncode == 0, collect.stderr[-2000:]
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=root, env=env, capture_output=True, text=True
    )
    assert check.returncode != 0 and "los.E001" in check.stderr + check.stdout


def test_saving_a_secret_without_the_key_is_a_clear_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.FIELD_ENCRYPTION_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY is empty"):
        secrets.encrypt("client-secret")
