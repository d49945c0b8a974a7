"""The text summary of an import: what ``import_loans`` and ``sync_los`` print and a drop folder files beside
each export (one format, so a lender reads every channel's result the same way)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loans.models import LoanImport


def summary_text(
    *,
    title: str,
    total: int,
    created: int,
    updated: int,
    unchanged: int,
    rejected: int,
    errors: Iterable[dict[str, Any]],
    extra: Iterable[str] = (),
) -> str:
    lines = [
        title,
        f"  rows {total}  created {created}  updated {updated}  unchanged {unchanged}  rejected {rejected}",
        *(f"  {line}" for line in extra),
    ]
    for error in errors:
        if error.get("line"):
            where = f"line {error['line']}"
        elif error.get("loan_number"):
            where = f"loan {error['loan_number']}"
        else:
            where = "file"
        if error.get("file"):
            where = f"{error['file']} {where}"
        column = f", {error['column']}" if error.get("column") else ""
        lines.append(f"  {where}{column}: {error['message']}")
    return "\n".join(lines)


def loan_import_summary(loan_import: LoanImport) -> str:
    return summary_text(
        title=f"{loan_import.filename} ({loan_import.get_format_display()}): {loan_import.get_status_display()}",
        total=loan_import.total_rows,
        created=loan_import.created_count,
        updated=loan_import.updated_count,
        unchanged=loan_import.unchanged_count,
        rejected=loan_import.rejected_count,
        errors=loan_import.errors,
    )
