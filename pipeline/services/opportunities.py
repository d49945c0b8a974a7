"""Writes on opportunities: stage changes, notes and the timeline (Activity)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from pipeline import signals
from pipeline.models import Activity, Opportunity


class StageChangeError(ValueError):
    pass


def activity_record(
    *,
    opportunity: Opportunity | None,
    kind: str,
    actor: Any = None,
    channel: str = "",
    message: Any = None,
    body: str = "",
    data: dict[str, Any] | None = None,
    from_stage: str = "",
    to_stage: str = "",
    occurred_at: Any = None,
    organization_id: int | None = None,
    borrower_id: int | None = None,
) -> Activity:
    """Append one entry to an opportunity's timeline. ``message`` is an outreach message (duck-typed: the pipeline
    keeps its id and its subject, for the timeline, without importing outreach).

    Without an opportunity (an event of an opportunity-less message, e.g. an LOS application's lock alert) the
    entry belongs to the organization and the borrower given, or to those of ``message``."""
    data = dict(data or {})
    if getattr(message, "subject", ""):
        data.setdefault("subject", message.subject)
    if opportunity is not None:
        organization_id, borrower_id = opportunity.organization_id, opportunity.borrower_id
    else:
        organization_id = organization_id or getattr(message, "organization_id", None)
        borrower_id = borrower_id or getattr(message, "borrower_id", None)
    activity = Activity(
        organization_id=organization_id,
        opportunity=opportunity,
        borrower_id=borrower_id,
        kind=kind,
        channel=channel,
        message_id=getattr(message, "pk", None),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        body=body,
        data=data,
        from_stage=from_stage,
        to_stage=to_stage,
        occurred_at=occurred_at or timezone.now(),
    )
    activity.full_clean(exclude=["opportunity", "borrower", "organization", "actor"])
    activity.save()
    return activity


def opportunity_stage_check(*, opportunity: Opportunity, stage: str) -> None:
    """Raise StageChangeError when ``opportunity`` may not move to ``stage`` (the form and admin ask first)."""
    if stage not in Opportunity.Stage.values:
        raise StageChangeError(f"Unknown stage {stage!r}.")
    if stage in Opportunity.OPEN_STAGES and not opportunity.is_open:
        if Opportunity.objects.open().filter(loan_id=opportunity.loan_id).exclude(pk=opportunity.pk).exists():
            raise StageChangeError("This loan already has another open opportunity.")


@transaction.atomic
def opportunity_change_stage(
    *, opportunity: Opportunity, stage: str, actor: Any = None, note: str = "", source: str = "user"
) -> Opportunity:
    """Move an opportunity to ``stage`` and log who did it. Moving to the current stage changes nothing.

    Reopening a closed opportunity (won/lost/archived → an open stage) is refused when the loan already has
    another open opportunity (the database allows one open opportunity per loan).
    """
    locked = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if locked.stage == stage:
        return locked
    opportunity_stage_check(opportunity=locked, stage=stage)
    previous = locked.stage
    now = timezone.now()
    locked.stage = stage
    locked.stage_changed_at = now
    fields = ["stage", "stage_changed_at", "updated_at"]
    if locked.attention_reason and (source == "user" or stage not in Opportunity.OPEN_STAGES):
        # The loan officer acted on it (or it is closed): the board's attention flag is handled.
        locked.attention_reason, locked.attention_at = "", None
        fields += ["attention_reason", "attention_at"]
    locked.full_clean()
    locked.save(update_fields=fields)
    activity_record(
        opportunity=locked,
        kind=Activity.Kind.STAGE_CHANGE,
        actor=actor,
        from_stage=previous,
        to_stage=stage,
        body=note,
        data={"source": source},
        occurred_at=now,
    )
    # Outreach ends its sequence on the closing stages (DESIGN §6); it listens, the pipeline does not import it.
    signals.stage_changed.send(
        sender=Opportunity, opportunity=locked, from_stage=previous, to_stage=stage, actor=actor, note=note
    )
    opportunity.stage, opportunity.stage_changed_at = locked.stage, locked.stage_changed_at
    opportunity.attention_reason, opportunity.attention_at = locked.attention_reason, locked.attention_at
    return locked


def opportunity_add_note(*, opportunity: Opportunity, body: str, actor: Any) -> Activity:
    body = body.strip()
    if not body:
        raise ValueError("A note cannot be empty.")
    return activity_record(opportunity=opportunity, kind=Activity.Kind.NOTE, actor=actor, body=body)
