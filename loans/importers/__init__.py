"""LOS importers: each turns one file into a stream of checked ``LoanRow``s (see ``base.py``)."""

from __future__ import annotations

import datetime as dt

from loans.importers.base import Importer, ImportFileError, LoanRow, Opener, RowError
from loans.importers.csv_loans import CsvLoanImporter
from loans.importers.mismo import MismoLoanImporter
from loans.models import LoanImport

__all__ = ["ImportFileError", "Importer", "LoanRow", "RowError", "detect_format", "importer_for"]


def importer_for(file_format: str, opener: Opener, *, today: dt.date) -> CsvLoanImporter | MismoLoanImporter:
    if file_format == LoanImport.Format.CSV:
        return CsvLoanImporter(opener, today=today)
    if file_format == LoanImport.Format.MISMO:
        return MismoLoanImporter(opener, today=today)
    raise ImportFileError(f"Unknown import format {file_format!r}; use csv or mismo.")


def detect_format(filename: str, head: bytes) -> str:
    """MISMO when the name ends in .xml or the content starts with '<', else CSV."""
    if filename.lower().endswith(".xml") or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return LoanImport.Format.MISMO
    return LoanImport.Format.CSV
