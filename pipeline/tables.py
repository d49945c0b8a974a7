from __future__ import annotations

import datetime as dt
from typing import Any

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join

from core.formatting import date_text
from core.money import percent, points, usd
from core.tables import BaseTable, FormattedColumn, MoneyColumn, MonthsColumn, PointsColumn, RateColumn
from pipeline.models import Opportunity


def score_html(value: float | None) -> str:
    """A probability as a whole percent ("34 %"); "—" before the first scoring."""
    return "—" if value is None else f"{value * 100:.0f} %"


def quarter_label(day: dt.date | None) -> str:
    return f"{day.year} Q{(day.month - 1) // 3 + 1}" if day else ""


def estimated_value_html(record) -> str:  # type: ignore[no-untyped-def]
    """The marked-to-market value, titled with what it is (an FHFA index estimate of a quarter, or not indexed)."""
    if record.estimated_value is None:
        return "—"
    quarter = quarter_label(record.estimated_value_quarter)
    title = f"FHFA house price index estimate, {quarter}" if quarter else "Valuation on file, not indexed"
    return format_html('<span title="{}">{}</span>', title, usd(record.estimated_value))


def _nullable_money(value) -> str:  # type: ignore[no-untyped-def]
    return "—" if value is None else usd(value)


class ScoreColumn(FormattedColumn):
    """The nightly score as a percent on screen, the probability in exports."""

    formatter = staticmethod(score_html)


def _opportunity_url(record):  # type: ignore[no-untyped-def]
    return reverse("pipeline:opportunity_detail", args=[record.pk])


class OpportunityBoardTable(BaseTable):
    """The pipeline board. Every column sorts in the database; each order ends on the primary key so pages
    are stable. The default order is the queryset's (-total_interest_savings, id): the board indexes."""

    borrower = tables.Column(
        verbose_name="Borrower",
        linkify=_opportunity_url,
        order_by=("borrower__last_name", "borrower__first_name", "pk"),
    )
    loan_number = tables.Column(
        accessor="loan__loan_number",
        verbose_name="Loan #",
        linkify=_opportunity_url,
        order_by=("loan__loan_number", "pk"),
    )
    loan_officer = tables.Column(verbose_name="Loan officer", order_by=("loan_officer__display_name", "pk"))
    branch = tables.Column(verbose_name="Branch", order_by=("branch__name", "pk"))
    product_type = tables.Column(verbose_name="Product", order_by=("product_type", "pk"))
    note_rate = RateColumn(verbose_name="Note rate", order_by=("note_rate", "pk"))
    market_rate = RateColumn(verbose_name="Market rate", order_by=("market_rate", "pk"))
    spread = PointsColumn(verbose_name="Spread", order_by=("spread", "pk"))
    monthly_savings = MoneyColumn(verbose_name="Monthly savings", order_by=("monthly_savings", "pk"))
    total_interest_savings = MoneyColumn(
        verbose_name="Total interest savings", order_by=("total_interest_savings", "pk")
    )
    break_even_months = MonthsColumn(verbose_name="Break-even (months)", order_by=("break_even_months", "pk"))
    current_balance = MoneyColumn(verbose_name="Balance", order_by=("current_balance", "pk"))
    # Written nightly by scoring: the chance of an application within 90 days, and the home marked to market.
    score = ScoreColumn(verbose_name="Score")
    estimated_value = MoneyColumn(verbose_name="Est. value (FHFA index)")
    current_ltv = FormattedColumn(verbose_name="LTV (%)")
    equity = MoneyColumn(verbose_name="Equity")
    cash_out_room = MoneyColumn(verbose_name="Cash-out room")
    stage = tables.Column(verbose_name="Stage", order_by=("stage", "pk"))
    last_contacted_at = tables.DateColumn(
        verbose_name="Last contact", format="DATE_FORMAT", order_by=("last_contacted_at", "pk"), default="—"
    )
    flags = tables.Column(
        verbose_name="Status",
        accessor="qualifies",
        order_by=("qualifies", "market_rate_date", "pk"),
        empty_values=(),
    )

    class Meta(BaseTable.Meta):
        model = Opportunity
        fields = ()
        sequence = (
            "borrower",
            "loan_number",
            "flags",
            "loan_officer",
            "branch",
            "product_type",
            "note_rate",
            "market_rate",
            "spread",
            "monthly_savings",
            "total_interest_savings",
            "break_even_months",
            "current_balance",
            "score",
            "estimated_value",
            "current_ltv",
            "equity",
            "cash_out_room",
            "stage",
            "last_contacted_at",
        )
        per_page = 25
        template_name = "pipeline/board_table.html"
        empty_text = "No opportunities match these filters."
        attrs = {"class": "table board", "id": "board-table"}

    def __init__(self, *args, freshness: Any = None, **kwargs):  # type: ignore[no-untyped-def]
        self.freshness = freshness  # pipeline.selectors.board.RateFreshness: why no message goes out on a row
        super().__init__(*args, **kwargs)

    def page_rows(self) -> list[list[tuple[str, str, str]]]:
        """The cells (td class, column header, html) of the current page, for pipeline/board_table.html (the
        header labels each figure when a row is shown as a card on a phone).

        The same formatting as the columns' render methods, called directly: django-tables2's generic cell
        path (accessor resolution, signature inspection, attrs per cell) costs ~1 ms per row.
        """
        columns = [(column.name, CELL_CLASSES.get(column.name, ""), str(column.header)) for column in self.columns]
        rows = []
        for row in self.paginated_rows:
            record = row.record
            url = _opportunity_url(record)
            cells = []
            for name, css, label in columns:
                cell = BOARD_CELLS.get(name)
                cells.append((css, label, cell(self, record, url) if cell else row.get_cell(name)))
            rows.append(cells)
        return rows

    def header_cells(self) -> list[tuple[Any, str]]:
        """(bound column, css class) of each header: the same phone classes as the cells."""
        return [(column, CELL_CLASSES.get(column.name, "")) for column in self.columns]

    def stale_reason(self, record) -> str:  # type: ignore[no-untyped-def]
        return self.freshness.reason_for(record) if self.freshness is not None else ""

    def flag_list(self, record) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        """(css class, text) of every indicator a row carries."""
        flags = []
        if record.attention_reason:
            flags.append(("good", f"Attention: {record.attention_reason}"))
        if not record.qualifies:
            flags.append(("bad", "No longer qualifies"))
        reason = self.stale_reason(record)
        if reason:
            flags.append(("warn", f"Stale rate: {reason}"))
        return flags

    # Scores and figures are empty before the first scoring: those rows sort last either way.
    def _order_nulls_last(self, queryset, is_descending, field):  # type: ignore[no-untyped-def]
        key = F(field).desc(nulls_last=True) if is_descending else F(field).asc(nulls_last=True)
        return queryset.order_by(key, "-pk" if is_descending else "pk"), True

    def order_score(self, queryset, is_descending):  # type: ignore[no-untyped-def]
        return self._order_nulls_last(queryset, is_descending, "score")

    def order_estimated_value(self, queryset, is_descending):  # type: ignore[no-untyped-def]
        return self._order_nulls_last(queryset, is_descending, "estimated_value")

    def order_current_ltv(self, queryset, is_descending):  # type: ignore[no-untyped-def]
        return self._order_nulls_last(queryset, is_descending, "current_ltv")

    def order_equity(self, queryset, is_descending):  # type: ignore[no-untyped-def]
        return self._order_nulls_last(queryset, is_descending, "equity")

    def order_cash_out_room(self, queryset, is_descending):  # type: ignore[no-untyped-def]
        return self._order_nulls_last(queryset, is_descending, "cash_out_room")

    def value_score(self, value):  # type: ignore[no-untyped-def]
        return "" if value is None else round(value, 4)

    def render_borrower(self, record):  # type: ignore[no-untyped-def]
        return record.borrower.full_name

    def value_borrower(self, record):  # type: ignore[no-untyped-def]
        return record.borrower.full_name

    def value_last_contacted_at(self, value):  # type: ignore[no-untyped-def]
        return timezone.localtime(value).date().isoformat() if value else ""

    def render_flags(self, record):  # type: ignore[no-untyped-def]
        """A chip per indicator; a stale rate says in words why no message goes out."""
        flags = self.flag_list(record)
        if not flags:
            return format_html('<span class="chip good">{}</span>', "Qualifies")
        chips = []
        for css, text in flags:
            if text.startswith("Stale rate: "):
                chips.append(
                    format_html('<span class="chip {}">Stale rate</span> <span class="why">{}</span>', css, text[12:])
                )
            else:
                chips.append(format_html('<span class="chip {}">{}</span>', css, text))
        return format_html_join(" ", "{}", ((chip,) for chip in chips))

    def value_flags(self, record):  # type: ignore[no-untyped-def]
        return "; ".join(text for _, text in self.flag_list(record)) or "Qualifies"


def rate_used_html(record):  # type: ignore[no-untyped-def]
    """The rate the loan was matched on; an ARM says whether it is its current rate (from the file) or its note
    rate (the file gave no current rate)."""
    if not record.is_arm:
        return percent(record.note_rate)
    basis = "ARM, current rate" if record.rate_is_current else "ARM, note rate"
    return format_html('{} <span class="muted">({})</span>', percent(record.note_rate), basis)


# td classes: numbers align right; "phone-hide" columns are left out of the phone card (the figures that matter
# stay: borrower, status, rates, savings, break-even, stage).
CELL_CLASSES = {
    "note_rate": "num",
    "market_rate": "num",
    "spread": "num phone-hide",
    "monthly_savings": "num",
    "total_interest_savings": "num",
    "break_even_months": "num",
    "current_balance": "num phone-hide",
    "loan_officer": "phone-hide",
    "branch": "phone-hide",
    "product_type": "phone-hide",
    "last_contacted_at": "phone-hide",
    "borrower": "card-title",
    "flags": "flags",
    "score": "num",
    "estimated_value": "num phone-hide",
    "current_ltv": "num phone-hide",
    "equity": "num phone-hide",
    "cash_out_room": "num phone-hide",
}

BOARD_CELLS = {
    "borrower": lambda table, r, url: format_html('<a href="{}">{}</a>', url, r.borrower.full_name),
    "loan_number": lambda table, r, url: format_html('<a href="{}">{}</a>', url, r.loan.loan_number),
    "flags": lambda table, r, url: table.render_flags(r),
    "loan_officer": lambda table, r, url: escape(r.loan_officer.display_name if r.loan_officer else "—"),
    "branch": lambda table, r, url: escape(r.branch.name if r.branch else "—"),
    "product_type": lambda table, r, url: escape(r.get_product_type_display()),
    "note_rate": lambda table, r, url: rate_used_html(r),
    "market_rate": lambda table, r, url: percent(r.market_rate),
    "spread": lambda table, r, url: points(r.spread),
    "monthly_savings": lambda table, r, url: usd(r.monthly_savings),
    "total_interest_savings": lambda table, r, url: usd(r.total_interest_savings),
    "break_even_months": lambda table, r, url: "—" if r.break_even_months is None else str(r.break_even_months),
    "current_balance": lambda table, r, url: usd(r.current_balance),
    "score": lambda table, r, url: score_html(r.score),
    "estimated_value": lambda table, r, url: estimated_value_html(r),
    "current_ltv": lambda table, r, url: "—" if r.current_ltv is None else f"{r.current_ltv:.0f}",
    "equity": lambda table, r, url: _nullable_money(r.equity),
    "cash_out_room": lambda table, r, url: _nullable_money(r.cash_out_room),
    "stage": lambda table, r, url: escape(r.get_stage_display()),
    "last_contacted_at": lambda table, r, url: date_text(r.last_contacted_at) if r.last_contacted_at else "—",
}
