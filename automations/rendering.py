"""The borrower's lock alert and status update, rendered when they are queued (pre-rendered outbox kinds).

Status templates are written by managers: they run in outreach's sandboxed engine with plain-string tokens
only. Emails end in the same CAN-SPAM footer as every message (postal address, one-click unsubscribe); SMS in
the STOP text. There is no borrower page to link to for an application without an opportunity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.html import escape

from core.choices import Channel
from core.formatting import date_text
from core.models import LoanOfficer, Organization
from loans.models import Borrower
from outreach.rendering import Links, Rendered, email_with_footer, format_phone, render_string, sms_text

SAMPLE_STATUS_CONTEXT = {
    name: f"[{name}]"
    for name in ("borrower_first_name", "milestone", "loan_number", "lo_name", "lo_phone", "lo_email", "org_name")
}


@dataclass(frozen=True)
class Subject:
    """Who an alert is about and from: the borrower, the officer, the application's number and milestone."""

    borrower: Borrower
    officer: LoanOfficer
    organization: Organization
    loan_number: str
    milestone: str = ""


def _context(subject: Subject) -> dict[str, str]:
    officer = subject.officer
    return {
        "borrower_first_name": subject.borrower.first_name,
        "milestone": subject.milestone,
        "loan_number": subject.loan_number,
        "lo_name": officer.display_name,
        "lo_phone": format_phone(officer.phone),
        "lo_email": officer.email,
        "org_name": subject.organization.name,
    }


def _contact(context: dict[str, str]) -> str:
    ways = " or ".join(part for part in (context["lo_phone"], context["lo_email"]) if part)
    return f"{context['lo_name']}" + (f" ({ways})" if ways else "")


def lock_alert_render(*, subject: Subject, expiration: dt.date, today: dt.date, links: Links) -> Rendered:
    context = _context(subject)
    days = (expiration - today).days
    when = "today" if days == 0 else ("tomorrow" if days == 1 else f"in {days} days")
    text = (
        f"Hi {context['borrower_first_name']},\n\n"
        f"The interest rate lock on your loan application {subject.loan_number} expires on "
        f"{date_text(expiration)} ({when}). To close at your locked rate, everything must be done by then; if it "
        "cannot be, your rate may change unless the lock is extended.\n\n"
        f"If anything is still missing, or you have questions, please contact {_contact(context)}.\n\n"
        f"{context['lo_name']}\n{context['org_name']}"
    )
    return email_with_footer(
        subject=f"Your rate lock expires on {date_text(expiration)}",
        text_body=text,
        html_body=escape(text),
        organization=subject.organization,
        unsubscribe_link=links.unsubscribe,
        lo_name=context["lo_name"],
    )


def status_update_render(
    *, subject: Subject, channel: str, subject_template: str, body_template: str, links: Links
) -> Rendered:
    """A manager's status template for one application (raises outreach.rendering.TemplateError)."""
    context = _context(subject)
    if channel == Channel.SMS:
        text = sms_text(render_string(body_template, context, autoescape=False))
        return Rendered(channel=channel, subject="", text=text, html="")
    return email_with_footer(
        subject=" ".join(render_string(subject_template, context, autoescape=False).split()),
        text_body=render_string(body_template, context, autoescape=False).strip(),
        html_body=render_string(body_template, context, autoescape=True).strip(),
        organization=subject.organization,
        unsubscribe_link=links.unsubscribe,
        lo_name=context["lo_name"],
    )


def officer_lock_text(*, subject: Subject, expiration: dt.date, link: str) -> tuple[str, str]:
    """The loan officer's notification: (subject, body)."""
    borrower = subject.borrower
    title = f"Rate lock expires {date_text(expiration)}: {borrower.full_name} (loan {subject.loan_number})"
    body = (
        f"The rate lock of {borrower.full_name}'s application {subject.loan_number} expires on "
        f"{date_text(expiration)}. The borrower has been sent a reminder (if they may receive email).\n"
        + (f"\nOpen it: {link}\n" if link else "")
        + "\nExtend or re-lock before it expires if the loan will not close in time.\n"
    )
    return title, body
