from __future__ import annotations

import datetime as dt

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from core.money import usd
from core.tables import MAX_PER_PAGE, BaseTable, MoneyColumn, RateColumn, rate_html
from pipeline.models import Opportunity


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
    spread = RateColumn(verbose_name="Spread", order_by=("spread", "pk"))
    monthly_savings = MoneyColumn(verbose_name="Monthly savings", order_by=("monthly_savings", "pk"))
    total_interest_savings = MoneyColumn(
        verbose_name="Total interest savings", order_by=("total_interest_savings", "pk")
    )
    break_even_months = tables.Column(
        verbose_name="Break-even (months)",
        order_by=("break_even_months", "pk"),
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    current_balance = MoneyColumn(verbose_name="Balance", order_by=("current_balance", "pk"))
    stage = tables.Column(verbose_name="Stage", order_by=("stage", "pk"))
    last_contacted_at = tables.DateColumn(
        verbose_name="Last contact", format="Y-m-d", order_by=("last_contacted_at", "pk"), default="—"
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
            "stage",
            "last_contacted_at",
        )
        per_page = 25
        template_name = "pipeline/board_table.html"
        empty_text = "No opportunities match these filters."
        attrs = {"class": "table board", "id": "board-table"}

    def __init__(self, *args, stale_before: dt.date | None = None, **kwargs):  # type: ignore[no-untyped-def]
        self.stale_before = stale_before
        super().__init__(*args, **kwargs)

    def paginate(self, *args, per_page=None, **kwargs):  # type: ignore[no-untyped-def]
        if per_page is not None:
            per_page = max(1, min(int(per_page), MAX_PER_PAGE))
        return super().paginate(*args, per_page=per_page, **kwargs)

    def page_rows(self) -> list[list[tuple[str, str]]]:
        """The cells (td class, html) of the current page, for pipeline/board_table.html.

        The same formatting as the columns' render methods, called directly: django-tables2's generic cell
        path (accessor resolution, signature inspection, attrs per cell) costs ~1 ms per row.
        """
        columns = [(column.name, "num" if column.name in NUMERIC_COLUMNS else "") for column in self.columns]
        rows = []
        for row in self.paginated_rows:
            record = row.record
            url = _opportunity_url(record)
            cells = []
            for name, css in columns:
                cell = BOARD_CELLS.get(name)
                cells.append((css, cell(self, record, url) if cell else row.get_cell(name)))
            rows.append(cells)
        return rows

    def flag_list(self, record) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        """(css class, text) of every indicator a row carries."""
        flags = []
        if record.attention_reason:
            flags.append(("good", f"Attention: {record.attention_reason}"))
        if not record.qualifies:
            flags.append(("bad", "No longer qualifies"))
        if self.stale_before is not None and record.market_rate_date < self.stale_before:
            flags.append(("warn", f"Stale rate ({record.market_rate_date:%Y-%m-%d})"))
        return flags

    def render_borrower(self, record):  # type: ignore[no-untyped-def]
        return record.borrower.full_name

    def value_borrower(self, record):  # type: ignore[no-untyped-def]
        return record.borrower.full_name

    def render_break_even_months(self, value):  # type: ignore[no-untyped-def]
        return value if value is not None else "—"

    def value_last_contacted_at(self, value):  # type: ignore[no-untyped-def]
        return timezone.localtime(value).date().isoformat() if value else ""

    def render_flags(self, record):  # type: ignore[no-untyped-def]
        flags = self.flag_list(record)
        if not flags:
            return mark_safe('<span class="chip good">Qualifies</span>')
        return format_html_join(" ", '<span class="chip {}">{}</span>', flags)

    def value_flags(self, record):  # type: ignore[no-untyped-def]
        return "; ".join(text for _, text in self.flag_list(record)) or "Qualifies"


def rate_used_html(record):  # type: ignore[no-untyped-def]
    """The rate the loan was matched on; an ARM says whether it is its current rate (from the file) or its note
    rate (the file gave no current rate)."""
    if not record.is_arm:
        return rate_html(record.note_rate)
    basis = "ARM, current rate" if record.rate_is_current else "ARM, note rate"
    return format_html('{} <span class="muted">({})</span>', rate_html(record.note_rate), basis)


NUMERIC_COLUMNS = {
    "note_rate",
    "market_rate",
    "spread",
    "monthly_savings",
    "total_interest_savings",
    "break_even_months",
    "current_balance",
}

BOARD_CELLS = {
    "borrower": lambda table, r, url: format_html('<a href="{}">{}</a>', url, r.borrower.full_name),
    "loan_number": lambda table, r, url: format_html('<a href="{}">{}</a>', url, r.loan.loan_number),
    "flags": lambda table, r, url: table.render_flags(r),
    "loan_officer": lambda table, r, url: escape(r.loan_officer.display_name if r.loan_officer else "—"),
    "branch": lambda table, r, url: escape(r.branch.name if r.branch else "—"),
    "product_type": lambda table, r, url: escape(r.get_product_type_display()),
    "note_rate": lambda table, r, url: rate_used_html(r),
    "market_rate": lambda table, r, url: rate_html(r.market_rate),
    "spread": lambda table, r, url: rate_html(r.spread),
    "monthly_savings": lambda table, r, url: usd(r.monthly_savings),
    "total_interest_savings": lambda table, r, url: usd(r.total_interest_savings),
    "break_even_months": lambda table, r, url: table.render_break_even_months(r.break_even_months),
    "current_balance": lambda table, r, url: usd(r.current_balance),
    "stage": lambda table, r, url: escape(r.get_stage_display()),
    "last_contacted_at": lambda table, r, url: (
        f"{timezone.localtime(r.last_contacted_at):%Y-%m-%d}" if r.last_contacted_at else "—"
    ),
}
