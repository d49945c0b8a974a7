from __future__ import annotations

from django.db import models

from core.models import LoanOfficer, Organization
from core.tenancy import TenantQuerySet


class WeeklyReportSendQuerySet(TenantQuerySet):
    branch_path = "recipient__branch"
    officer_path = "recipient"


class WeeklyReportSend(models.Model):
    """One weekly report email to one manager for one week: the claim that keeps the send single.

    ``reports.tasks.send_due_weekly_reports`` inserts (or reclaims with a conditional UPDATE) this row before
    it sends and stamps ``sent_at`` after; the unique constraint makes a second run, a second worker or a
    late run skip a recipient who already has the week's report.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField(help_text="Monday of the reported week (organization's timezone).")
    recipient = models.ForeignKey(LoanOfficer, on_delete=models.CASCADE, related_name="weekly_report_sends")
    to_email = models.EmailField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WeeklyReportSendQuerySet.as_manager()

    class Meta:
        ordering = ["-week_start", "recipient"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "week_start", "recipient"], name="%(app_label)s_%(class)s_one_per_week"
            ),
        ]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else "pending"
        return f"Weekly report {self.week_start} to {self.to_email} ({state})"
