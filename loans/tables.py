from __future__ import annotations

import django_tables2 as tables

from core.tables import BaseTable, MoneyColumn, MonthsColumn, RateColumn
from loans.models import Loan


class LoanTable(BaseTable):
    loan_number = tables.Column(linkify=True, verbose_name="Loan #")
    borrower = tables.Column(order_by=("borrower__last_name", "borrower__first_name"))
    loan_officer = tables.Column(verbose_name="Loan officer", order_by=("loan_officer__display_name",))
    note_rate = RateColumn(verbose_name="Note rate")
    original_amount = MoneyColumn(verbose_name="Original amount")
    current_upb = MoneyColumn(verbose_name="UPB")
    term_months = MonthsColumn(verbose_name="Term (months)")
    note_date = tables.DateColumn(verbose_name="Note date", format="DATE_FORMAT")

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


# --- The pipeline board -------------------------------------------------------------------------------------
