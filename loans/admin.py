from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.admin_base import TenantAdmin
from loans.models import Borrower, ConsentEvent, Loan, LoanImport, LoanProduct


@admin.register(Borrower)
class BorrowerAdmin(TenantAdmin):
    list_display = [
        "__str__",
        "email",
        "mobile_phone",
        "mailing_state",
        "email_consent",
        "sms_consent",
        "do_not_contact",
    ]
    list_filter = ["email_consent", "sms_consent", "do_not_contact", "mailing_state"]
    search_fields = ["first_name", "last_name", "email", "mobile_phone"]
    # Consent is a ledger (ConsentEvent): it changes through imports and the borrower's opt-in/opt-out actions
    # (registered by outreach, which owns the consent services), never by editing these fields.
    readonly_fields = [
        "do_not_contact",
        "email_consent",
        "email_consent_at",
        "sms_consent",
        "sms_consent_at",
        "sms_consent_source",
        "email_opted_out_at",
        "sms_opted_out_at",
        "email_undeliverable_reason",
        "sms_undeliverable_reason",
        "created_at",
        "updated_at",
    ]


@admin.register(ConsentEvent)
class ConsentEventAdmin(TenantAdmin):
    list_display = ["created_at", "borrower", "channel", "action", "source"]
    list_filter = ["channel", "action"]
    list_select_related = ["borrower"]
    raw_id_fields = ["borrower"]
    search_fields = ["borrower__last_name", "borrower__email"]

    def has_change_permission(self, request: HttpRequest, obj: ConsentEvent | None = None) -> bool:
        return False  # append-only ledger

    def has_delete_permission(self, request: HttpRequest, obj: ConsentEvent | None = None) -> bool:
        return False


@admin.register(LoanProduct)
class LoanProductAdmin(TenantAdmin):
    list_display = [
        "code",
        "name",
        "product_type",
        "term_months",
        "rate_type",
        "max_ltv_rate_term",
        "max_ltv_cash_out",
        "min_credit_score",
        "max_dti",
        "is_active",
    ]
    list_filter = ["product_type", "rate_type", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Loan)
class LoanAdmin(TenantAdmin):
    list_display = [
        "loan_number",
        "borrower",
        "loan_officer",
        "branch",
        "product_type",
        "note_rate",
        "original_amount",
        "current_upb",
        "note_date",
        "status",
    ]
    list_filter = ["status", "product_type", "amortization", "purpose", "branch"]
    list_select_related = ["borrower", "loan_officer", "branch"]
    search_fields = ["loan_number", "borrower__last_name", "borrower__first_name", "mers_min"]
    raw_id_fields = ["borrower", "co_borrower", "refinanced_from"]
    readonly_fields = ["source", "created_at", "updated_at"]
    date_hierarchy = "note_date"


@admin.register(LoanImport)
class LoanImportAdmin(TenantAdmin):
    list_display = [
        "created_at",
        "filename",
        "format",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
        "uploaded_by",
    ]
    list_filter = ["status", "format"]
    readonly_fields = [f.name for f in LoanImport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
