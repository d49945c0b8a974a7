"""Reads for the import pages: the user's imports and a sample of an import's rows."""

from __future__ import annotations

from itertools import islice
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from loans.importers import ImportFileError, LoanRow, importer_for
from loans.models import LoanImport


def loan_import_list(*, user: Any) -> QuerySet[LoanImport]:
    return LoanImport.objects.visible_to(user).select_related("uploaded_by", "loan_officer")


def loan_import_sample(*, loan_import: LoanImport, limit: int = 20) -> tuple[list[LoanRow], dict[str, object]]:
    """The first rows of the stored file as parsed (not checked against the database), and the column mapping."""
    if not loan_import.file:
        return [], {}
    opener = lambda: loan_import.file.storage.open(loan_import.file.name, "rb")  # noqa: E731
    try:
        importer = importer_for(loan_import.format, opener, today=timezone.localdate())
        return list(islice(importer.rows(), limit)), importer.describe()
    except ImportFileError:
        return [], {}
