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
    assert day1.subject == "Ana, today's rates could lower your payment by $280.48 a month"
    for text in ["7.25%", "6.125%", "$2,728.71", "$2,448.23", "$280.48 a month", "20 months", "https://x/r/t/go/"]:
        assert text in day1.text
    assert "not a loan offer or a rate lock" in day1.text
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
