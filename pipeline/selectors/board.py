"""Reads for the loan officer's workspace: the pipeline board and the opportunity page.

Everything here is scoped through ``visible_to(user)``; the computed figures of the opportunity page
(the 30- and 15-year alternatives and the chart series) come from ``loans.finance`` for one loan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.choices import ProductType, term_bucket
from core.formatting import date_text
from core.models import Organization
from core.money import ZERO, money, percent, usd
from core.tenancy import get_visible_or_404
from loans import finance
from loans.models import ConsentEvent
from pipeline.models import Activity, MatchRun, Opportunity
from rates.selectors import MarketRate, is_stale, is_stale_date, market_rates

MONEY_FIELD = DecimalField(max_digits=15, decimal_places=2)
TIMELINE_LIMIT = 500


def organization_timezone(organization: Organization) -> dt.tzinfo:
    return organization.zone


def organization_today(organization: Organization) -> dt.date:
    """Today's date in the organization's timezone (rates are daily; staleness counts whole days)."""
    return organization.today()


# --- Whether outreach may go out on an opportunity's rate -----------------------------------------------------


@dataclass(frozen=True)
class RateFreshness:
    """Today's market rate per product of one organization, to say on each row and page why no message goes out.

    The same two checks as the dispatcher (``outreach.services.dispatch``) through the one staleness rule in
    ``rates.selectors``: the product's rate today is missing or stale, or the opportunity's savings were computed
    on a rate that is now stale (the match has not run on fresh rates).
    """

    organization: Organization
    as_of: dt.date
    rates: dict[tuple[str, int], MarketRate]

    def reason(self, *, product_type: str, term_months: int, figures_date: dt.date) -> str:
        """Why no message goes out on this opportunity's rate, or "" when its rate is fresh."""
        bucket = term_bucket(term_months)
        rate = self.rates.get((product_type, bucket))
        label = f"{ProductType(product_type).label} {bucket // 12}-year"
        days = self.organization.staleness_days
        if rate is None:
            return f"No market rate for {label}: no message goes out until one is loaded."
        if is_stale(rate, organization=self.organization, as_of=self.as_of):
            return (
                f"The {label} rate is from {date_text(rate.date)}, older than {days} days: "
                "no message goes out until rates are refreshed."
            )
        if is_stale_date(figures_date, organization=self.organization, as_of=self.as_of):
            return (
                f"The savings were computed on the rate of {date_text(figures_date)}, older than {days} days: "
                "no message goes out until the match runs on today's rates."
            )
        return ""

    def reason_for(self, opportunity: Opportunity) -> str:
        return self.reason(
            product_type=opportunity.product_type,
            term_months=opportunity.loan.term_months,
            figures_date=opportunity.market_rate_date,
        )


def rate_freshness(*, organization: Organization, as_of: dt.date) -> RateFreshness:
    """Two queries, however many rows ask."""
    return RateFreshness(organization, as_of, market_rates(organization=organization, as_of=as_of))


# --- The board -------------------------------------------------------------------------------------------


# What a board row and its export read (loading whole loans and borrowers costs more than the query).
BOARD_FIELDS = (
    "organization",
    "stage",
    "product_type",
    "qualifies",
    "note_rate",
    "is_arm",
    "rate_is_current",
    "market_rate",
    "market_rate_date",
    "spread",
    "monthly_savings",
    "total_interest_savings",
    "break_even_months",
    "current_balance",
    "last_contacted_at",
    "attention_reason",
    "score",
    "estimated_value",
    "estimated_value_quarter",
    "current_ltv",
    "equity",
    "cash_out_room",
    "loan__loan_number",
    "loan__term_months",
    "borrower__first_name",
    "borrower__last_name",
    "loan_officer__display_name",
    "branch__name",
)


def board_list(*, user: Any) -> QuerySet[Opportunity]:
    """The opportunities a user may see, with what each board row shows, ranked by total interest savings.

    The default order (-total_interest_savings, id) is the order of the partial indexes
    pipeline_opp_board_officer/branch/org_idx, so the first page of the open stages reads a few index entries.
    """
    return (
        Opportunity.objects.visible_to(user)
        .select_related("borrower", "loan", "loan_officer", "branch")
        .only(*BOARD_FIELDS)
        .order_by("-total_interest_savings", "pk")
    )


@dataclass(frozen=True)
class BoardSummary:
    count: int
    monthly_savings: Decimal
    total_interest_savings: Decimal


def board_summary(*, queryset: QuerySet[Opportunity]) -> BoardSummary:
    """One aggregate query over the (scoped, filtered) board queryset."""
    totals = queryset.order_by().aggregate(
        count=Count("pk"),
        monthly=Coalesce(Sum("monthly_savings"), Value(ZERO), output_field=MONEY_FIELD),
        lifetime=Coalesce(Sum("total_interest_savings"), Value(ZERO), output_field=MONEY_FIELD),
    )
    return BoardSummary(
        count=totals["count"],
        monthly_savings=money(totals["monthly"] or ZERO),
        total_interest_savings=money(totals["lifetime"] or ZERO),
    )


@dataclass(frozen=True)
class RatesStatus:
    """How fresh today's market rates are for one organization."""

    as_of: dt.date
    oldest: dt.date | None  # the oldest of the latest rates across the mapped products
    newest: dt.date | None
    stale_count: int
    product_count: int

    @property
    def age_days(self) -> int | None:
        return None if self.oldest is None else (self.as_of - self.oldest).days

    @property
    def is_stale(self) -> bool:
        return self.stale_count > 0 or self.oldest is None


def rates_status(*, organization: Organization, as_of: dt.date) -> RatesStatus:
    """The freshness of every mapped product's rate in one query (the same rule as ``rates.selectors``: the
    newest observation of the mapped series on or before ``as_of``, else of its fallback series)."""
    from rates.models import RateObservation, SeriesMapping

    def newest(series_field: str) -> Subquery:
        return Subquery(
            RateObservation.objects.filter(series_id=OuterRef(series_field), date__lte=as_of)
            .order_by("-date")
            .values("date")[:1]
        )

    rows = SeriesMapping.objects.filter(organization=organization).annotate(
        main=newest("series_id"), fallback=newest("fallback_series_id")
    )
    dates = [row.main or row.fallback for row in rows]
    known = [date for date in dates if date is not None]
    return RatesStatus(
        as_of=as_of,
        oldest=min(known) if known else None,
        newest=max(known) if known else None,
        stale_count=sum(1 for date in dates if is_stale_date(date, organization=organization, as_of=as_of)),
        product_count=len(dates),
    )


def last_match_run(*, organization: Organization) -> MatchRun | None:
    return MatchRun.objects.for_organization(organization).order_by("-started_at", "-pk").first()


# --- The opportunity page ----------------------------------------------------------------------------------


def opportunity_for_user(*, user: Any, pk: int) -> Opportunity:
    """One opportunity the user may see, or 404 (another officer's or another organization's)."""
    qs = Opportunity.objects.select_related(
        "organization", "loan", "loan__co_borrower", "borrower", "loan_officer", "branch", "match_run"
    )
    return get_visible_or_404(qs, user, pk=pk)


def opportunity_timeline(*, opportunity: Opportunity) -> list[Activity]:
    """Every stage change, note, message and provider event, newest first (index pipeline_activity_timeline_idx).

    Each entry gets ``from_stage_label``/``to_stage_label`` (display names) and ``actor_name`` for the template.
    """
    labels = dict(Opportunity.Stage.choices)
    entries = list(
        Activity.objects.filter(opportunity=opportunity)
        .select_related("actor__loan_officer")
        .order_by("-occurred_at", "-pk")[:TIMELINE_LIMIT]
    )
    for entry in entries:
        entry.from_stage_label = labels.get(entry.from_stage, entry.from_stage)
        entry.to_stage_label = labels.get(entry.to_stage, entry.to_stage)
        entry.actor_name = _actor_name(entry.actor)
    return entries


def _actor_name(user: Any) -> str:
    if user is None:
        return ""
    try:
        return user.loan_officer.display_name
    except ObjectDoesNotExist:
        return user.get_full_name() or user.get_username()


def borrower_consent_events(*, opportunity: Opportunity, limit: int = 5) -> list[ConsentEvent]:
    return list(ConsentEvent.objects.filter(borrower_id=opportunity.borrower_id).order_by("-created_at", "-pk")[:limit])


@dataclass(frozen=True)
class SavingsOption:
    key: str
    label: str
    term_months: int
    rate: Decimal
    rate_source: str
    savings: finance.Savings

    @property
    def payment_rise(self) -> Decimal:
        """How much the monthly payment goes up (a shorter term can cost more per month)."""
        return max(-self.savings.monthly_savings, ZERO)

    @property
    def in_words(self) -> str:
        """What this option means, in words a loan officer can repeat to the borrower (the savings table's last
        row and the chart's caption when this option is chosen)."""
        s = self.savings
        head = f"{self.label} at {percent(self.rate)}"
        sooner = s.remaining_months - self.term_months
        if s.monthly_savings > 0:
            text = f"{head}: the payment drops by {usd(s.monthly_savings)} a month"
            if s.break_even_months:
                text += (
                    f", which pays back the {usd(s.closing_costs)} of closing costs after {s.break_even_months} months"
                )
            text += "."
        else:
            text = (
                f"{head}: the payment rises by {usd(self.payment_rise)} a month, so lower payments never pay back "
                f"the {usd(s.closing_costs)} of closing costs (no break-even)."
            )
        if sooner > 0:
            when = f"The loan is paid off {_months_in_words(sooner)} sooner and"
        elif sooner < 0:
            when = f"The loan runs {_months_in_words(-sooner)} longer and"
        else:
            when = "Over the same remaining term it"
        interest = s.total_interest_savings
        change = f"{usd(interest)} less" if interest >= 0 else f"{usd(-interest)} more"
        standing = "ahead" if s.net_benefit >= 0 else "behind"
        return f"{text} {when} costs {change} interest: {usd(abs(s.net_benefit))} {standing} after closing costs."


def _months_in_words(months: int) -> str:
    years, rest = divmod(months, 12)
    parts = []
    if years:
        parts.append(f"{years} year{'s' if years != 1 else ''}")
    if rest:
        parts.append(f"{rest} month{'s' if rest != 1 else ''}")
    return " and ".join(parts) or "0 months"


def opportunity_savings_options(
    *, opportunity: Opportunity, rates: dict[tuple[str, int], MarketRate]
) -> list[SavingsOption]:
    """The refinance for the same remaining term (the board's numbers) and for new 30- and 15-year terms.

    Each new term is priced at today's rate for that term bucket when the organization maps one, else at the
    opportunity's market rate. Closing costs depend only on the amount, which is the same balance in all three,
    so every option carries the opportunity's closing costs.
    """
    options = []
    for key, label, term in (
        ("same", "Same remaining term", opportunity.remaining_months),
        ("30", "New 30-year", 360),
        ("15", "New 15-year", 180),
    ):
        rate, source = opportunity.market_rate, opportunity.market_series
        if key != "same":
            priced = rates.get((opportunity.product_type, term_bucket(term)))
            if priced is not None:
                rate, source = priced.rate, priced.series_code
        savings = finance.refinance_savings(
            balance=opportunity.current_balance,
            current_payment=opportunity.current_payment,
            current_rate=opportunity.note_rate,
            horizon=opportunity.remaining_months,
            new_rate=rate,
            new_term_months=term,
            closing_cost_fixed=opportunity.closing_costs,
            closing_cost_percent=Decimal("0"),
        )
        options.append(
            SavingsOption(key=key, label=label, term_months=term, rate=rate, rate_source=source, savings=savings)
        )
    return options


def _amortization(*, balance: Decimal, rate: Decimal, payment: Decimal, months: int, horizon: int) -> dict[str, list]:
    """Balance and cumulative interest after each month 0..horizon of a level-payment loan.

    Interest paid after k payments = k × payment − principal repaid, so the last point equals the
    "payments × months − balance" total of ``loans.finance.refinance_savings``.
    """
    balances, interest = [], []
    for k in range(horizon + 1):
        remaining = finance.scheduled_balance(principal=balance, annual_rate=rate, term_months=months, payments=k)
        balances.append(remaining)
        interest.append(money(max(payment * min(k, months) - (balance - remaining), ZERO)))
    return {"balance": balances, "interest": interest}


def _current_loan(*, balance: Decimal, rate: Decimal, payment: Decimal, months: int, horizon: int) -> dict[str, list]:
    """The current loan month by month: its own payment, the last of its ``months`` clearing what is left (the
    horizon of DESIGN §4), so the last point is ``total_interest_current`` of ``refinance_savings``."""
    balances, interest = [], []
    for k in range(horizon + 1):
        if k < months:
            left = finance.balance_after(balance=balance, annual_rate=rate, monthly_payment=payment, payments=k)
            paid = payment * k
        else:
            left = ZERO
            paid = finance.payments_over(balance=balance, annual_rate=rate, monthly_payment=payment, months=months)
        balances.append(left)
        interest.append(money(max(paid - (balance - left), ZERO)))
    return {"balance": balances, "interest": interest}


def opportunity_chart(*, opportunity: Opportunity, options: list[SavingsOption]) -> dict[str, Any]:
    """Month-by-month series of the current loan and of each refinance option, for the opportunity chart.

    Serialised with ``json_script`` (Decimals become strings; Chart.js reads numeric strings).
    """
    horizon = max([opportunity.remaining_months, *(option.term_months for option in options)])
    current = _current_loan(
        balance=opportunity.current_balance,
        rate=opportunity.note_rate,
        payment=opportunity.current_payment,
        months=opportunity.remaining_months,
        horizon=horizon,
    )
    return {
        "months": list(range(horizon + 1)),
        "current": {"label": f"Current loan ({percent(opportunity.note_rate)})", **current},
        "options": {
            option.key: {
                "label": f"{option.label} ({percent(option.rate)})",
                "caption": option.in_words,
                "break_even_month": option.savings.break_even_months,
                **_amortization(
                    balance=opportunity.current_balance,
                    rate=option.rate,
                    payment=option.savings.new_payment,
                    months=option.term_months,
                    horizon=horizon,
                ),
            }
            for option in options
        },
    }
