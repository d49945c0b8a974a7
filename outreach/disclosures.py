"""What a message must say when it states a rate or a payment (DESIGN §6; Regulation Z §1026.24).

A rate in a message is today's market rate for the borrower's product: the message says whose rate it is, of
which date, and that it is not an offer. A payment (or a saving, which implies one) is an advertised term under
§1026.24(d): the message then also states the terms of repayment (the number and amount of the payments over
the full term, fixed rate), the annual percentage rate, and, for a first lien, that taxes and insurance are
not included so the actual payment will be greater (§1026.24(f)(3)). The two texts are tokens
(``{{ rate_note }}``, ``{{ payment_terms }}``) so a step template cannot state one without the other:
``required_disclosures`` is checked when a step is saved in admin. The borrower page shows the same texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from core.formatting import date_text
from core.models import Organization
from core.money import percent, rate, usd
from pipeline.models import Opportunity
from rates.models import RateSeries

# A template that uses one of these tokens states a rate / a payment, and must carry the matching disclosure.
RATE_TOKENS = ("todays_rate",)
PAYMENT_TOKENS = ("new_payment", "monthly_savings")
RATE_NOTE = "rate_note"
PAYMENT_TERMS = "payment_terms"
TOKEN = re.compile(r"{{\s*([a-z_]+)")


@dataclass(frozen=True)
class Disclosures:
    rate_note: str
    payment_terms: str


def estimated_apr(*, amount: Decimal, payment: Decimal, months: int, fees: Decimal) -> Decimal:
    """The annual percentage rate of ``months`` level payments of ``payment`` on ``amount`` when ``fees`` are
    prepaid finance charges (Regulation Z's actuarial method, monthly periods): the rate at which the payments'
    present value equals the amount financed. Percent, three decimals."""
    financed = float(amount - fees)
    level = float(payment)
    if months <= 0 or financed <= 0 or level * months <= financed:
        return rate(0)
    low, high = 0.0, 1.0  # monthly rate bounds
    for _ in range(200):
        middle = (low + high) / 2
        present = level * (1 - (1 + middle) ** -months) / middle
        if present > financed:
            low = middle
        else:
            high = middle
    return rate(Decimal(repr((low + high) / 2)) * 1200)


def rate_source(*, code: str, organization: Organization) -> str:
    """Whose rate it is: "the average market rate of the <index> (FRED <code>)" for a public index, else the
    lender's own rate sheet."""
    series = RateSeries.objects.filter(code=code, organization__isnull=True).only("title", "code").first()
    if series is not None:
        return f"the average market rate of the {series.title} (FRED {series.code})"
    return f"the rate on {organization.name}'s rate sheet ({code})"


def disclosures_for(*, opportunity: Opportunity, organization: Organization) -> Disclosures:
    source = rate_source(code=opportunity.market_series, organization=organization)
    note = (
        f"{percent(opportunity.market_rate)} is {source} on {date_text(opportunity.market_rate_date)} for a loan "
        "like yours: an estimate, not an offer of credit or a rate lock."
    )
    apr = estimated_apr(
        amount=opportunity.current_balance,
        payment=opportunity.new_payment,
        months=opportunity.remaining_months,
        fees=opportunity.closing_costs,
    )
    terms = (
        f"The estimated payment is {opportunity.remaining_months} monthly payments of "
        f"{usd(opportunity.new_payment)} (principal and interest only) at a fixed {percent(opportunity.market_rate)}, "
        "annual percentage rate (APR) "
        f"{percent(apr)} with estimated closing costs of {usd(opportunity.closing_costs)}. It does not include "
        "taxes and insurance, so your actual payment will be greater."
    )
    return Disclosures(rate_note=note, payment_terms=terms)


def required_disclosures(*, subject_template: str, body_template: str) -> list[str]:
    """What a step template is missing: it states a rate without {{ rate_note }} or a payment without
    {{ payment_terms }} (the disclosure belongs in the body, where there is room for it)."""
    used = set(TOKEN.findall(subject_template)) | set(TOKEN.findall(body_template))
    in_body = set(TOKEN.findall(body_template))
    problems = []
    stated = [name for name in RATE_TOKENS if name in used]
    if stated and RATE_NOTE not in in_body:
        problems.append(
            f"It states a rate ({{{{ {stated[0]} }}}}): add {{{{ {RATE_NOTE} }}}} to the body, which says whose "
            "average rate it is, of which date, and that it is not an offer."
        )
    stated = [name for name in PAYMENT_TOKENS if name in used]
    if stated and PAYMENT_TERMS not in in_body:
        problems.append(
            f"It states a payment ({{{{ {stated[0]} }}}}): add {{{{ {PAYMENT_TERMS} }}}} to the body, the terms "
            "Regulation Z §1026.24 requires (number and amount of the payments, APR, taxes and insurance not "
            "included)."
        )
    return problems
