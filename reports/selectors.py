"""Reads for the reports page and the weekly email.

Every number is an aggregate query over Activity (the timeline) and Opportunity, scoped with ``visible_to``;
nothing loops over events in Python. The definitions are written out for users in
``templates/reports/_definitions.html`` ("How these numbers are counted"); keep the two in step.

* Period numbers (the officer table and the summary) count events whose ``occurred_at`` falls in the period.
* The cohort (funnel, spread bands, threshold rules, median times) is the opportunities first matched in the
  period, followed to today: how many of them have reached each stage so far.

A report is seven queries on PostgreSQL: period events per officer (``pipeline_activity_report_idx``), opportunities
identified per officer and the cohort (``pipeline_opp_report_idx`` on Opportunity (organization, first_matched_at)),
officer names, cohort stage counts per band × rule (one join of the cohort to its activities), the medians
(one PERCENTILE_CONT ... FILTER per group over per-opportunity durations), and conversion by score decile (the
cohort ranked with NTILE, and its unscored rest). Other databases compute the medians
with window functions (six small queries).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Ntile, RowNumber
from django.utils import timezone

from campaigns.selectors import CampaignResult, campaign_results
from core.choices import Channel
from core.models import LoanOfficer, Organization
from core.money import money
from core.tenancy import profile_for
from pipeline.models import Activity, Opportunity
from reports.periods import Period

K = Activity.Kind
STAGE = Opportunity.Stage
PERCENT_PLACES = Decimal("0.1")


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    kind: str = "count"  # count | money


# The period numbers, in the order of the funnel.
PERIOD_METRICS: tuple[Metric, ...] = (
    Metric("identified", "Opportunities identified"),
    Metric("sent_email", "Emails sent"),
    Metric("sent_sms", "SMS sent"),
    Metric("delivered", "Delivered"),
    Metric("opened", "Opened"),
    Metric("clicked", "Clicked"),
    Metric("replied", "Replied"),
    Metric("appointments", "Appointments booked"),
    Metric("applications", "Applications started"),
    Metric("won", "Loans won"),
    Metric("revenue", "Est. origination revenue", "money"),
)

# Conditions on an Activity row that make it count for an event metric.
_APPOINTMENT_EVENT = Q(kind=K.BOOKED) | Q(kind=K.STAGE_CHANGE, to_stage=STAGE.APPOINTMENT)
_APPLICATION_EVENT = Q(kind=K.REFINANCE_INITIATED) | Q(kind=K.STAGE_CHANGE, to_stage=STAGE.APPLICATION)
_WON_EVENT = Q(kind=K.STAGE_CHANGE, to_stage=STAGE.WON)
_MESSAGE_EVENTS = {
    "sent_email": Q(kind=K.SENT, channel=Channel.EMAIL),
    "sent_sms": Q(kind=K.SENT, channel=Channel.SMS),
    "delivered": Q(kind=K.DELIVERED),
    "opened": Q(kind=K.OPENED),
    "clicked": Q(kind=K.CLICKED),
}
_OPPORTUNITY_EVENTS = {
    "replied": Q(kind=K.REPLIED),
    "appointments": _APPOINTMENT_EVENT,
    "applications": _APPLICATION_EVENT,
    "won": _WON_EVENT,
}
_COUNTED_ACTIVITY = Q(
    kind__in=[K.SENT, K.DELIVERED, K.OPENED, K.CLICKED, K.REPLIED, K.BOOKED, K.REFINANCE_INITIATED]
) | Q(kind=K.STAGE_CHANGE, to_stage__in=[STAGE.APPOINTMENT, STAGE.APPLICATION, STAGE.WON])


_APPOINTMENT_REACHED = _APPOINTMENT_EVENT | _APPLICATION_EVENT | _WON_EVENT
# The two median times of the cohort tables.
DURATIONS = ("first_touch", "appointment")


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    reached: Q  # an Activity of the opportunity matching this means the stage was reached


# Cohort stages. Appointment, application and won count as reached when that stage or a later one was reached
# (an opportunity that went straight to won did get an application), so the last three never grow.
COHORT_STAGES: tuple[Stage, ...] = (
    Stage("contacted", "Contacted (first message sent)", Q(kind=K.SENT)),
    Stage("delivered", "Delivered", Q(kind=K.DELIVERED)),
    Stage("opened", "Opened", Q(kind=K.OPENED)),
    Stage("clicked", "Clicked", Q(kind=K.CLICKED)),
    Stage("replied", "Replied", Q(kind=K.REPLIED)),
    Stage("appointment", "Appointment", _APPOINTMENT_REACHED),
    Stage("application", "Application started", _APPLICATION_EVENT | _WON_EVENT),
    Stage("won", "Won", _WON_EVENT),
)

# Spread bands in percentage points: lower bound inclusive, upper bound exclusive.
SPREAD_BANDS: tuple[tuple[str, str, Decimal | None, Decimal | None], ...] = (
    ("below_0.50", "below 0.50", None, Decimal("0.50")),
    ("0.50-0.75", "0.50–0.75", Decimal("0.50"), Decimal("0.75")),
    ("0.75-1.00", "0.75–1.00", Decimal("0.75"), Decimal("1.00")),
    ("1.00-1.50", "1.00–1.50", Decimal("1.00"), Decimal("1.50")),
    ("1.50+", "1.50 and more", Decimal("1.50"), None),
)
# Always shown, even when empty (the four bands); "below 0.50" only when it has opportunities.
_OPTIONAL_BANDS = {"below_0.50"}


@dataclass
class OfficerNumbers:
    """One row of the officer table: the period's numbers and the previous period's."""

    officer_id: int | None
    name: str
    current: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)

    def change(self, key: str) -> Any:
        return self.current[key] - self.previous[key]

    def change_percent(self, key: str) -> Decimal | None:
        return percent_change(self.current[key], self.previous[key])


@dataclass
class CohortRow:
    """One row of a conversion table: cohort opportunities that reached each stage, and median times."""

    key: str
    label: str
    identified: int
    reached: dict[str, int]
    median_first_touch: dt.timedelta | None = None
    median_appointment: dt.timedelta | None = None

    def rate(self, stage: str) -> Decimal | None:
        return share(self.reached[stage], self.identified)


@dataclass
class DecileRow:
    """One score decile of the cohort (1 = the highest scores), or the opportunities never scored."""

    key: str
    label: str
    identified: int
    application: int
    won: int
    low: float | None = None
    high: float | None = None

    def rate(self, stage: str) -> Decimal | None:
        return share(getattr(self, stage), self.identified)


@dataclass
class Report:
    organization: Organization
    period: Period
    previous: Period
    generated_at: dt.datetime
    officers: list[OfficerNumbers]
    total: OfficerNumbers
    cohort_total: CohortRow
    bands: list[CohortRow]
    rules: list[CohortRow]
    deciles: list[DecileRow] = field(default_factory=list)
    campaigns: list[CampaignResult] = field(default_factory=list)

    @property
    def funnel(self) -> list[tuple[str, str, int, Decimal | None]]:
        """(key, label, opportunities, share of identified) per stage of the cohort."""
        total = self.cohort_total
        rows = [("identified", "Identified", total.identified, share(total.identified, total.identified))]
        rows += [(s.key, s.label, total.reached[s.key], total.rate(s.key)) for s in COHORT_STAGES]
        return rows


def share(part: int, whole: int) -> Decimal | None:
    """``part`` as a percent of ``whole`` with one decimal (half up), or None when ``whole`` is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


def percent_change(current: Any, previous: Any) -> Decimal | None:
    if not previous:
        return None
    return (Decimal(current - previous) * 100 / Decimal(previous)).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------------------------
# Period numbers


def period_activity_counts(*, user: Any, period: Period) -> dict[int | None, dict[str, int]]:
    """Event counts per loan officer (of the opportunity) for ``period`` and the period before, in one query.

    Keys are ``<metric>`` and ``<metric>_prev``. Message events count messages; replied, appointments,
    applications and won count distinct opportunities. Uses ``pipeline_activity_report_idx``.
    """
    previous = period.previous()
    aggregates: dict[str, Aggregate] = {}
    for suffix, p in (("", period), ("_prev", previous)):
        when = Q(occurred_at__gte=p.start_at, occurred_at__lt=p.end_at)
        for key, condition in _MESSAGE_EVENTS.items():
            aggregates[key + suffix] = Count("pk", filter=when & condition)
        for key, condition in _OPPORTUNITY_EVENTS.items():
            aggregates[key + suffix] = Count("opportunity", distinct=True, filter=when & condition)
    rows = (
        Activity.objects.visible_to(user)
        .filter(opportunity__isnull=False, occurred_at__gte=previous.start_at, occurred_at__lt=period.end_at)
        .filter(_COUNTED_ACTIVITY)
        .values("opportunity__loan_officer")
        .annotate(**aggregates)
        .order_by()
    )
    return {row.pop("opportunity__loan_officer"): row for row in rows}


def period_identified_counts(*, user: Any, period: Period) -> dict[int | None, dict[str, int]]:
    """Opportunities first matched in ``period`` and in the period before, per loan officer, in one query."""
    previous = period.previous()
    rows = (
        Opportunity.objects.visible_to(user)
        .filter(first_matched_at__gte=previous.start_at, first_matched_at__lt=period.end_at)
        .values("loan_officer")
        .annotate(
            identified=Count("pk", filter=Q(first_matched_at__gte=period.start_at)),
            identified_prev=Count("pk", filter=Q(first_matched_at__lt=period.start_at)),
        )
        .order_by()
    )
    return {row.pop("loan_officer"): row for row in rows}


def officer_numbers(
    *, user: Any, period: Period, organization: Organization
) -> tuple[list[OfficerNumbers], OfficerNumbers]:
    """The officer table (every active loan officer the user may see, plus anyone with numbers) and its total."""
    counts = period_activity_counts(user=user, period=period)
    identified = period_identified_counts(user=user, period=period)
    ids = set(counts) | set(identified)
    officers = LoanOfficer.objects.visible_to(user).filter(is_active=True, role=LoanOfficer.Role.LOAN_OFFICER)
    named = LoanOfficer.objects.filter(organization=organization).filter(
        Q(pk__in=[i for i in ids if i is not None]) | Q(pk__in=officers.values("pk"))
    )
    names = dict(named.order_by().values_list("pk", "display_name"))
    keys = sorted(names, key=lambda pk: (names[pk].lower(), pk))
    if None in ids:
        keys.append(None)
    revenue_per_loan = organization.revenue_per_loan
    rows = []
    for officer_id in keys:  # one row per officer: the numbers are already aggregated
        merged = {**counts.get(officer_id, {}), **identified.get(officer_id, {})}
        row = OfficerNumbers(officer_id=officer_id, name=names.get(officer_id, "Unassigned"))
        for metric in PERIOD_METRICS:
            if metric.key == "revenue":
                continue
            row.current[metric.key] = merged.get(metric.key, 0)
            row.previous[metric.key] = merged.get(f"{metric.key}_prev", 0)
        row.current["revenue"] = money(row.current["won"] * revenue_per_loan)
        row.previous["revenue"] = money(row.previous["won"] * revenue_per_loan)
        rows.append(row)
    total = OfficerNumbers(officer_id=None, name="Total")
    for metric in PERIOD_METRICS:
        zero = Decimal("0.00") if metric.kind == "money" else 0
        total.current[metric.key] = sum((r.current[metric.key] for r in rows), zero)
        total.previous[metric.key] = sum((r.previous[metric.key] for r in rows), zero)
    return rows, total


# ---------------------------------------------------------------------------------------------------------------
# Cohort: opportunities first matched in the period


def cohort(*, user: Any, period: Period) -> QuerySet[Opportunity]:
    """Opportunities first matched in the period (``pipeline_opp_report_idx``: organization, first_matched_at)."""
    return (
        Opportunity.objects.visible_to(user)
        .filter(first_matched_at__gte=period.start_at, first_matched_at__lt=period.end_at)
        .order_by()
    )


def _first_at(condition: Q) -> Subquery:
    """When the opportunity first had an activity matching ``condition`` (uses pipeline_activity_timeline_idx)."""
    first = Activity.objects.filter(opportunity=OuterRef("pk")).filter(condition).order_by("occurred_at")
    return Subquery(first.values("occurred_at")[:1])


def _since_match(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(_first_at(condition) - F("first_matched_at"), output_field=DurationField())


def first_touch_duration() -> ExpressionWrapper:
    """Rate-drop match → the first ``sent`` message."""
    return _since_match(Q(kind=K.SENT))


def appointment_duration() -> ExpressionWrapper:
    """Rate-drop match → the first appointment (or later stage, as counted for the appointment stage)."""
    return _since_match(_APPOINTMENT_REACHED)


def spread_band_expression() -> Case:
    whens = [When(matched_spread__lt=upper, then=Value(key)) for key, _label, _lower, upper in SPREAD_BANDS if upper]
    return Case(*whens, default=Value(SPREAD_BANDS[-1][0]))


def rule_expressions() -> dict[str, Any]:
    """Group keys for "by threshold rule": the matching rule, and for the flat rule the threshold that applied."""
    return {
        "rule": F("matched_rule"),
        "rule_threshold": Case(
            When(matched_rule=Organization.MatchingRule.OPTIMAL, then=None), default=F("matched_threshold")
        ),
    }


GROUP_KEYS = ("band", "rule", "rule_threshold")


def cohort_groups() -> dict[str, Any]:
    """The finest grouping of the cohort; bands, rules and the total are sums of these groups."""
    return {"band": spread_band_expression(), **rule_expressions()}


def _through_activities(condition: Q) -> Q:
    """An Activity condition seen from the opportunity: each lookup goes through ``activities__``."""
    prefixed = Q()
    prefixed.connector, prefixed.negated = condition.connector, condition.negated
    prefixed.children = [
        _through_activities(child) if isinstance(child, Q) else (f"activities__{child[0]}", child[1])
        for child in condition.children
    ]
    return prefixed


def cohort_counts(qs: QuerySet[Opportunity]) -> list[dict[str, Any]]:
    """Per finest group: cohort opportunities, and how many of them reached each stage, in one query.

    The cohort is joined once to its activities and each stage is COUNT(DISTINCT opportunity) FILTER (stage
    condition). An opportunity lies in exactly one group, so the counts add up to coarser groups.
    """
    aggregates = {"identified": Count("pk", distinct=True)}
    aggregates |= {
        stage.key: Count("pk", distinct=True, filter=_through_activities(stage.reached)) for stage in COHORT_STAGES
    }
    return list(qs.annotate(**cohort_groups()).values(*GROUP_KEYS).annotate(**aggregates).order_by())


def _rollup(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple, dict[str, int]]:
    """Sum the per-group counts by ``keys`` (a few aggregated rows, not events)."""
    names = ["identified", *(stage.key for stage in COHORT_STAGES)]
    out: dict[tuple, dict[str, int]] = {}
    for row in rows:
        totals = out.setdefault(tuple(row[k] for k in keys), dict.fromkeys(names, 0))
        for name in names:
            totals[name] += row[name]
    return out


class Median(Aggregate):
    """PostgreSQL's PERCENTILE_CONT(0.5) (interpolates between the two middle values, like statistics.median)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def _median_groups(counts: list[dict[str, Any]]) -> dict[tuple, Q]:
    """Every group a median is shown for: the total, each band and each rule group present in the cohort."""
    groups: dict[tuple, Q] = {(): Q()}
    for band in sorted({row["band"] for row in counts}):
        groups[("band", band)] = Q(band=band)
    for rule, threshold in sorted({(row["rule"], row["rule_threshold"]) for row in counts}, key=str):
        groups[("rule", rule, threshold)] = Q(rule=rule, rule_threshold=threshold)
    return groups


def _first_since_match(condition: Q) -> ExpressionWrapper:
    first = Min("activities__occurred_at", filter=_through_activities(condition))
    return ExpressionWrapper(first - F("first_matched_at"), output_field=DurationField())


def _medians_postgres(qs: QuerySet[Opportunity], counts: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """PostgreSQL: one query. The inner query gives each cohort opportunity its group keys and durations (one
    pass over the cohort's activities); the outer one takes PERCENTILE_CONT(0.5) ... FILTER (group) per group.
    """
    per_opportunity = qs.annotate(
        **cohort_groups(),
        first_touch=_first_since_match(Q(kind=K.SENT)),
        appointment=_first_since_match(_APPOINTMENT_REACHED),
    )
    groups = _median_groups(counts)
    aggregates = {}
    for index, condition in enumerate(groups.values()):
        for name in DURATIONS:
            aggregates[f"g{index}_{name}"] = Median(name, filter=condition or None, output_field=DurationField())
    row = per_opportunity.aggregate(**aggregates)
    return {key: {name: row[f"g{index}_{name}"] for name in DURATIONS} for index, key in enumerate(groups)}


def _medians_window(qs: QuerySet[Opportunity], counts: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """Other databases: per grouping, rank each group's durations with window functions and keep only the middle
    one or two rows; only those leave the database, and their mean is the median.
    """
    result: dict[tuple, dict[str, Any]] = {}
    durations = {"first_touch": first_touch_duration(), "appointment": appointment_duration()}
    for prefix, groups in (((), {}), (("band",), {"band": spread_band_expression()}), (("rule",), rule_expressions())):
        partition = [F(g) for g in groups] or None
        for name, expr in durations.items():
            middle = (
                qs.annotate(**groups, d=expr)
                .filter(d__isnull=False)
                .annotate(
                    rn=Window(RowNumber(), partition_by=partition, order_by=[F("d").asc(), F("pk").asc()]),
                    n=Window(Count("pk"), partition_by=partition),
                )
                .filter(rn__gte=(F("n") + 1) / 2, rn__lte=F("n") / 2 + 1)
                .values_list(*groups, "d")
            )
            picked: dict[tuple, list[dt.timedelta]] = {}
            for *key, duration in middle:
                picked.setdefault((*prefix, *key), []).append(duration)
            for key, values in picked.items():
                result.setdefault(key, {})[name] = sum(values, dt.timedelta()) / len(values)
    return result


def cohort_medians(qs: QuerySet[Opportunity], counts: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """{(): total, ("band", key): ..., ("rule", rule, threshold): ...} → {"first_touch": td, "appointment": td}."""
    if connection.vendor == "postgresql":
        return _medians_postgres(qs, counts)
    return _medians_window(qs, counts)


def _cohort_row(key: str, label: str, counts: dict[str, Any], medians: dict[str, Any]) -> CohortRow:
    return CohortRow(
        key=key,
        label=label,
        identified=counts.get("identified") or 0,
        reached={stage.key: counts.get(stage.key) or 0 for stage in COHORT_STAGES},
        median_first_touch=medians.get("first_touch"),
        median_appointment=medians.get("appointment"),
    )


def cohort_total(counts: list[dict[str, Any]], medians: dict[tuple, dict[str, Any]]) -> CohortRow:
    totals = _rollup(counts, ()).get((), {})
    return _cohort_row("total", "All spreads", totals, medians.get((), {}))


def cohort_by_band(counts: list[dict[str, Any]], medians: dict[tuple, dict[str, Any]]) -> list[CohortRow]:
    totals = _rollup(counts, ("band",))
    rows = []
    for key, label, _lower, _upper in SPREAD_BANDS:
        if key in _OPTIONAL_BANDS and (key,) not in totals:
            continue
        rows.append(_cohort_row(key, label, totals.get((key,), {}), medians.get(("band", key), {})))
    return rows


def _rule_label(rule: str | None, threshold: Decimal | None) -> str:
    if rule == Organization.MatchingRule.OPTIMAL:
        return "Optimal threshold (x*, per loan)"
    name = "Flat threshold" if rule == Organization.MatchingRule.FLAT else "Rule not recorded"
    return f"{name} {threshold:.3f} pts" if threshold is not None else name


def cohort_by_rule(counts: list[dict[str, Any]], medians: dict[tuple, dict[str, Any]]) -> list[CohortRow]:
    totals = _rollup(counts, ("rule", "rule_threshold"))
    rows = []
    for (rule, raw_threshold), group_counts in totals.items():
        threshold = None if raw_threshold is None else Decimal(raw_threshold).quantize(Decimal("0.001"))
        key = f"{rule or 'unknown'}:{threshold if threshold is not None else ''}"
        label = _rule_label(rule, threshold)
        rows.append(_cohort_row(key, label, group_counts, medians.get(("rule", rule, raw_threshold), {})))
    order = {Organization.MatchingRule.FLAT: 0, Organization.MatchingRule.OPTIMAL: 1}
    return sorted(rows, key=lambda r: (order.get(r.key.split(":")[0], 2), r.key))


def cohort_by_score_decile(qs: QuerySet[Opportunity]) -> list[DecileRow]:
    """The cohort by decile of its score (``Opportunity.score``, written nightly by scoring and frozen once an
    opportunity reaches application, so it is the score it had before its outcome): one query over the cohort
    ranked with NTILE(10), and the unscored rest."""
    application = Exists(Activity.objects.filter(opportunity=OuterRef("pk")).filter(_APPLICATION_EVENT | _WON_EVENT))
    won = Exists(Activity.objects.filter(opportunity=OuterRef("pk")).filter(_WON_EVENT))
    ranked = (
        qs.filter(score__isnull=False)
        .annotate(reached_application=application, reached_won=won)
        .annotate(decile=Window(Ntile(10), order_by=[F("score").desc(), F("pk").asc()]))
        .values("decile", "score", "reached_application", "reached_won")
    )
    sql, params = ranked.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.decile, COUNT(*), SUM(CASE WHEN d.reached_application THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN d.reached_won THEN 1 ELSE 0 END), MIN(d.score), MAX(d.score) "
            f"FROM ({sql}) d GROUP BY d.decile ORDER BY d.decile",
            params,
        )
        rows = [
            DecileRow(
                key=str(decile),
                label=f"{decile}" + (" (highest scores)" if decile == 1 else ""),
                identified=count,
                application=int(applications or 0),
                won=int(wins or 0),
                low=low,
                high=high,
            )
            for decile, count, applications, wins, low, high in cursor.fetchall()
        ]
    unscored = (
        qs.filter(score__isnull=True)
        .annotate(reached_application=application, reached_won=won)
        .aggregate(
            identified=Count("pk"),
            application=Count("pk", filter=Q(reached_application=True)),
            won=Count("pk", filter=Q(reached_won=True)),
        )
    )
    if unscored["identified"]:
        rows.append(DecileRow(key="unscored", label="Not scored", **unscored))
    return rows


# ---------------------------------------------------------------------------------------------------------------


def report_build(*, user: Any, period: Period, now: dt.datetime | None = None) -> Report:
    """Everything the page and the email show, scoped to what ``user`` may see."""
    profile = profile_for(user)
    if profile is None:
        raise PermissionError("The user has no active staff profile.")
    organization = profile.organization
    officers, total = officer_numbers(user=user, period=period, organization=organization)
    qs = cohort(user=user, period=period)
    counts = cohort_counts(qs)
    medians = cohort_medians(qs, counts)
    return Report(
        organization=organization,
        period=period,
        previous=period.previous(),
        generated_at=now or timezone.now(),
        officers=officers,
        total=total,
        cohort_total=cohort_total(counts, medians),
        bands=cohort_by_band(counts, medians),
        rules=cohort_by_rule(counts, medians),
        deciles=cohort_by_score_decile(qs),
        campaigns=campaign_results(user=user, sent_from=period.start_at, sent_before=period.end_at),
    )
