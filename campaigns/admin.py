from django.contrib import admin
from django.utils.html import format_html

from campaigns.models import Campaign
from campaigns.selectors import STAT_LABELS, campaign_stats
from core.admin_base import TenantAdmin


@admin.register(Campaign)
class CampaignAdmin(TenantAdmin):
    """Read-only: campaigns are created, edited and sent on their pages (``/campaigns/``) through the services, so
    the send is idempotent and each borrower gets the email once."""

    list_display = ("name", "status", "branch", "recipient_count", "sent_at", "created_at")
    list_filter = ("status",)
    list_select_related = ("branch",)
    search_fields = ("name",)
    readonly_fields = (
        "organization",
        "branch",
        "name",
        "status",
        "filters_summary",
        "subject_template",
        "body_template",
        "created_by",
        "approved_by",
        "approved_at",
        "recipient_count",
        "sent_at",
        "results",
        "created_at",
    )
    exclude = ("filters",)

    @admin.display(description="Results")
    def results(self, obj: Campaign) -> str:
        stats = campaign_stats(obj)
        parts = " · ".join(f"{label}: {getattr(stats, key)}" for key, label in STAT_LABELS)
        return format_html('{} (<a href="{}">campaign page</a>)', parts, obj.get_absolute_url())

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
