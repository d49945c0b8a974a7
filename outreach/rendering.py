"""Rendering sequence steps: the tokens of DESIGN §6, signed links, and the compliance footer.

Step templates are written by branch managers, so they run in a sandboxed Django template engine: no
loaders (``include``/``extends`` fail), only the tags and filters of ``outreach.template_sandbox`` (``if``, no
loops or padding), and a context of plain strings only (no model objects to walk). Email HTML is autoescaped;
the plain-text part, the subject and SMS are not.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import linebreaks, urlize
from django.utils.safestring import mark_safe

from core.choices import Channel
from core.models import LoanOfficer, Organization
from core.money import percent, usd
from loans.models import Borrower
from outreach.disclosures import disclosures_for
from pipeline.models import Opportunity

PAGE_SALT = "outreach.borrower-page"
UNSUBSCRIBE_SALT = "outreach.unsubscribe"
PAGE_TOKEN_MAX_AGE = 60 * 60 * 24 * 120  # 120 days: the refinance window is weeks, not months
UNSUBSCRIBE_TOKEN_MAX_AGE = 60 * 60 * 24 * 400  # CAN-SPAM: the opt-out must keep working ≥ 30 days
SMS_OPT_OUT = "Reply STOP to opt out."

# name: help text (shown in admin next to the step editor)
TOKENS: dict[str, str] = {
    "borrower_first_name": "Borrower's first name",
    "current_rate": "The loan's note rate, e.g. 7.250 %",
    "todays_rate": "Today's market rate for the loan's product, e.g. 6.125 % (needs {{ rate_note }})",
    "rate_note": "Whose rate {{ todays_rate }} is, of which date, and that it is not an offer",
    "current_payment": "Current principal & interest payment, e.g. $2,728.71",
    "new_payment": "Estimated new payment at today's rate (needs {{ payment_terms }})",
    "monthly_savings": "Estimated monthly savings (needs {{ payment_terms }})",
    "payment_terms": "Regulation Z terms of a stated payment: payments, APR, taxes and insurance not included",
    "total_interest_savings": "Estimated interest saved over the remaining term",
    "closing_costs": "Estimated closing costs",
    "break_even": "Months until closing costs are paid back, e.g. 20 months",
    "lo_name": "Loan officer's name",
    "lo_phone": "Loan officer's phone",
    "lo_email": "Loan officer's email",
    "lo_nmls": "Loan officer's NMLS id",
    "org_name": "Lender's name",
    "org_nmls": "Lender's NMLS id",
    "scheduling_link": "Tracked link to book a call (stops the sequence when clicked)",
    "borrower_page_link": "The borrower's personal savings page",
    "unsubscribe_link": "One-click unsubscribe link (emails always get one in the footer too)",
}


class SandboxEngine(Engine):
    """Django's engine with only ``outreach.template_sandbox``'s tags and filters built in (no loops, no padding,
    no loaders): a manager's template cannot make a worker or a preview build an unbounded message."""

    default_builtins = ["outreach.template_sandbox"]


ENGINE = SandboxEngine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=True)


class TemplateError(ValueError):
    pass


def format_money(value: Decimal | None) -> str:
    """Dollars in messages: the one money format (core.money.usd)."""
    return "—" if value is None else usd(value)


def format_rate(value: Decimal | None) -> str:
    """A rate in messages: the one rate format, 6.125 % (core.money.percent)."""
    return "—" if value is None else percent(value)


def format_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return value or ""


# ----- signed links -----------------------------------------------------------------------------------


def page_token(*, opportunity_id: int, message_id: int | None) -> str:
    return signing.TimestampSigner(salt=PAGE_SALT).sign(f"{opportunity_id}.{message_id or 0}")


def read_page_token(token: str) -> tuple[int, int | None]:
    """(opportunity id, message id or None); raises signing.BadSignature (expired tokens too)."""
    value = signing.TimestampSigner(salt=PAGE_SALT).unsign(token, max_age=PAGE_TOKEN_MAX_AGE)
    opportunity_id, message_id = (int(part) for part in value.split("."))
    return opportunity_id, message_id or None


def unsubscribe_token(*, borrower_id: int, message_id: int | None) -> str:
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign(f"{borrower_id}.{message_id or 0}")


def read_unsubscribe_token(token: str) -> tuple[int, int | None]:
    value = signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).unsign(token, max_age=UNSUBSCRIBE_TOKEN_MAX_AGE)
    borrower_id, message_id = (int(part) for part in value.split("."))
    return borrower_id, message_id or None


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


@dataclass(frozen=True)
class Links:
    page: str
    scheduling: str
    unsubscribe: str


def links_for(*, opportunity_id: int | None, borrower_id: int, message_id: int | None) -> Links:
    """The signed links of one message. Without an opportunity (an LOS application's lock alert or status
    update) there is no borrower page to link to: only the unsubscribe link."""
    unsubscribe = absolute(
        reverse("outreach:unsubscribe", args=[unsubscribe_token(borrower_id=borrower_id, message_id=message_id)])
    )
    if opportunity_id is None:
        return Links(page="", scheduling="", unsubscribe=unsubscribe)
    token = page_token(opportunity_id=opportunity_id, message_id=message_id)
    return Links(
        page=absolute(reverse("outreach:borrower_page", args=[token])),
        scheduling=absolute(reverse("outreach:tracked_link", args=[token])),
        unsubscribe=unsubscribe,
    )


PREVIEW_TOKEN = "preview"


def preview_links() -> Links:
    """Links for the admin preview: the real URLs with a placeholder token that no view accepts (404), so a
    preview never hands out a borrower's signed page and a click in it is never recorded as the borrower's."""
    return Links(
        page=absolute(reverse("outreach:borrower_page", args=[PREVIEW_TOKEN])),
        scheduling=absolute(reverse("outreach:tracked_link", args=[PREVIEW_TOKEN])),
        unsubscribe=absolute(reverse("outreach:unsubscribe", args=[PREVIEW_TOKEN])),
    )


# ----- context and rendering ---------------------------------------------------------------------------


def token_context(
    *,
    opportunity: Opportunity,
    borrower: Borrower,
    officer: LoanOfficer | None,
    organization: Organization,
    links: Links,
) -> dict[str, str]:
    """Every token as a plain, formatted string (templates never see model objects)."""
    months = opportunity.break_even_months
    disclosures = disclosures_for(opportunity=opportunity, organization=organization)
    return {
        "borrower_first_name": borrower.first_name,
        "current_rate": format_rate(opportunity.note_rate),
        "todays_rate": format_rate(opportunity.market_rate),
        "current_payment": format_money(opportunity.current_payment),
        "new_payment": format_money(opportunity.new_payment),
        "monthly_savings": format_money(opportunity.monthly_savings),
        "total_interest_savings": format_money(opportunity.total_interest_savings),
        "closing_costs": format_money(opportunity.closing_costs),
        "rate_note": disclosures.rate_note,
        "payment_terms": disclosures.payment_terms,
        "break_even": f"{months} months" if months else "—",
        "lo_name": officer.display_name if officer else organization.name,
        "lo_phone": format_phone(officer.phone) if officer else "",
        "lo_email": officer.email if officer else "",
        "lo_nmls": officer.nmls_id if officer else "",
        "org_name": organization.name,
        "org_nmls": organization.nmls_id,
        "scheduling_link": links.scheduling,
        "borrower_page_link": links.page,
        "unsubscribe_link": links.unsubscribe,
    }


@functools.lru_cache(maxsize=512)
def compile_template(source: str) -> object:
    """Compiled once per distinct source (a pass renders the same few steps thousands of times)."""
    try:
        return ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(str(exc)) from exc


def render_string(source: str, context: dict[str, str], *, autoescape: bool) -> str:
    template = compile_template(source)
    try:
        return template.render(Context(context, autoescape=autoescape))  # type: ignore[attr-defined]
    except Exception as exc:  # a template error must become a clear message, never a crashed pass
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Rendered:
    channel: str
    subject: str
    text: str
    html: str


def sms_text(body: str) -> str:
    text = re.sub(r"\s+", " ", body).strip()
    if "stop" not in text.lower():
        text = f"{text} {SMS_OPT_OUT}"
    return text


def render_step(
    *,
    channel: str,
    subject_template: str,
    body_template: str,
    context: dict[str, str],
    organization: Organization,
) -> Rendered:
    """Render one step. Emails get the CAN-SPAM footer (postal address, unsubscribe); SMS gets STOP text."""
    if channel == Channel.SMS:
        return Rendered(
            channel=channel, subject="", text=sms_text(render_string(body_template, context, autoescape=False)), html=""
        )
    subject = " ".join(render_string(subject_template, context, autoescape=False).split())
    text_body = render_string(body_template, context, autoescape=False).strip()
    html_body = render_string(body_template, context, autoescape=True).strip()
    return email_with_footer(
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        organization=organization,
        unsubscribe_link=context["unsubscribe_link"],
        lo_name=context["lo_name"],
    )


def email_with_footer(
    *, subject: str, text_body: str, html_body: str, organization: Organization, unsubscribe_link: str, lo_name: str
) -> Rendered:
    """Wrap an email body (plain text, and escaped HTML text) in the CAN-SPAM footer: the lender's postal
    address and the one-click unsubscribe link. Sequence steps and the monthly digest both end here."""
    footer = {
        "org_name": organization.name,
        "org_nmls": organization.nmls_id,
        "postal_address": organization.postal_address,
        "unsubscribe_link": unsubscribe_link,
        "lo_name": lo_name,
    }
    text = render_to_string("outreach/email/message.txt", {"body": text_body, **footer})
    html = render_to_string(
        "outreach/email/message.html",
        {"body_html": mark_safe(linebreaks(urlize(html_body, autoescape=False), autoescape=False)), **footer},
    )
    return Rendered(channel=Channel.EMAIL, subject=subject, text=text, html=html)


SAMPLE_CONTEXT = {name: f"[{name}]" for name in TOKENS}


def validate_template(source: str) -> None:
    """Raise TemplateError when a step template does not compile or render against sample tokens."""
    render_string(source, SAMPLE_CONTEXT, autoescape=True)
