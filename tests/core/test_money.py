from __future__ import annotations

from decimal import Decimal

from core.money import money, rate, usd


def test_money_rounds_half_up_to_cents_once():
    assert money(Decimal("2.345")) == Decimal("2.35")
    assert money(Decimal("-2.345")) == Decimal("-2.35")
    assert money("1234.5") == Decimal("1234.50")


def test_rate_has_three_places():
    assert rate(Decimal("6.8755")) == Decimal("6.876")


def test_usd_puts_the_sign_before_the_dollar_sign():
    assert usd(Decimal("1234.5")) == "$1,234.50"
    assert usd(Decimal("-916.954")) == "−$916.95"
    assert usd(0) == "$0.00"
