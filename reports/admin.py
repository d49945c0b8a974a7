from django.contrib import admin

from core.admin_base import TenantAdmin
from reports.models import WeeklyReportSend


@admin.register(WeeklyReportSend)
class WeeklyReportSendAdmin(TenantAdmin):
    """Read-only log of weekly report emails: who got which week, and any error."""

    list_display = ("week_start", "recipient", "to_email", "sent_at", "attempts", "error")
    list_filter = ("week_start",)
    list_select_related = ("recipient",)
    search_fields = ("to_email", "recipient__display_name")
    readonly_fields = (
        "organization",
        "week_start",
        "recipient",
        "to_email",
        "claimed_at",
        "sent_at",
        "attempts",
        "error",
    )

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
