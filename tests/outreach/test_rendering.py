from __future__ import annotations

from decimal import Decimal

import pytest

from outreach.rendering import (
    TemplateError,
    format_money,
    format_phone,
    format_rate,
    page_token,
    read_page_token,
    read_unsubscribe_token,
    render_string,
    sms_text,
    unsubscribe_token,
)


def test_formats():
    assert format_money(Decimal("2448.23")) == "$2,448.23"
    # One rate format everywhere (before issue 12 a message read 5.47% beside 6.125%).
    assert format_rate(Decimal("7.250")) == "7.250\xa0%"
    assert format_rate(Decimal("6.125")) == "6.125\xa0%"
    assert format_rate(Decimal("5.47")) == "5.470\xa0%"
    assert format_phone("+13125550100") == "(312) 555-0100"
    assert format_phone("+447700900123") == "+447700900123"


def test_sms_is_not_html_escaped_and_always_carries_stop():
    body = render_string("Hi {{ name }} & co", {"name": "O'Neil"}, autoescape=False)
    assert sms_text(body) == "Hi O'Neil & co Reply STOP to opt out."
    assert sms_text("Hi.\n\nText STOP to end") == "Hi. Text STOP to end"


def test_html_is_autoescaped_and_templates_cannot_reach_beyond_their_tokens():
    assert render_string("{{ x }}", {"x": "<b>"}, autoescape=True) == "&lt;b&gt;"
    assert render_string("{{ missing }}", {"x": "a"}, autoescape=True) == ""
    with pytest.raises(TemplateError):
        render_string("{{ x.__class__ }}", {"x": "a"}, autoescape=True)
    with pytest.raises(TemplateError):
        render_string("{% include 'outreach/panel.html' %}", {}, autoescape=True)


@pytest.mark.parametrize(
    "source",
    [
        "{% for a in x %}{% for b in x %}{{ a }}{% endfor %}{% endfor %}",
        "{% lorem 100000000 w %}",
        "{{ x|center:'100000000' }}",
        "{{ x|ljust:'100000000' }}",
        "{% widthratio 1 1 100000000 %}",
        "{% debug %}",
        "{% load static %}",
    ],
)
def test_templates_cannot_build_unbounded_output_or_reach_the_system(source):
    """A manager's template renders in workers and previews: no loops, no padding filters, no debug."""
    with pytest.raises(TemplateError):
        render_string(source, {"x": "abcdefghij"}, autoescape=True)


def test_the_sandbox_keeps_conditions_and_case_filters():
    source = "{% if name %}Hi {{ name|title }}{% else %}Hello{% endif %}{# note #} {{ gone|default:'there' }}"
    assert render_string(source, {"name": "ann lee"}, autoescape=True) == "Hi Ann Lee there"
    assert render_string(source, {}, autoescape=True) == "Hello there"


@pytest.mark.django_db
def test_tokens_round_trip():
    assert read_page_token(page_token(opportunity_id=12, message_id=34)) == (12, 34)
    assert read_page_token(page_token(opportunity_id=12, message_id=None)) == (12, None)
    assert read_unsubscribe_token(unsubscribe_token(borrower_id=5, message_id=None)) == (5, None)
    with pytest.raises(Exception):  # noqa: B017 - a page token is not an unsubscribe token (different salt)
        read_unsubscribe_token(page_token(opportunity_id=12, message_id=34))
