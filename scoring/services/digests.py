"""The monthly borrower digest: the nurture half of the routing (``manage.py send_digests``, monthly schedule).

A short email from the loan officer to each borrower whose opportunity scores below the policy's threshold
and is not in a running sequence: the home's estimated value and equity (FHFA index), their rate against
today's, what a same-term refinance and a cash-out would mean, and the booking link. It goes through the
outbox (``outreach.Message`` of kind digest, one per borrower and month by a unique key), so the dispatcher
applies consent, quiet hours and the one-click unsubscribe as for every message. Only borrowers who may
receive marketing email and whose opportunity's figures are fresh are queued; the dispatcher checks again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone

from core.choices import Channel
from core.models import Organization
from loans import finance
from loans.models import LoanProduct
from outreach.models import Enrollment, Message
from outreach.rendering import Rendered, email_with_footer, format_money, format_phone, format_rate, links_for
from outreach.services.enrollments import RUNNING
from pipeline.models import Activity, Opportunity
from rates.selectors import organization_today
from scoring.features import DEFAULT_CASH_OUT_LTV
from scoring.services.policy import policy_for
from scoring.services.routing import ROUTED_STAGES

CHUNK = 500
CASH_OUT_TERM = 360


@dataclass
class DigestResult:
    month: dt.date
    recipients: list[tuple[str, str]] = field(default_factory=list)  # (name, email)
    queued: int = 0
    sample: Rendered | None = None


def digest_month(*, organization: Organization) -> dt.date:
    return organization_today(organization).replace(day=1)


def digest_candidates(*, organization: Organization, month: dt.date) -> QuerySet[Opportunity]:
    """Nurture opportunities whose borrower may get marketing email and has no digest this month yet, ordered
    so that each borrower's first row is their opportunity with the largest lifetime savings."""
    policy = policy_for(organization=organization)
    fresh_from = organization_today(organization) - dt.timedelta(days=organization.staleness_days)
    running = Exists(Enrollment.objects.filter(opportunity=OuterRef("pk"), status__in=RUNNING))
    sent = Exists(
        Message.objects.filter(borrower=OuterRef("borrower_id"), kind=Message.Kind.DIGEST, digest_month=month)
    )
    return (
        Opportunity.objects.filter(
            organization=organization,
            stage__in=ROUTED_STAGES,
            qualifies=True,
            score__lt=policy.threshold_probability,
            market_rate_date__gte=fresh_from,
            loan__status="active",
            loan_officer__is_active=True,
            borrower__do_not_contact=False,
            borrower__email_consent=True,
            borrower__email_opted_out_at__isnull=True,
            borrower__email_undeliverable_reason="",
        )
        .exclude(borrower__email="")
        .exclude(loan_officer__email="")
        .exclude(running)
        .exclude(sent)
        .select_related("borrower", "loan", "loan_officer", "organization")
        .order_by("borrower_id", "-total_interest_savings", "pk")
    )


def _cash_out_ltvs(organization: Organization) -> dict[str, Decimal]:
    rows = (
        LoanProduct.objects.filter(organization=organization, is_active=True)
        .values("product_type")
        .annotate(ltv=Max("max_ltv_cash_out"))
    )
    return {row["product_type"]: row["ltv"] for row in rows}


def _quarter_label(day: dt.date | None) -> str:
    return f"{day.year} Q{(day.month - 1) // 3 + 1}" if day else ""


def digest_context(
    *, opportunity: Opportunity, month: dt.date, cash_out_ltv: Decimal, message_id: int | None
) -> dict[str, Any]:
    borrower, loan, officer = opportunity.borrower, opportunity.loan, opportunity.loan_officer
    links = links_for(opportunity_id=opportunity.pk, borrower_id=borrower.pk, message_id=message_id)
    room = opportunity.cash_out_room or Decimal("0")
    cash_out_payment = (
        finance.payment(
            principal=opportunity.current_balance + room, annual_rate=opportunity.market_rate, months=CASH_OUT_TERM
        )
        if room > 0
        else None
    )
    return {
        "month": month,
        "first_name": borrower.first_name,
        "state": loan.property_state,
        "estimated_value": format_money(opportunity.estimated_value),
        "indexed": opportunity.estimated_value_quarter is not None,
        "index_quarter": _quarter_label(opportunity.estimated_value_quarter),
        "appraised_value": format_money(loan.property_value),
        "appraised_on": loan.property_value_date,
        "equity": format_money(opportunity.equity) if opportunity.equity is not None else "",
        "ltv": f"{opportunity.current_ltv:.0f} %" if opportunity.current_ltv is not None else "",
        "balance": format_money(opportunity.current_balance),
        "note_rate": format_rate(opportunity.note_rate),
        "market_rate": format_rate(opportunity.market_rate),
        "rate_date": opportunity.market_rate_date,
        "product": opportunity.get_product_type_display(),
        "remaining_months": opportunity.remaining_months,
        "current_payment": format_money(opportunity.current_payment),
        "new_payment": format_money(opportunity.new_payment),
        "monthly_savings": format_money(opportunity.monthly_savings),
        "saves": opportunity.monthly_savings > 0,
        "closing_costs": format_money(opportunity.closing_costs),
        "break_even": opportunity.break_even_months,
        "cash_out_room": format_money(room) if room > 0 else "",
        "cash_out_ltv": f"{float(cash_out_ltv):g}",
        "cash_out_amount": format_money(opportunity.current_balance + room),
        "cash_out_payment": format_money(cash_out_payment) if cash_out_payment is not None else "",
        "lo_name": officer.display_name,
        "lo_phone": format_phone(officer.phone),
        "lo_email": officer.email,
        "lo_nmls": officer.nmls_id,
        "scheduling_link": links.scheduling,
        "borrower_page_link": links.page,
        "unsubscribe_link": links.unsubscribe,
    }


def digest_render(
    *, opportunity: Opportunity, month: dt.date, cash_out_ltv: Decimal, message_id: int | None
) -> Rendered:
    context = digest_context(opportunity=opportunity, month=month, cash_out_ltv=cash_out_ltv, message_id=message_id)
    template = get_template("scoring/email/digest.txt").template  # type: ignore[attr-defined]
    text = template.render(Context(context, autoescape=False)).strip()
    html = template.render(Context(context, autoescape=True)).strip()
    return email_with_footer(
        subject=f"{opportunity.borrower.first_name}, your home and your mortgage in {month:%B %Y}",
        text_body=text,
        html_body=html,
        organization=opportunity.organization,
        unsubscribe_link=context["unsubscribe_link"],
        lo_name=context["lo_name"],
    )


def _one_per_borrower(candidates: QuerySet[Opportunity]) -> list[Opportunity]:
    chosen, seen = [], set()
    for opportunity in candidates.iterator(chunk_size=CHUNK):
        if opportunity.borrower_id not in seen:
            seen.add(opportunity.borrower_id)
            chosen.append(opportunity)
    return chosen


def digests_queue(*, organization: Organization, dry_run: bool = False, now: dt.datetime | None = None) -> DigestResult:
    """Queue this month's digests (at most one per borrower); a second run in the month queues none.
    ``dry_run``: nothing is written; the result lists the recipients and renders the first digest."""
    now = now or timezone.now()
    month = digest_month(organization=organization)
    ltvs = _cash_out_ltvs(organization)
    chosen = _one_per_borrower(digest_candidates(organization=organization, month=month))
    result = DigestResult(month=month, recipients=[(o.borrower.full_name, o.borrower.email) for o in chosen])
    if dry_run:
        if chosen:
            first = chosen[0]
            ltv = ltvs.get(first.product_type, Decimal(DEFAULT_CASH_OUT_LTV))
            result.sample = digest_render(opportunity=first, month=month, cash_out_ltv=ltv, message_id=None)
        return result
    for start in range(0, len(chosen), CHUNK):
        chunk = chosen[start : start + CHUNK]
        try:
            result.queued += _queue_chunk(chunk, month=month, ltvs=ltvs, now=now)
        except IntegrityError:  # a concurrent run queued some of them: one at a time, skipping those
            for opportunity in chunk:
                try:
                    result.queued += _queue_chunk([opportunity], month=month, ltvs=ltvs, now=now)
                except IntegrityError:
                    continue
    return result


def _queue_chunk(chunk: list[Opportunity], *, month: dt.date, ltvs: dict[str, Decimal], now: dt.datetime) -> int:
    with transaction.atomic():
        messages = Message.objects.bulk_create(
            [
                Message(
                    organization_id=o.organization_id,
                    kind=Message.Kind.DIGEST,
                    digest_month=month,
                    opportunity=o,
                    borrower_id=o.borrower_id,
                    channel=Channel.EMAIL,
                    status=Message.Status.SCHEDULED,
                    due_at=now,
                )
                for o in chunk
            ]
        )
        for message, opportunity in zip(messages, chunk, strict=True):
            ltv = ltvs.get(opportunity.product_type, Decimal(DEFAULT_CASH_OUT_LTV))
            rendered = digest_render(opportunity=opportunity, month=month, cash_out_ltv=ltv, message_id=message.pk)
            message.subject, message.body, message.body_html = rendered.subject[:250], rendered.text, rendered.html
        Message.objects.bulk_update(messages, ["subject", "body", "body_html"], batch_size=CHUNK)
        Activity.objects.bulk_create(
            [
                Activity(
                    organization_id=m.organization_id,
                    opportunity_id=m.opportunity_id,
                    borrower_id=m.borrower_id,
                    kind=Activity.Kind.QUEUED,
                    channel=Channel.EMAIL,
                    message_id=m.pk,
                    body=f"Monthly digest ({month:%B %Y}) queued.",
                    occurred_at=now,
                )
                for m in messages
            ]
        )
    return len(messages)
