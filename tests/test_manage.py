from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_manage_without_a_secret_and_without_debug_fails_loudly():
    """No SECRET_KEY and no DEBUG=1: every command refuses (manage.py never turns DEBUG on by itself)."""
    completed = run_manage("check")
    assert completed.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in completed.stderr


def test_a_production_environment_still_fails_loudly_without_debug_or_secret():
    completed = run_manage("check", DEBUG="0")
    assert completed.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in completed.stderr


def test_a_developer_asks_for_debug_explicitly():
    completed = run_manage("check", DEBUG="1")
    assert completed.returncode == 0, completed.stderr


def test_makemigrations_reads_only_code_and_runs_without_a_secret():
    """The migration check a contributor (or CI) runs needs no secret; it still finds no missing migration."""
    completed = run_manage("makemigrations", "--check", "--dry-run")
    assert completed.returncode == 0, completed.stderr
    assert "No changes detected" in completed.stdout
