"""LOS connections: where an organization's loans come from on a schedule, every run of them, the files a drop
folder has taken in, and the applications (active Encompass loans) that later automations watch."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import choices_check
from core.formatting import datetime_text
from core.models import LoanOfficer, Organization
from core.tenancy import TenantQuerySet
from loans.models import Borrower, LoanImport

MONEY = {"max_digits": 13, "decimal_places": 2}


class ConnectionKind(models.TextChoices):
    ENCOMPASS = "encompass", "Encompass (Developer Connect API)"
    FOLDER = "folder", "Drop folder (Byte, Calyx and other exports)"


class ConnectionSchedule(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class LosConnection(models.Model):
    """One source of an organization's loans: an Encompass instance or a folder of LOS export files."""

    Kind = ConnectionKind
    Schedule = ConnectionSchedule

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="los_connections")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True, help_text="Disabled connections are never synced on schedule.")
    # Encompass Developer Connect
    base_url = models.URLField(
        "API base URL", blank=True, help_text="https://api.elliemae.com (the token and pipeline paths are added)."
    )
    client_id = models.CharField("client id", max_length=200, blank=True)
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    instance_id = models.CharField("instance id", max_length=100, blank=True, help_text="e.g. BE11140034")
    # Drop folder
    folder = models.CharField(
        max_length=500,
        blank=True,
        help_text="A directory on the server (/srv/los/exports) or an S3 prefix (s3://bucket/exports).",
    )
    # Schedule, in the organization's time zone
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.DAILY)
    run_at = models.TimeField("local time", default=dt.time(6, 0), help_text="In the organization's time zone.")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, null=True, blank=True, help_text="Weekly only.")
    # State
    modified_watermark = models.DateTimeField(
        null=True, blank=True, help_text="Encompass: last-modified time of the newest loan of the last good sync."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_slot = models.DateTimeField(null=True, blank=True, help_text="The scheduled run last claimed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "LOS connection"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="%(app_label)s_%(class)s_unique_name"),
            choices_check("kind", ConnectionKind, "%(app_label)s_%(class)s_kind_valid"),
            choices_check("schedule", ConnectionSchedule, "%(app_label)s_%(class)s_schedule_valid"),
            models.CheckConstraint(
                condition=Q(weekday__isnull=True) | Q(weekday__gte=0, weekday__lte=6),
                name="%(app_label)s_%(class)s_weekday_range",
            ),
            models.CheckConstraint(
                condition=~Q(schedule="weekly") | Q(weekday__isnull=False),
                name="%(app_label)s_%(class)s_weekly_has_weekday",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.client_secret_encrypted)

    def schedule_label(self) -> str:
        at = self.run_at.strftime("%H:%M")
        if self.schedule == self.Schedule.WEEKLY and self.weekday is not None:
            return f"Weekly, {Weekday(self.weekday).label} {at}"
        return f"Daily {at}"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    ADMIN = "admin", "Admin (sync now)"
    COMMAND = "command", "sync_los command"


class LosSync(models.Model):
    """One run of a connection, with the summary of a file import (same counts, same rejected-row shape)."""

    Status = SyncStatus
    Trigger = SyncTrigger

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(LosConnection, on_delete=models.CASCADE, related_name="syncs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The summary, as LoanImport keeps it: loans written to the portfolio.
    total_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, column, message, loan_number, file?}]")
    # Encompass: applications (active loans); drop folder: files taken in.
    applications_created = models.PositiveIntegerField(default=0)
    applications_updated = models.PositiveIntegerField(default=0)
    applications_unchanged = models.PositiveIntegerField(default=0)
    files_processed = models.PositiveIntegerField(default=0)
    files_rejected = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Why the sync failed, or what it did.")
    loan_import = models.ForeignKey(
        LoanImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Encompass: the closed loans, as imported.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "LOS sync"
        constraints = [
            choices_check("status", SyncStatus, "%(app_label)s_%(class)s_status_valid"),
            choices_check("trigger", SyncTrigger, "%(app_label)s_%(class)s_trigger_valid"),
            # One run at a time per connection (a second worker or a double click gets nothing to do).
            models.UniqueConstraint(
                fields=["connection"], condition=Q(status="running"), name="%(app_label)s_%(class)s_one_running"
            ),
        ]
        indexes = [
            # The connection page lists its syncs, newest first.
            models.Index(fields=["connection", "-started_at"], name="los_sync_connection_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {datetime_text(self.started_at)} ({self.get_status_display()})"


class FileOutcome(models.TextChoices):
    PROCESSED = "processed", "Imported (moved to processed/)"
    REJECTED = "rejected", "Rejected (moved to rejected/)"


class ProcessedFile(models.Model):
    """The drop folder's ledger: a file (name and content) is imported once, whatever happens to it after."""

    Outcome = FileOutcome

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(LosConnection, on_delete=models.CASCADE, related_name="files")
    sync = models.ForeignKey(LosSync, on_delete=models.SET_NULL, null=True, blank=True, related_name="files")
    name = models.CharField(max_length=255)
    content_hash = models.CharField("SHA-256", max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    loan_import = models.ForeignKey(LoanImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    moved_to = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "name", "content_hash"], name="%(app_label)s_%(class)s_once_per_content"
            ),
            choices_check("outcome", FileOutcome, "%(app_label)s_%(class)s_outcome_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class ApplicationQuerySet(TenantQuerySet):
    branch_path = "loan_officer__branch"
    officer_path = "loan_officer"


class ApplicationStatus(models.TextChoices):
    ACTIVE = "active", "Active (in the LOS pipeline)"
    CLOSED = "closed", "Closed (now in the portfolio)"


class Application(models.Model):
    """An active loan in the LOS (not closed yet): its milestone and rate lock, upserted by the LOS loan guid."""

    Status = ApplicationStatus

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="applications")
    connection = models.ForeignKey(
        LosConnection, on_delete=models.SET_NULL, null=True, blank=True, related_name="applications"
    )
    loan_officer = models.ForeignKey(
        LoanOfficer, on_delete=models.SET_NULL, null=True, blank=True, related_name="applications"
    )
    borrower = models.ForeignKey(Borrower, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    loan_guid = models.CharField("LOS loan guid", max_length=64)
    loan_number = models.CharField(max_length=40, blank=True)
    borrower_name = models.CharField(max_length=200, blank=True)
    borrower_email = models.EmailField(blank=True)
    loan_officer_name = models.CharField(max_length=120, blank=True, help_text="As the LOS names the officer.")
    milestone = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    loan_amount = models.DecimalField(**MONEY, null=True, blank=True)
    note_rate = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    lock_date = models.DateField(null=True, blank=True)
    lock_expiration = models.DateField(null=True, blank=True)
    milestone_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a sync saw the milestone change (or a new application after the connection's first sync): "
        "the borrower's status update is sent for it.",
    )
    last_modified = models.DateTimeField(null=True, blank=True, help_text="When the LOS last changed the loan.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        ordering = ["lock_expiration", "loan_number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "loan_guid"], name="%(app_label)s_%(class)s_unique_guid"),
            choices_check("status", ApplicationStatus, "%(app_label)s_%(class)s_status_valid"),
        ]

    def __str__(self) -> str:
        return self.loan_number or self.loan_guid
