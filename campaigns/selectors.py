"""Reads of the campaigns: who a campaign reaches (the board's filters over what the manager may see, consenting
borrowers only, one opportunity per borrower), its rendered preview and its results.

The recipients are computed by the same ``OpportunityBoardFilterSet`` as the board, so "Create campaign from these
filters" reaches exactly the board's rows minus those who may not get a marketing email. The results count the
campaign's outbox rows (``outreach.Message``, send key ``campaign:<id>:<borrower>``) and the timeline entries tied
to them by ``Activity.message_id`` (replies and call bookings).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet, Subquery
from django.http import QueryDict
from django.utils import timezone

from campaigns.models import Campaign
from core.choices import Channel
from core.tenancy import profile_for
from loans.models import Loan
from outreach.disclosures import PAYMENT_TOKENS, RATE_TOKENS, TOKEN
from outreach.models import Message
from outreach.rendering import Rendered, preview_links, render_step, token_context
from pipeline.filters import BEFORE_APPLICATION, OpportunityBoardFilterSet
from pipeline.models import Activity, Opportunity

# A borrower gets at most one campaign email in this many days, whatever the campaigns' filters.
CAMPAIGN_COOLDOWN_DAYS = 30
CONTACTING = (Message.Status.SCHEDULED, Message.Status.SENDING, Message.Status.SENT, Message.Status.DELIVERED)

# Query-string keys of the board that are not filters (page, size, order, export): never part of a campaign.
NOT_FILTERS = ("page", "per_page", "sort", "_export")

DEFAULT_SUBJECT = "{{ borrower_first_name }}, a note on today's mortgage rates"
DEFAULT_BODY = (
    "Hi {{ borrower_first_name }},\n\n"
    "Mortgage rates have moved since you closed your loan at {{ current_rate }}. When the rate on a loan is well "
    "above today's market, a refinance can lower the monthly payment or shorten the term, but it has closing "
    "costs, so whether it is worth it depends on how long you keep the home and on your goals.\n\n"
    "If you would like to know what it would mean for you, with no obligation, book a short call with me: "
    "{{ scheduling_link }}\n\n"
    "{{ lo_name }}\n{{ lo_phone }}\nNMLS {{ lo_nmls }}"
)


class FiltersInvalid(ValueError):
    """The board query string does not validate (a bad number, a choice that does not exist or is not visible)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


def clean_filters(query: QueryDict | str) -> str:
    """The board's query string without the keys that are not filters, and without empty values."""
    data = QueryDict(query) if isinstance(query, str) else query
    kept = QueryDict(mutable=True)
    for key, values in data.lists():
        if key in NOT_FILTERS:
            continue
        for value in values:
            if value.strip():
                kept.appendlist(key, value.strip())
    return kept.urlencode()


def filterset_for(*, user: Any, filters: str) -> OpportunityBoardFilterSet:
    """The board's filter set over the opportunities ``user`` may see, bound to ``filters``."""
    request = SimpleNamespace(user=user, GET=QueryDict(filters))
    return OpportunityBoardFilterSet(QueryDict(filters), queryset=Opportunity.objects.visible_to(user), request=request)


def filters_summary(filterset: OpportunityBoardFilterSet) -> str:
    """The filters in words: "Stage: Open stages · Min spread (pts): 0.75 · …" (rows per page left out)."""
    form = filterset.form
    parts = []
    for name, field in form.fields.items():
        if name == "per_page":
            continue
        value = form.cleaned_data.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, Model):
            shown: Any = value
        elif hasattr(field, "choices"):
            shown = dict(field.choices).get(value, value)
        else:
            shown = value
        parts.append(f"{field.label}: {shown}")
    return " · ".join(parts)[:500]


def quotes_figures(*, subject_template: str, body_template: str) -> bool:
    """Whether the template states a rate or a payment (then only opportunities with fresh figures get it)."""
    used = set(TOKEN.findall(subject_template)) | set(TOKEN.findall(body_template))
    return bool(used & {*RATE_TOKENS, *PAYMENT_TOKENS})


def eligible_opportunities(
    *, user: Any, filters: str, quoting: bool = False, as_of: dt.date | None = None
) -> QuerySet[Opportunity]:
    """The board's rows for ``filters`` whose borrower may get a marketing email now: email consent, not opted
    out, not undeliverable, not do-not-contact; an opportunity before application on an active loan with an
    active loan officer to send in the name of; no campaign email queued or sent to the borrower in the last
    ``CAMPAIGN_COOLDOWN_DAYS`` (two campaigns never reach one borrower back to back). ``quoting``: also still
    qualifying, on figures within the organization's staleness limit. Raises FiltersInvalid."""
    filterset = filterset_for(user=user, filters=filters)
    if not filterset.is_valid():
        raise FiltersInvalid({k: list(v) for k, v in filterset.errors.items()})
    qs = (
        filterset.qs.order_by()
        .filter(
            stage__in=BEFORE_APPLICATION,
            loan__status=Loan.Status.ACTIVE,
            loan_officer__is_active=True,
            borrower__do_not_contact=False,
            borrower__email_consent=True,
            borrower__email_opted_out_at__isnull=True,
            borrower__email_undeliverable_reason="",
        )
        .exclude(borrower__email="")
        .exclude(loan_officer__email="")
        .exclude(
            Exists(
                Message.objects.filter(
                    borrower_id=OuterRef("borrower_id"),
                    kind=Message.Kind.CAMPAIGN,
                    status__in=CONTACTING,
                    created_at__gte=timezone.now() - dt.timedelta(days=CAMPAIGN_COOLDOWN_DAYS),
                )
            )
        )
    )
    if quoting:
        profile = profile_for(user)
        if profile is not None:
            today = as_of or profile.organization.today()
            fresh_from = today - dt.timedelta(days=profile.organization.staleness_days)
            qs = qs.filter(qualifies=True, market_rate_date__gte=fresh_from)
    return qs


def one_per_borrower(eligible: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    """Each borrower's opportunity with the largest lifetime savings (a borrower with several loans gets one
    email): one statement."""
    first = eligible.filter(borrower_id=OuterRef("borrower_id")).order_by("-total_interest_savings", "pk")
    return eligible.filter(pk=Subquery(first.values("pk")[:1]))


def recipient_count(eligible: QuerySet[Opportunity]) -> int:
    return eligible.values("borrower_id").distinct().count()


def campaign_recipients(*, campaign: Campaign, user: Any) -> QuerySet[Opportunity]:
    """The opportunity each recipient borrower gets the campaign's email for (one per borrower)."""
    quoting = quotes_figures(subject_template=campaign.subject_template, body_template=campaign.body_template)
    eligible = eligible_opportunities(user=user, filters=campaign.filters, quoting=quoting)
    return one_per_borrower(eligible)


def render_for(*, opportunity: Opportunity, subject_template: str, body_template: str, links: Any = None) -> Rendered:
    """The email one recipient gets (tokens, Regulation Z texts, CAN-SPAM footer). ``links`` None: the preview's
    placeholder links, which no view accepts."""
    organization = opportunity.organization
    context = token_context(
        opportunity=opportunity,
        borrower=opportunity.borrower,
        officer=opportunity.loan_officer,
        organization=organization,
        links=links or preview_links(),
    )
    return render_step(
        channel=Channel.EMAIL,
        subject_template=subject_template,
        body_template=body_template,
        context=context,
        organization=organization,
    )


@dataclass(frozen=True)
class Preview:
    count: int
    first: Opportunity | None
    rendered: Rendered | None
    quoting: bool = False


def campaign_preview(
    *, user: Any, filters: str, subject_template: str, body_template: str, render: bool = True
) -> Preview:
    """How many borrowers would get the email now and the email the first of them would get (``render`` False:
    the count only). Raises FiltersInvalid, or outreach.rendering.TemplateError when the template does not
    render."""
    quoting = quotes_figures(subject_template=subject_template, body_template=body_template)
    eligible = eligible_opportunities(user=user, filters=filters, quoting=quoting)
    first = (
        one_per_borrower(eligible)
        .select_related("borrower", "loan", "loan_officer", "organization")
        .order_by("borrower__last_name", "borrower__first_name", "pk")
        .first()
    )
    rendered = (
        render_for(opportunity=first, subject_template=subject_template, body_template=body_template)
        if first is not None and render
        else None
    )
    return Preview(count=recipient_count(eligible), first=first, rendered=rendered, quoting=quoting)


# ----- results ------------------------------------------------------------------------------------------------


STAT_LABELS = (
    ("sent", "Sends"),
    ("delivered", "Delivered"),
    ("opened", "Opens"),
    ("clicked", "Clicks"),
    ("replied", "Replies"),
    ("booked", "Bookings"),
)


@dataclass(frozen=True)
class CampaignStats:
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0
    booked: int = 0
    not_sent: int = 0  # suppressed (consent changed), cancelled (opportunity closed) or failed

    @property
    def shown(self) -> list[tuple[str, str, int]]:
        """(key, label, count) in the order the pages and the report show them."""
        return [(key, label, getattr(self, key)) for key, label in STAT_LABELS]


def campaign_messages(campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(
        organization_id=campaign.organization_id,
        kind=Message.Kind.CAMPAIGN,
        send_key__startswith=campaign.send_key_prefix,
    )


def campaign_stats(campaign: Campaign) -> CampaignStats:
    """Two aggregate queries: the outbox rows, and the replies and bookings on the timeline tied to them (each
    message counted once per kind)."""
    if campaign.pk is None or campaign.status == Campaign.Status.DRAFT:
        return CampaignStats()
    messages = campaign_messages(campaign)
    outbox = messages.aggregate(
        queued=Count("pk"),
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        not_sent=Count(
            "pk",
            filter=Q(
                status__in=[Message.Status.SUPPRESSED, Message.Status.CANCELLED, Message.Status.FAILED],
                sent_at__isnull=True,
            ),
        ),
    )
    engaged = Activity.objects.filter(
        organization_id=campaign.organization_id,
        kind__in=[Activity.Kind.REPLIED, Activity.Kind.BOOKED],
        message_id__in=messages.values("pk"),
    ).aggregate(
        replied=Count("message_id", filter=Q(kind=Activity.Kind.REPLIED), distinct=True),
        booked=Count("message_id", filter=Q(kind=Activity.Kind.BOOKED), distinct=True),
    )
    return CampaignStats(**outbox, **engaged)


def campaign_list(*, user: Any) -> QuerySet[Campaign]:
    return Campaign.objects.visible_to(user).select_related("branch", "created_by")


@dataclass(frozen=True)
class CampaignResult:
    campaign: Campaign
    stats: CampaignStats


def campaign_results(
    *, user: Any, sent_from: dt.datetime | None = None, sent_before: dt.datetime | None = None
) -> list[CampaignResult]:
    """The sent campaigns ``user`` may see (optionally those queued in [sent_from, sent_before)) with their
    results so far, newest first: what /reports/ shows."""
    qs = campaign_list(user=user).filter(status=Campaign.Status.SENT).order_by("-sent_at", "-pk")
    if sent_from is not None:
        qs = qs.filter(sent_at__gte=sent_from)
    if sent_before is not None:
        qs = qs.filter(sent_at__lt=sent_before)
    return [CampaignResult(campaign=c, stats=campaign_stats(c)) for c in qs[:100]]
