from __future__ import annotations

import django_tables2 as tables

from loans.models import Loan
from refiapp.tables import BaseTable


class LoanTable(BaseTable):
    loan_number = tables.Column(linkify=True, verbose_name="Loan #")
    borrower = tables.Column(order_by=("borrower__last_name", "borrower__first_name"))
    loan_officer = tables.Column(verbose_name="Loan officer", order_by=("loan_officer__display_name",))
    note_rate = tables.Column(verbose_name="Rate %", attrs={"td": {"class": "num"}})
    original_amount = tables.Column(verbose_name="Original", attrs={"td": {"class": "num"}})
    current_upb = tables.Column(verbose_name="UPB", attrs={"td": {"class": "num"}})

    class Meta(BaseTable.Meta):
        model = Loan
        fields = [
            "loan_number",
            "borrower",
            "loan_officer",
            "branch",
            "product_type",
            "amortization",
            "note_rate",
            "original_amount",
            "current_upb",
            "term_months",
            "note_date",
            "status",
        ]
        order_by = ("loan_number",)

    def render_original_amount(self, value):  # type: ignore[no-untyped-def]
        return f"${value:,.2f}"

    def render_current_upb(self, value):  # type: ignore[no-untyped-def]
        return f"${value:,.2f}"
