from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import F, Q, QuerySet
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.choices import ProductType
from core.models import Branch, LoanOfficer
from core.tenancy import profile_for
from loans.filters import name_or_number
from loans.finance import add_months
from pipeline.models import Opportunity

# --- The pipeline board -------------------------------------------------------------------------------------

STAGE_OPEN = "open"
STAGE_ALL = "all"
PRESET_CALL_FIRST = "call_first"
PRESET_REVIEW = "review"
BEFORE_APPLICATION = ("new", "contacted", "engaged", "appointment")


def _board_officers(request):  # type: ignore[no-untyped-def]
    if request is None:
        return LoanOfficer.objects.none()
    return LoanOfficer.objects.visible_to(request.user).filter(is_active=True).order_by("display_name")


def _board_branches(request):  # type: ignore[no-untyped-def]
    """Org admins choose among the organization's branches, a branch manager only sees their own."""
    profile = profile_for(request.user) if request is not None else None
    if profile is None:
        return Branch.objects.none()
    branches = Branch.objects.for_organization(profile.organization_id).order_by("name")
    if profile.role != LoanOfficer.Role.ORG_ADMIN:
        branches = branches.filter(pk=profile.branch_id)
    return branches


class FastSelect(forms.Select):
    """A <select> rendered in Python: the same markup as Django's Select without a template per <option>
    (a board filter can list hundreds of loan officers)."""

    def render(self, name, value, attrs=None, renderer=None):  # type: ignore[no-untyped-def]
        context = self.get_context(name, value, attrs)["widget"]
        options = []
        for _group, group_options, _index in context["optgroups"]:
            for option in group_options:
                options.append(
                    format_html(
                        '<option value="{}"{}>{}</option>',
                        "" if option["value"] is None else option["value"],
                        mark_safe(" selected") if option["selected"] else "",
                        option["label"],
                    )
                )
        attributes = flatatt({k: v for k, v in context["attrs"].items() if v is not False})
        return format_html('<select name="{}"{}>{}</select>', context["name"], attributes, mark_safe("".join(options)))


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class OpportunityBoardFilterSet(django_filters.FilterSet):
    """The board's filters; they combine (AND). The stage defaults to the open stages."""

    q = django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or loan #"}),
    )
    loan_officer = django_filters.ModelChoiceFilter(label="Loan officer", queryset=_board_officers)
    branch = django_filters.ModelChoiceFilter(label="Branch", queryset=_board_branches)
    product_type = django_filters.ChoiceFilter(label="Product", choices=ProductType.choices)
    stage = django_filters.ChoiceFilter(
        label="Stage",
        method="filter_stage",
        choices=[(STAGE_OPEN, "Open stages"), *Opportunity.Stage.choices, (STAGE_ALL, "All stages")],
        empty_label=None,
    )
    min_savings = django_filters.NumberFilter(
        label="Min monthly savings",
        field_name="monthly_savings",
        lookup_expr="gte",
        min_value=Decimal("0"),
        # Cents are allowed (250.50): step 0.01, not 1.
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    min_score = django_filters.NumberFilter(
        label="Min score (%)",
        method="filter_min_score",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        widget=forms.NumberInput(attrs={"step": "1", "min": "0", "max": "100", "inputmode": "decimal"}),
    )
    preset = django_filters.ChoiceFilter(
        label="Preset",
        method="filter_preset",
        choices=[(PRESET_CALL_FIRST, "Call first"), (PRESET_REVIEW, "18-month review")],
        empty_label="None",
    )
    min_spread = django_filters.NumberFilter(
        label="Min spread (pts)",
        field_name="spread",
        lookup_expr="gte",
        min_value=Decimal("0"),
        max_value=Decimal("20"),
        widget=forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "20", "inputmode": "decimal"}),
    )
    note_within_months = IntegerFilter(
        label="Closed within (months)",
        method="filter_note_within",
        min_value=1,
        max_value=600,
        widget=forms.NumberInput(attrs={"step": "1", "min": "1", "max": "600", "inputmode": "numeric"}),
    )
    qualifies = django_filters.ChoiceFilter(
        label="Qualifies now",
        method="filter_qualifies",
        choices=[("yes", "Yes"), ("no", "No")],
        empty_label="Any",
    )
    # Not a filter: the table's page size (read by django-tables2 from the same query string), kept in the form
    # so a filter change keeps it.
    per_page = django_filters.ChoiceFilter(
        label="Rows",
        method="keep",
        choices=[("25", "25"), ("50", "50"), ("100", "100")],
        empty_label=None,
    )

    class Meta:
        model = Opportunity
        fields = [
            "q",
            "loan_officer",
            "branch",
            "product_type",
            "stage",
            "min_savings",
            "min_score",
            "preset",
            "min_spread",
            "note_within_months",
            "qualifies",
            "per_page",
        ]

    def __init__(self, data=None, *args, request=None, **kwargs):  # type: ignore[no-untyped-def]
        # Always bound, so the default stage (open) applies to a bare /board/ too.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("stage"):
            data["stage"] = STAGE_OPEN
        if data.get("per_page") not in ("25", "50", "100"):
            data["per_page"] = "25"
        super().__init__(data, *args, request=request, **kwargs)
        for filter_ in self.filters.values():
            if isinstance(filter_, django_filters.ChoiceFilter | django_filters.ModelChoiceFilter):
                filter_.extra["widget"] = FastSelect
        profile = profile_for(request.user) if request is not None else None
        if profile is None or profile.role == LoanOfficer.Role.LOAN_OFFICER:
            # A loan officer's board is their own: no officer or branch to choose.
            del self.filters["loan_officer"], self.filters["branch"]
        elif profile.role == LoanOfficer.Role.BRANCH_MANAGER:
            del self.filters["branch"]

    def search(self, queryset: QuerySet[Opportunity], name: str, value: str) -> QuerySet[Opportunity]:
        condition = name_or_number(value, loan="loan__")
        return queryset if condition is None else queryset.filter(condition)

    def filter_stage(self, queryset: QuerySet[Opportunity], name: str, value: str) -> QuerySet[Opportunity]:
        if value == STAGE_ALL:
            return queryset
        if value == STAGE_OPEN or not value:
            # The same list as the board indexes' condition, so PostgreSQL can use them.
            return queryset.filter(stage__in=Opportunity.OPEN_STAGES)
        return queryset.filter(stage=value)

    def keep(self, queryset: QuerySet[Opportunity], name: str, value: str) -> QuerySet[Opportunity]:
        return queryset

    def filter_min_score(self, queryset: QuerySet[Opportunity], name: str, value: Decimal) -> QuerySet[Opportunity]:
        return queryset if value is None else queryset.filter(score__gte=float(value) / 100)

    def filter_preset(self, queryset: QuerySet[Opportunity], name: str, value: str) -> QuerySet[Opportunity]:
        """ "Call first": scored opportunities before application not contacted yet today (the organization's
        day), highest score first. "18-month review": opportunities the loan review flagged, newest first."""
        if value == PRESET_REVIEW:
            return queryset.filter(review_flag=True).order_by(F("reviewed_at").desc(nulls_last=True), "pk")
        if value != PRESET_CALL_FIRST:
            return queryset
        profile = profile_for(self.request.user) if self.request is not None else None
        zone = profile.organization.zone if profile else dt.UTC
        day_start = timezone.localtime(timezone.now(), zone).replace(hour=0, minute=0, second=0, microsecond=0)
        return (
            queryset.filter(score__isnull=False, stage__in=BEFORE_APPLICATION)
            .filter(Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=day_start))
            .order_by(F("score").desc(), "pk")
        )

    def filter_note_within(self, queryset: QuerySet[Opportunity], name: str, value: int) -> QuerySet[Opportunity]:
        """Loans closed (note date) in the last ``value`` whole months before the organization's today."""
        if value is None:
            return queryset
        profile = profile_for(self.request.user) if self.request is not None else None
        today = profile.organization.today() if profile else timezone.localdate()
        return queryset.filter(loan__note_date__gte=add_months(today, -value))

    def filter_qualifies(self, queryset: QuerySet[Opportunity], name: str, value: str) -> QuerySet[Opportunity]:
        if value in ("yes", "no"):
            return queryset.filter(qualifies=value == "yes")
        return queryset
