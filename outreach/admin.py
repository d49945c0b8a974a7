"""Manager console for outreach: sequences (with step preview), and read-mostly views of the outbox."""

from __future__ import annotations

from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin_base import TenantAdmin, TenantInline, scoped
from core.choices import Channel
from loans import admin as loans_admin
from loans.models import Borrower
from outreach.forms import SequenceStepForm
from outreach.models import BookingRequest, Enrollment, LocalSms, Message, Sequence, SequenceStep, WebhookEvent
from outreach.rendering import TOKENS, TemplateError, preview_links, render_step, token_context
from outreach.selectors import opportunities_for_preview
from outreach.services.consent import borrower_do_not_contact, borrower_opt_in, borrower_opt_out
from outreach.services.dispatch import message_requeue
from outreach.services.enrollments import EnrollmentError, enrollment_pause, enrollment_resume, enrollment_stop
from outreach.services.webhooks import webhook_event_process


class SequenceStepInline(TenantInline):
    """Stacked, not tabular: every field keeps its label (screen readers) and the templates their width."""

    template = "admin/edit_inline/stacked.html"
    model = SequenceStep
    form = SequenceStepForm
    extra = 0
    ordering = ["position"]


@admin.register(Sequence)
class SequenceAdmin(TenantAdmin):
    list_display = ["name", "is_default", "is_active", "step_count", "organization"]
    list_filter = ["is_default", "is_active"]
    search_fields = ["name"]
    inlines = [SequenceStepInline]
    readonly_fields = ["preview_link", "token_help"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("organization").annotate(step_total=Count("steps"))

    @admin.display(description="Steps", ordering="step_total")
    def step_count(self, obj: Sequence) -> int:
        return obj.step_total

    @admin.display(description="Preview")
    def preview_link(self, obj: Sequence) -> str:
        if not obj.pk:
            return "Save the sequence to preview it against a real opportunity."
        url = reverse("admin:outreach_sequence_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview every step against a real opportunity</a>', url)

    @admin.display(description="Tokens")
    def token_help(self, obj: Sequence) -> str:
        items = format_html_join("", "<li><code>{{{{ {} }}}}</code> — {}</li>", TOKENS.items())
        return format_html("<ul>{}</ul>", items)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/preview/",
                # The email HTML (inline styles, as email needs) shows in a sandboxed srcdoc frame, which
                # inherits this page's policy: inline styles are allowed here, and only here.
                self.admin_site.admin_view(csp_update({"style-src": [UNSAFE_INLINE]})(self.preview_view)),
                name="outreach_sequence_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        sequence = self.get_queryset(request).filter(pk=object_id).first()
        if sequence is None or not self.has_view_permission(request, sequence):
            raise Http404("No such sequence.")
        # The same scope as the board: a branch manager previews only their branch's borrowers.
        candidates = scoped(opportunities_for_preview(organization_id=sequence.organization_id), request)
        chosen_id = request.GET.get("opportunity")
        if chosen_id:
            opportunity = candidates.filter(pk=chosen_id).first() if chosen_id.isdigit() else None
            if opportunity is None:
                raise Http404("No such opportunity.")
        else:
            opportunity = candidates.first()
        previews = []
        if opportunity is not None:
            context = token_context(
                opportunity=opportunity,
                borrower=opportunity.borrower,
                officer=opportunity.loan_officer,
                organization=sequence.organization,
                links=preview_links(),  # never a live signed link: a click in the preview would be the borrower's
            )
            for step in sequence.steps.order_by("position"):
                try:
                    rendered = render_step(
                        channel=step.channel,
                        subject_template=step.subject_template,
                        body_template=step.body_template,
                        context=context,
                        organization=sequence.organization,
                    )
                    previews.append({"step": step, "rendered": rendered, "error": ""})
                except TemplateError as exc:
                    previews.append({"step": step, "rendered": None, "error": str(exc)})
        return TemplateResponse(
            request,
            "admin/outreach/sequence/preview.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Preview: {sequence.name}",
                "sequence": sequence,
                "opportunity": opportunity,
                "candidates": candidates[:200],
                "previews": previews,
                "opts": self.model._meta,
            },
        )


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["pk", "opportunity", "sequence", "status", "stop_reason", "started_at", "stopped_at"]
    list_filter = ["status", "stop_reason"]
    list_select_related = ["opportunity", "sequence"]
    raw_id_fields = ["opportunity"]
    search_fields = ["opportunity__borrower__last_name", "opportunity__loan__loan_number"]
    actions = ["pause", "resume", "stop"]

    def _run(self, request: HttpRequest, queryset: QuerySet, action: Any, label: str) -> None:
        done = 0
        for enrollment in queryset.select_related("opportunity"):
            try:
                action(enrollment=enrollment, actor=request.user)
                done += 1
            except EnrollmentError as exc:
                self.message_user(request, f"{enrollment}: {exc}", messages.WARNING)
        self.message_user(request, f"{label} {done} enrollment(s).")

    @admin.action(description="Pause selected sequences")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, enrollment_pause, "Paused")

    @admin.action(description="Resume selected sequences")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, enrollment_resume, "Resumed")

    @admin.action(description="Stop selected sequences")
    def stop(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, lambda **kw: enrollment_stop(**kw) or None, "Stopped")


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["pk", "channel", "status", "to_address", "due_at", "sent_at", "hold_reason", "error_code"]
    list_filter = ["status", "channel"]
    list_select_related = ["step"]
    search_fields = ["to_address", "provider_message_id", "subject"]
    date_hierarchy = "due_at"
    actions = ["requeue"]

    @admin.action(description="Re-queue selected failed messages")
    def requeue(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for message in queryset.select_related("enrollment"):
            try:
                message_requeue(message=message, actor=request.user)
                done += 1
            except ValueError as exc:
                self.message_user(request, f"Message {message.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"Re-queued {done} message(s).")


@admin.register(BookingRequest)
class BookingRequestAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["opportunity", "phone", "preferred_date", "preferred_windows", "created_at"]
    list_select_related = ["opportunity"]
    raw_id_fields = ["opportunity"]


class SuperuserOnlyMixin(ReadOnlyMixin):
    """Rows without an organization: operators only (managers see the same data on Message)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(WebhookEvent)
class WebhookEventAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["received_at", "provider", "kind", "event_id", "processed_at", "error"]
    list_filter = ["provider", "kind"]
    search_fields = ["event_id"]
    actions = ["process_now"]

    @admin.action(description="Process selected events now")
    def process_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = sum(1 for event in queryset if webhook_event_process(event_id=event.pk))
        self.message_user(request, f"Processed {done} event(s).")


@admin.register(LocalSms)
class LocalSmsAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "to", "from_number", "body", "sid"]
    search_fields = ["to", "sid"]


def _consent_action(request: HttpRequest, queryset: QuerySet, *, service: Any, channel: str, verb: str) -> int:
    changed = 0
    for borrower in queryset:
        source = f"admin ({request.user})"
        changed += bool(service(borrower=borrower, channel=channel, source=source, actor=request.user))
    return changed


class BorrowerAdmin(loans_admin.BorrowerAdmin):
    """The borrower page with consent actions that write the consent ledger (and cancel scheduled messages)."""

    actions = ["opt_out_email", "opt_out_sms", "undo_email_opt_out", "undo_sms_opt_out", "mark_do_not_contact"]

    def _run(self, request: HttpRequest, queryset: QuerySet, service: Any, channel: str, verb: str) -> None:
        changed = _consent_action(request, queryset, service=service, channel=channel, verb=verb)
        self.message_user(request, f"{changed} borrower(s) {verb}; the consent ledger records each change.")

    @admin.action(description="Opt out of email (recorded in the consent ledger)", permissions=["change"])
    def opt_out_email(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, borrower_opt_out, Channel.EMAIL, "opted out of email")

    @admin.action(description="Opt out of SMS (recorded in the consent ledger)", permissions=["change"])
    def opt_out_sms(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, borrower_opt_out, Channel.SMS, "opted out of SMS")

    @admin.action(description="Undo the email opt-out (the borrower asked again)", permissions=["change"])
    def undo_email_opt_out(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, borrower_opt_in, Channel.EMAIL, "opted back in to email")

    @admin.action(description="Undo the SMS opt-out (the borrower texted START)", permissions=["change"])
    def undo_sms_opt_out(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, borrower_opt_in, Channel.SMS, "opted back in to SMS")

    @admin.action(description="Do not contact on any channel (recorded in the consent ledger)", permissions=["change"])
    def mark_do_not_contact(self, request: HttpRequest, queryset: QuerySet) -> None:
        source = f"admin ({request.user})"
        changed = sum(bool(borrower_do_not_contact(borrower=b, source=source, actor=request.user)) for b in queryset)
        self.message_user(request, f"{changed} borrower(s) marked do-not-contact; the consent ledger records each.")


admin.site.unregister(Borrower)
admin.site.register(Borrower, BorrowerAdmin)
