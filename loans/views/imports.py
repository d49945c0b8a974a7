"""The import page: upload → preview (first rows, every row error) → confirm → summary."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.tables import safe_row
from core.tenancy import get_visible_or_404, profile_for
from core.views import profile_required
from loans.forms.imports import LoanImportCommitForm, LoanImportUploadForm
from loans.importers.base import FIELDS, FULL_NAME
from loans.importers.csv_loans import ALIASES
from loans.models import LoanImport
from loans.selectors import imports as selectors
from loans.services.imports import loan_import_commit, loan_import_preview

ERRORS_SHOWN = 500


def _no_profile(request: HttpRequest) -> HttpResponse:
    return render(request, "no_profile.html", status=403)


@login_required
@require_http_methods(["GET", "POST"])
def import_start(request: HttpRequest) -> HttpResponse:
    profile = profile_for(request.user)
    if profile is None:
        return _no_profile(request)
    form = LoanImportUploadForm(
        request.POST or None, request.FILES or None, user=request.user, zone=profile.organization.zone
    )
    if request.method == "POST" and form.is_valid():
        loan_import = loan_import_preview(
            organization=profile.organization,
            file=form.cleaned_data["file"],
            format=form.cleaned_data["format"] or None,
            user=request.user,
            filename=form.cleaned_data["file"].name,
        )
        return redirect("loans:import_preview", pk=loan_import.pk)
    recent = selectors.loan_import_list(user=request.user)[:10]
    return render(request, "loans/import_start.html", {"form": form, "recent": recent})


@login_required
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    loan_import = get_visible_or_404(LoanImport, request.user, pk=pk)
    if loan_import.status != LoanImport.Status.PREVIEWED:
        return redirect("loans:import_summary", pk=pk)
    rows, mapping = selectors.loan_import_sample(loan_import=loan_import)
    # The sample is parsed, not checked against the database: its verdict comes from the checked run's errors
    # (unknown officer, duplicate loan number, another officer's loan), so a rejected row never shows "OK".
    errors_by_line: dict[int, list[dict]] = {}
    for error in loan_import.errors:
        if error.get("line") is not None:
            errors_by_line.setdefault(error["line"], []).append(error)
    for row in rows:
        row.problems = errors_by_line.get(row.line, []) or [{"message": e.message} for e in row.errors]
    context = {
        "loan_import": loan_import,
        "rows": rows,
        "mapping": mapping,
        "errors": loan_import.errors[:ERRORS_SHOWN],
        "more_errors": max(0, len(loan_import.errors) - ERRORS_SHOWN),
        "form": LoanImportCommitForm(),
    }
    return render(request, "loans/import_preview.html", context)


@login_required
@require_POST
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    loan_import = get_visible_or_404(LoanImport, request.user, pk=pk)
    form = LoanImportCommitForm(request.POST)
    form.is_valid()
    try:
        loan_import = loan_import_commit(
            loan_import=loan_import, allow_partial=form.cleaned_data.get("allow_partial", False)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("loans:import_summary", pk=loan_import.pk)


@login_required
def import_summary(request: HttpRequest, pk: int) -> HttpResponse:
    loan_import = get_visible_or_404(LoanImport, request.user, pk=pk)
    if loan_import.status == LoanImport.Status.PREVIEWED:
        return redirect("loans:import_preview", pk=pk)
    file_errors = [error for error in loan_import.errors if error.get("line") is None]
    context = {
        "loan_import": loan_import,
        "errors": loan_import.errors[:ERRORS_SHOWN],
        "more_errors": max(0, len(loan_import.errors) - ERRORS_SHOWN),
        # A whole-file rejection has no rows to count: say why instead of "Rows 0 / Rejected 0".
        "file_error": sentence(file_errors[0]["message"]) if file_errors else "",
    }
    return render(request, "loans/import_summary.html", context)


def sentence(text: str) -> str:
    """One sentence with exactly one closing full stop (messages may or may not end with one)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


@profile_required
def import_help(request: HttpRequest) -> HttpResponse:
    """The import format, in the app: every column with the header names recognised (from the importer itself,
    so the page cannot drift from the code) and an example that uses the signed-in user's own email."""
    columns = []
    for name, field in FIELDS.items():
        names = ALIASES.get(name, [])[1:]
        columns.append({"name": name, "required": field.required, "help": field.help, "headers": names})
        if name == "borrower_last_name":
            columns.append(
                {
                    "name": "borrower_name",
                    "required": False,
                    "help": "The borrower's full name, split on its last space (instead of first and last name).",
                    "headers": ALIASES[FULL_NAME][1:],
                }
            )
    officer_email = request.profile.email or request.user.email or "your.email@lender.example"  # type: ignore[attr-defined]
    return render(request, "loans/import_help.html", {"columns": columns, "officer_email": officer_email})


@login_required
def import_errors_csv(request: HttpRequest, pk: int) -> HttpResponse:
    loan_import = get_visible_or_404(LoanImport, request.user, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{loan_import.pk}-errors.csv"'
    writer = csv.writer(response)
    writer.writerow(["line", "column", "loan_number", "message"])
    for error in loan_import.errors:
        line = error.get("line") or ""
        writer.writerow(safe_row([line, error.get("column", ""), error.get("loan_number", ""), error["message"]]))
    return response
