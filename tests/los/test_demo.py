"""The demo lender's drop folder: one real-format export that the first sync imports, and only once."""

from __future__ import annotations

import os
import time
from io import StringIO

import pytest
from django.core.management import call_command

from loans.models import Loan
from los.models import LosConnection, ProcessedFile
from refiapp.demo import DEMO_EXPORT_NAME

pytestmark = [pytest.mark.django_db]


def test_the_demo_drop_folder_imports_its_export_once(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("seed_demo", "--loans", "3", stdout=StringIO())
    connection = LosConnection.objects.get(organization__slug="demo")
    export = tmp_path / "media" / "demo-drop-folder" / DEMO_EXPORT_NAME
    assert connection.kind == "folder" and export.exists()
    long_ago = time.time() - 3600
    os.utime(export, (long_ago, long_ago))

    out = StringIO()
    call_command("sync_los", "--org", "demo", stdout=out)
    assert "  rows 12  created 12  updated 0  unchanged 0  rejected 0" in out.getvalue()
    assert Loan.objects.filter(loan_number__startswith="BYT-2025-").count() == 12
    loan = Loan.objects.select_related("loan_officer").get(loan_number="BYT-2025-1001")
    assert loan.loan_officer.email == "marcus.reed@prairiestatehl.example"
    assert ProcessedFile.objects.get().outcome == "processed" and not export.exists()

    call_command("seed_demo", "--loans", "3", stdout=StringIO())  # a rerun does not put the export back
    assert not export.exists()
    call_command("sync_los", "--org", "demo", stdout=StringIO())
    assert ProcessedFile.objects.count() == 1
