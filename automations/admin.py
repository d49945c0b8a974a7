from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from automations.models import LoanReview, OfficerNotification, StatusTemplate
from core.admin_base import TenantAdmin


@admin.register(StatusTemplate)
class StatusTemplateAdmin(TenantAdmin):
    list_display = ["milestone", "channel", "is_active", "subject", "updated_at"]
    list_filter = ["channel", "is_active"]
    search_fields = ["milestone", "subject"]


class ReadOnlyAdmin(TenantAdmin):
    """Written by the automations only: managers read them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LoanReview)
class LoanReviewAdmin(ReadOnlyAdmin):
    list_display = ["loan", "checked_on", "months", "note_rate", "market_rate", "spread", "cleared", "opportunity"]
    list_filter = ["cleared", "checked_on"]
    list_select_related = ["loan", "opportunity"]
    search_fields = ["loan__loan_number"]
    readonly_fields = list_display + ["market_series", "created_at"]


@admin.register(OfficerNotification)
class OfficerNotificationAdmin(ReadOnlyAdmin):
    list_display = ["subject", "loan_officer", "sent_at", "attempts", "created_at"]
    list_select_related = ["loan_officer"]
    search_fields = ["subject", "key"]
    readonly_fields = ["loan_officer", "opportunity", "key", "to_address", "subject", "body", "attempts", "sent_at",
                       "error", "created_at"]  # fmt: skip
