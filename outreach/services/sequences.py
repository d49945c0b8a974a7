"""Sequences: the default plan every organization gets, and checks on step templates."""

# ruff: noqa: E501  (the default copy below keeps one paragraph per line, as the emails are sent)

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.choices import Channel
from core.models import Organization
from outreach.disclosures import required_disclosures
from outreach.models import Sequence, SequenceStep
from outreach.rendering import TemplateError, validate_template

DEFAULT_SEQUENCE_NAME = "Rate drop (default)"

DAY_1_SUBJECT = "{{ borrower_first_name }}, today's rates could lower your mortgage payment"
DAY_1_BODY = """Hi {{ borrower_first_name }},

I'm {{ lo_name }}, the loan officer who worked on your current mortgage. Rates have moved since you closed, so I ran the numbers on your loan:

Your rate: {{ current_rate }}
Today's market rate for a loan like yours: {{ todays_rate }}
Your principal and interest payment now: {{ current_payment }}
Estimated new payment: {{ new_payment }}, about {{ monthly_savings }} a month less
Estimated closing costs: {{ closing_costs }}, paid back in about {{ break_even }}

{{ rate_note }} {{ payment_terms }} Your actual rate and costs depend on an application and current pricing.

You can see the details on your personal page: {{ borrower_page_link }}

If you'd like me to check what you would really qualify for, pick a time that suits you: {{ scheduling_link }}

Or just reply to this email.

{{ lo_name }}
NMLS #{{ lo_nmls }} · {{ lo_phone }}
{{ org_name }}"""

# No rate or payment in the SMS: a stated payment needs its Regulation Z terms, which do not fit a text.
DAY_4_SMS = (
    "Hi {{ borrower_first_name }}, it's {{ lo_name }} at {{ org_name }}. Rates have moved since you closed; "
    "I emailed you what that could mean for your mortgage. Book a quick call: {{ scheduling_link }} "
    "Reply STOP to opt out."
)

DAY_10_SUBJECT = "{{ borrower_first_name }}, a note on locking in today's rates"
DAY_10_BODY = """Hi {{ borrower_first_name }},

A quick follow-up on my note about your mortgage. Market rates change every day: the estimate I sent used {{ todays_rate }}, which would bring your payment from {{ current_payment }} to about {{ new_payment }}.

{{ rate_note }} {{ payment_terms }}

When you apply, a rate lock holds the rate you are quoted for a set period (commonly 30 to 60 days) while we close, so a later rise does not change it. The lock only starts once you apply, and today's estimate is not a lock.

If you'd like to see where you stand, a 15-minute call is enough: {{ scheduling_link }}

If now isn't the right time, no problem. You can unsubscribe with the link below and I won't email you about this again.

{{ lo_name }}
NMLS #{{ lo_nmls }} · {{ lo_phone }}
{{ org_name }}"""

DEFAULT_STEPS = [
    {"position": 1, "day_offset": 1, "channel": Channel.EMAIL, "subject": DAY_1_SUBJECT, "body": DAY_1_BODY},
    {"position": 2, "day_offset": 4, "channel": Channel.SMS, "subject": "", "body": DAY_4_SMS},
    {"position": 3, "day_offset": 10, "channel": Channel.EMAIL, "subject": DAY_10_SUBJECT, "body": DAY_10_BODY},
]


def sequence_ensure_default(*, organization: Organization) -> Sequence:
    """The organization's default sequence, created (day 1 email, day 4 SMS, day 10 email) when missing.

    Idempotent and safe under concurrency (the one-default constraint decides the race). An existing default,
    edited by a manager, is returned untouched.
    """
    existing = Sequence.objects.filter(organization=organization, is_default=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            name = DEFAULT_SEQUENCE_NAME
            if Sequence.objects.filter(organization=organization, name=name).exists():
                name = f"{DEFAULT_SEQUENCE_NAME} {Sequence.objects.filter(organization=organization).count() + 1}"
            sequence = Sequence(organization=organization, name=name, is_default=True, is_active=True)
            sequence.full_clean()
            sequence.save()
            for step in DEFAULT_STEPS:
                row = SequenceStep(
                    sequence=sequence,
                    position=step["position"],
                    day_offset=step["day_offset"],
                    channel=step["channel"],
                    subject_template=step["subject"],
                    body_template=step["body"],
                )
                row.full_clean()
                row.save()
            return sequence
    except IntegrityError:
        return Sequence.objects.get(organization=organization, is_default=True)


def sequences_ensure_defaults() -> int:
    """Create the default sequence for every organization that has none; returns how many were created."""
    created = 0
    for organization in Organization.objects.exclude(sequences__is_default=True):
        sequence_ensure_default(organization=organization)
        created += 1
    return created


def step_validate(*, channel: str, subject_template: str, body_template: str) -> None:
    """ValidationError with a field → message dict when a step's templates are unusable."""
    errors: dict[str, str] = {}
    if channel == Channel.EMAIL and not subject_template.strip():
        errors["subject_template"] = "An email step needs a subject."
    for field, source in (("subject_template", subject_template), ("body_template", body_template)):
        if field in errors:
            continue
        try:
            validate_template(source)
        except TemplateError as exc:
            errors[field] = f"Template error: {exc}"
    if channel == Channel.SMS and "subject_template" not in errors and subject_template.strip():
        errors["subject_template"] = "SMS steps have no subject."
    if "body_template" not in errors:
        missing = required_disclosures(subject_template=subject_template, body_template=body_template)
        if missing:
            errors["body_template"] = " ".join(missing)
    if errors:
        raise ValidationError(errors)
