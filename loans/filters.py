from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from core.choices import ProductType
from core.models import LoanOfficer
from loans.models import Loan


def _officers(request):  # type: ignore[no-untyped-def]
    if request is None:
        return LoanOfficer.objects.none()
    return LoanOfficer.objects.visible_to(request.user)


def name_or_number(value: str, *, loan: str = "") -> Q | None:
    """Search by loan number or borrower name ("Ana", "O'Neil", "Ana O'Neil"); ``loan`` is the path to the loan
    ("" on Loan itself, "loan__" from an opportunity). None for an empty search."""
    value = value.strip()
    if not value:
        return None
    condition = Q(**{f"{loan}loan_number__icontains": value}) | Q(borrower__last_name__icontains=value)
    condition |= Q(borrower__first_name__icontains=value)
    parts = value.split()
    if len(parts) >= 2:
        condition |= Q(borrower__first_name__icontains=parts[0], borrower__last_name__icontains=parts[-1])
    return condition


class LoanFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="search", help_text="Borrower name or loan number")
    product_type = django_filters.ChoiceFilter(label="Product", choices=ProductType.choices)
    loan_officer = django_filters.ModelChoiceFilter(label="Loan officer", queryset=_officers)
    status = django_filters.ChoiceFilter(choices=Loan.Status.choices)

    class Meta:
        model = Loan
        fields = ["q", "product_type", "loan_officer", "status"]

    def search(self, queryset: QuerySet[Loan], name: str, value: str) -> QuerySet[Loan]:
        condition = name_or_number(value)
        return queryset if condition is None else queryset.filter(condition)
