from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from outreach.models import Sequence
from outreach.rendering import Links, render_step, token_context
from outreach.services.sequences import sequence_ensure_default, step_validate
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_default_sequence_is_created_once_with_day_1_4_10():
    org = OrganizationFactory()
    first = sequence_ensure_default(organization=org)
    second = sequence_ensure_default(organization=org)
    assert first == second and Sequence.objects.count() == 1
    assert list(first.steps.values_list("day_offset", "channel")) == [(1, "email"), (4, "sms"), (10, "email")]


def test_an_edited_default_is_left_alone():
    org = OrganizationFactory()
    sequence = sequence_ensure_default(organization=org)
    sequence.steps.filter(position=2).delete()
    assert sequence_ensure_default(organization=org).steps.count() == 2


def test_default_copy_renders_with_every_token_and_stays_compliant(opportunity):
    sequence = sequence_ensure_default(organization=opportunity.organization)
    links = Links(page="https://x/r/t/", scheduling="https://x/r/t/go/", unsubscribe="https://x/u/t/")
    context = token_context(
        opportunity=opportunity,
        borrower=opportunity.borrower,
        officer=opportunity.loan_officer,
        organization=opportunity.organization,
        links=links,
    )
    day1, day4, day10 = (
        render_step(
            channel=step.channel,
            subject_template=step.subject_template,
            body_template=step.body_template,
            context=context,
            organization=opportunity.organization,
        )
        for step in sequence.steps.order_by("position")
    )
    assert day1.subject == "Ana, today's rates could lower your mortgage payment"
    for text in ["7.250 %", "6.125 %", "$2,728.71", "$2,448.23", "$280.48 a month", "20 months", "https://x/r/t/go/"]:
        assert text.replace(" %", "\xa0%") in day1.text, text
    # What the rate is (whose average, of which date, not an offer) and the Regulation Z terms of the payment.
    assert "is the average market rate of the 30-Year Fixed Rate Conforming Mortgage Index (FRED OBMMIC30YF) on" in (
        day1.text
    )
    assert "not an offer of credit or a rate lock" in day1.text
    assert "monthly payments of $2,448.23 (principal and interest only)" in day1.text
    assert "annual percentage rate (APR)" in day1.text
    assert "does not include taxes and insurance, so your actual payment will be greater" in day1.text
    assert "%" not in day4.text and "$" not in day4.text  # the SMS states no rate and no payment
    assert "https://x/u/t/" in day1.text and opportunity.organization.postal_address in day1.html
    assert day4.text.endswith("Reply STOP to opt out.") and "https://x/r/t/go/" in day4.text
    assert "\n" not in day4.text and day4.text.count("STOP") == 1
    assert "rate lock" in day10.text and "https://x/u/t/" in day10.text


@pytest.mark.parametrize(
    ("channel", "subject", "body", "field"),
    [
        ("email", "", "Hi", "subject_template"),
        ("email", "Hi {{ borrower_first_name|nosuchfilter }}", "Hi", "subject_template"),
        ("email", "Hi", "{% include 'base.html' %}", "body_template"),
        ("email", "Hi", "{% load static %}", "body_template"),
        ("sms", "A subject", "Hi", "subject_template"),
    ],
)
def test_step_validation_reports_the_field(channel, subject, body, field):
    with pytest.raises(ValidationError) as raised:
        step_validate(channel=channel, subject_template=subject, body_template=body)
    assert field in raised.value.message_dict


def test_valid_step_passes():
    step_validate(
        channel="sms", subject_template="", body_template="Hi {{ borrower_first_name }} {{ scheduling_link }}"
    )


@pytest.mark.parametrize(
    ("subject", "body", "missing"),
    [
        ("Save {{ monthly_savings }} a month", "Hi {{ borrower_first_name }}", "payment_terms"),
        ("Hi", "Your new payment: {{ new_payment }}. {{ rate_note }}", "payment_terms"),
        ("Hi", "Rates are {{ todays_rate }}. {{ payment_terms }}", "rate_note"),
        ("Rates are {{todays_rate}}", "Hi", "rate_note"),
    ],
)
def test_a_template_stating_a_rate_or_payment_needs_its_disclosure(subject, body, missing):
    """Checked when a step is saved (admin): a stated payment needs the Regulation Z §1026.24 terms, a stated rate
    whose rate it is; there was no such check before issue 12."""
    with pytest.raises(ValidationError) as raised:
        step_validate(channel="email", subject_template=subject, body_template=body)
    assert f"{{{{ {missing} }}}}" in " ".join(raised.value.message_dict["body_template"])


def test_a_template_with_its_disclosures_passes():
    step_validate(
        channel="email",
        subject_template="Lower your payment",
        body_template="{{ todays_rate }} {{ new_payment }} {{ monthly_savings }} {{ rate_note }} {{ payment_terms }}",
    )


def test_the_apr_is_the_rate_at_which_the_payments_repay_the_amount_financed():
    from decimal import Decimal

    import numpy_financial as npf

    from outreach.disclosures import estimated_apr

    apr = estimated_apr(amount=Decimal("200000.00"), payment=Decimal("1199.10"), months=360, fees=Decimal("4000.00"))
    reference = Decimal(repr(float(npf.rate(360, -1199.10, 196000.0, 0.0)) * 1200)).quantize(Decimal("0.001"))
    assert apr == reference == Decimal("6.189")
    assert estimated_apr(amount=Decimal("1000"), payment=Decimal("1"), months=10, fees=Decimal("0")) == Decimal("0.000")
