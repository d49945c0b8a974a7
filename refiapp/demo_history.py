"""The demo lender's last twelve weeks, replayed day by day through the real services under frozen time.

Without it the demo opens on a board full of opportunities and a reports page (and a Monday email) of zeros.
Each day of the twelve full weeks before this one and of this week before today, with the clock travelled there
(``time_machine``):

* the desk rate sheet has a value for every business day; at 09:00 on the first business day of each of the
  twelve weeks the real match runs on it (as the daily task would, on that week's rates; this week's match is
  today's, after the history). Score routing puts most new qualifying opportunities in the default sequence
  over the following days (``enrollments_create_for``), the rest stay in nurture; every business day the loan
  officers move call requests to applications (``refinance_initiate``), approve and fund some.
* 10:00 — the real dispatcher sends what is due (the anymail test backend and the local SMS gateway: nothing
  leaves the machine, whatever the environment configures), then the borrowers react at their own minute of
  the day through the real recording services: deliveries, opens, bounces (``message_record_event``), clicks
  and call requests (``tracked_link_click``, ``booking_request_create``), replies and STOP texts
  (``process_email_inbound``, ``process_sms_inbound``), unsubscribes (``borrower_opt_out``).
* the automations run as their schedules would (``refiapp.demo_automations``): rate-lock alerts at 08:00, status
  updates after the officers' work, and one branch manager's rate-alert campaign three weeks ago.

The shipped FRED history ends before the demo's twelve weeks (it is a snapshot), so the rates replay the
*last* twelve weeks of each shipped series: on day ``d`` the desk rate sheet carries the FRED observation of
``d - today`` days before that series' newest date — real weekly movements, ending on the value the demo rate
sheet quotes today. Behaviour is drawn from one seeded ``random.Random``: the same database gets the same story.

The history is written once: when the organization already has messages sent before today (an earlier seed, or
a demo that has been running), it is left alone, so a rerun of ``seed_demo`` changes nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import time_machine
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.test.utils import override_settings
from django.utils import timezone

from core.calendar import is_business_day
from core.choices import Channel
from core.models import Organization
from outreach.models import BookingRequest, Message
from outreach.services import borrower_mark_undeliverable, borrower_opt_out, dispatch_due_messages
from outreach.services.bookings import booking_request_create, tracked_link_click
from outreach.services.engagement import message_record_event
from outreach.services.enrollments import enrollments_create_for
from outreach.services.webhooks import process_email_inbound, process_sms_inbound
from outreach.sms import LocalSmsBackend
from pipeline.models import Activity, MatchRun, Opportunity
from pipeline.services.matching import match_organization
from rates.models import RateObservation, RateSeries, SeriesMapping
from rates.services import observations_store
from refiapp import demo_automations
from refinance.models import RefinanceTransaction
from refinance.rules import RefinanceRulesFailed
from refinance.services import (
    refinance_approve,
    refinance_cancel,
    refinance_defaults,
    refinance_fund,
    refinance_initiate,
)

HISTORY_WEEKS = 12
EIGHTH = Decimal("0.125")  # the new rate is the market rate to the nearest eighth, as lenders quote
SEED = "refiapp-demo-history-v1"
TEST_EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
DISPATCH_TIME = dt.time(10, 0)
REACTION_HOURS = 8  # borrowers react within this many hours of a send (the same day)

# Days after its match until a new opportunity enters the sequence (spread over the week); None: never (nurture).
ENROLL_AFTER_DAYS = (0, 0, 1, 1, 2, 2, 3, 4, 7, None)
# Borrower behaviour per message (shares of the messages sent), and the loan officers' pace per day.
P_EMAIL_BOUNCE = 0.03
P_SMS_FAILED = 0.02
P_OPEN = 0.48  # of delivered emails
P_CLICK = 0.3  # of opened emails
P_SMS_CLICK = 0.06
P_BOOK = 0.5  # of clicks
P_REPLY = 0.05
P_UNSUBSCRIBE = 0.015
P_SMS_STOP = 0.03
P_APPLY_APPOINTMENT = 0.3  # per day, once the call request is two days old
P_APPLY_ENGAGED = 0.06  # per day, a reply or click that has not booked a call
P_APPROVE = 0.35  # per day, after three days
P_CANCEL = 0.03
P_FUND = 0.4  # per day, after four days approved

REPLIES_EMAIL = [
    "Thanks for reaching out. What would the new payment be if I keep the same term?",
    "Yes, I'm interested. Can you call me after 5pm?",
    "We were just talking about this. What do you need from us to get started?",
    "Is there a cost to check? I don't want a hard pull on my credit yet.",
]
REPLIES_SMS = ["Yes please call me", "Interested, what are the closing costs?", "Call me tomorrow morning", "Sure"]
WINDOWS = [["morning"], ["afternoon"], ["evening"], ["morning", "afternoon"], ["afternoon", "evening"]]


@dataclass
class HistoryResult:
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    counts: Counter = field(default_factory=Counter)
    seeded: bool = False

    def line(self) -> str:
        if not self.seeded:
            return "history: unchanged (already seeded)"
        c = self.counts
        return (
            f"history {self.first_day} to {self.last_day}: {c['matches']} weekly matches, {c['identified']} "
            f"identified, {c['enrolled']} enrolled, {c['sent']} sent, {c['opened']} opened, {c['clicked']} clicked, "
            f"{c['replied']} replied, {c['booked']} call requests, {c['applications']} applications, "
            f"{c['funded']} funded, {c['opt_outs']} opt-outs, {c['bounces']} bounces, {c['lock_alerts']} lock "
            f"alerts, {c['status_updates']} status updates, 1 campaign ({c['campaign']} emails)"
        )


@dataclass(frozen=True)
class FredReplay:
    """A shipped FRED series shifted so that its newest observation falls on ``today``."""

    code: str
    dates: list[dt.date]
    rates: list[Decimal]
    today: dt.date

    def on(self, day: dt.date) -> tuple[dt.date, Decimal]:
        """(the FRED date, its value) that day ``day`` of the demo replays."""
        shifted = self.dates[-1] - (self.today - day)
        index = bisect.bisect_right(self.dates, shifted) - 1
        return (self.dates[max(index, 0)], self.rates[max(index, 0)])


def history_seeded(organization: Organization, *, today: dt.date) -> bool:
    start = dt.datetime.combine(today, dt.time.min, tzinfo=organization.zone)
    return Message.objects.filter(organization=organization, sent_at__lt=start).exists()


def demo_history(*, organization: Organization, weeks: int = HISTORY_WEEKS) -> HistoryResult:
    """Replay the ``weeks`` full weeks before this one and this week's days before today (see the module text);
    nothing when history is already there."""
    today = organization.today()
    result = HistoryResult()
    if history_seeded(organization, today=today):
        return result
    this_monday = today - dt.timedelta(days=today.weekday())
    history = _History(organization=organization, today=today, rng=random.Random(SEED), result=result)
    history.last_match_day = this_monday - dt.timedelta(days=1)  # this week's match is today's, after the history
    result.first_day, result.last_day = this_monday - dt.timedelta(weeks=weeks), today - dt.timedelta(days=1)
    # Officer notifications (send_mail) must not reach a console or a real ESP either.
    with override_settings(EMAIL_BACKEND=TEST_EMAIL_BACKEND), transaction.atomic():
        history.desk_rates(result.first_day)
        for offset in range((today - result.first_day).days):
            history.day(result.first_day + dt.timedelta(days=offset))
    result.seeded = True
    return result


@contextmanager
def _at(moment: dt.datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


class _History:
    def __init__(self, *, organization: Organization, today: dt.date, rng: random.Random, result: HistoryResult):
        self.organization = organization
        self.zone: ZoneInfo = organization.zone
        self.today = today
        self.rng = rng
        self.counts = result.counts
        self.replays = self._replays()
        self.sms = LocalSmsBackend()
        self.matched_week: tuple[int, int] | None = None
        self.last_match_day = today
        self.enroll_on: dict[int, dt.date | None] = {}
        self.tried: set[int] = set()  # opportunities whose application was attempted (a rule refused some)
        self.campaign_day = demo_automations.campaign_day(today)

    def _replays(self) -> list[tuple[SeriesMapping, FredReplay]]:
        """Each desk rate-sheet mapping with the FRED series its value is copied from (demo_rate_sheet_ensure)."""
        mappings = SeriesMapping.objects.filter(
            organization=self.organization, series__organization=self.organization, fallback_series__isnull=False
        ).select_related("series", "fallback_series")
        replays = []
        for mapping in mappings.order_by("pk"):
            fred = mapping.fallback_series
            rows = list(
                RateObservation.objects.filter(series=fred, date__lte=self.today)
                .order_by("date")
                .values_list("date", "rate")
            )
            if rows:
                dates, rates = zip(*rows, strict=True)
                replays.append((mapping, FredReplay(fred.code, list(dates), list(rates), self.today)))
        return replays

    def moment(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.zone)

    # ----- one day ---------------------------------------------------------------------------------------

    def day(self, day: dt.date) -> None:
        morning = self.moment(day, demo_automations.LOCK_ALERT_TIME)
        with _at(morning):
            self.counts["lock_alerts"] += demo_automations.lock_alerts(self.organization, morning)
        if is_business_day(day):
            with _at(self.moment(day, dt.time(9, 0))):
                week = day.isocalendar()[:2]
                if week != self.matched_week and day <= self.last_match_day:  # on the week's first business day
                    self.matched_week = week
                    self.match(day)
                self.enroll(day)
                self.officers()
                self.counts["status_updates"] += demo_automations.status_updates(self.organization, timezone.now())
        if day == self.campaign_day:
            moment = self.moment(day, demo_automations.CAMPAIGN_TIME)
            with _at(moment):
                self.counts["campaign"] += demo_automations.demo_campaign_send(self.organization, moment)
        moment = self.moment(day, DISPATCH_TIME)
        due = Message.objects.filter(
            organization=self.organization, status=Message.Status.SCHEDULED, due_at__lte=moment
        ).exists()
        if not due:
            return
        with _at(moment):
            dispatch_due_messages(sms_gateway=self.sms, email_connection=get_connection(TEST_EMAIL_BACKEND))
        sent = list(
            Message.objects.filter(organization=self.organization, sent_at=moment)
            .select_related("opportunity__loan", "borrower")
            .order_by("pk")
        )
        self.counts["sent"] += len(sent)
        events: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        for message in sent:
            for when, action in self.reactions(message, moment):
                events.append((when, len(events), action))
        for when, _order, action in sorted(events, key=lambda e: (e[0], e[1])):
            with _at(when):
                action()

    def desk_rates(self, first: dt.date) -> None:
        """The desk rate sheet of every business day of the history, one bulk upsert per series."""
        days = [first + dt.timedelta(days=n) for n in range((self.today - first).days)]
        days = [day for day in days if is_business_day(day)]
        for mapping, replay in self.replays:
            observations_store(
                series=mapping.series,
                observations=[(day, replay.on(day)[1]) for day in days],
                source=RateSeries.Source.RATE_SHEET,
                revision_source=f"demo replay of {replay.code}",
            )

    def match(self, day: dt.date) -> None:
        run = match_organization(organization=self.organization, as_of=day, trigger=MatchRun.Trigger.COMMAND)
        self.counts["matches"] += 1
        self.counts["identified"] += run.created
        new = Opportunity.objects.filter(
            organization=self.organization, stage=Opportunity.Stage.NEW, qualifies=True, enrollments__isnull=True
        )
        for pk in new.order_by("pk").values_list("pk", flat=True):
            if pk not in self.enroll_on:  # when routing puts it in the sequence (None: it stays in nurture)
                wait = self.rng.choice(ENROLL_AFTER_DAYS)
                self.enroll_on[pk] = None if wait is None else day + dt.timedelta(days=wait)

    def enroll(self, day: dt.date) -> None:
        due = [pk for pk, on in self.enroll_on.items() if on is not None and on <= day]
        for pk in due:
            del self.enroll_on[pk]
        if due:
            self.counts["enrolled"] += enrollments_create_for(
                organization=self.organization,
                opportunities=Opportunity.objects.filter(pk__in=due, stage=Opportunity.Stage.NEW, qualifies=True),
            )

    # ----- the loan officers' day ------------------------------------------------------------------------

    def officers(self) -> None:
        now = timezone.now()
        self.applications(now)
        refinances = RefinanceTransaction.objects.filter(organization=self.organization).select_related(
            "existing_loan__loan_officer__user"
        )
        for refinance in refinances.filter(status=RefinanceTransaction.Status.APPROVED).order_by("pk"):
            if refinance.updated_at <= now - dt.timedelta(days=4) and self.rng.random() < P_FUND:
                refinance_fund(refinance=refinance, actor=self._actor(refinance), note="Closed and funded.")
                self.counts["funded"] += 1
        for refinance in refinances.filter(status=RefinanceTransaction.Status.INITIATED).order_by("pk"):
            if refinance.created_at > now - dt.timedelta(days=3):
                continue
            draw = self.rng.random()
            if draw < P_CANCEL:
                refinance_cancel(refinance=refinance, actor=self._actor(refinance), note="Borrower withdrew.")
            elif draw < P_CANCEL + P_APPROVE:
                refinance_approve(refinance=refinance, actor=self._actor(refinance), note="Underwriting approved.")

    @staticmethod
    def _actor(refinance: RefinanceTransaction):
        officer = refinance.existing_loan.loan_officer
        return officer.user if officer is not None else None

    def applications(self, now: dt.datetime) -> None:
        candidates = (
            Opportunity.objects.filter(organization=self.organization)
            .filter(
                Q(stage=Opportunity.Stage.APPOINTMENT, stage_changed_at__lte=now - dt.timedelta(days=2))
                | Q(stage=Opportunity.Stage.ENGAGED, stage_changed_at__lte=now - dt.timedelta(days=3))
            )
            .select_related("loan__organization", "loan_officer__user")
            .order_by("pk")
        )
        for opportunity in candidates:
            if opportunity.pk in self.tried:
                continue
            chance = P_APPLY_APPOINTMENT if opportunity.stage == Opportunity.Stage.APPOINTMENT else P_APPLY_ENGAGED
            if self.rng.random() >= chance:
                continue
            self.tried.add(opportunity.pk)
            self._apply(opportunity)

    def _apply(self, opportunity: Opportunity) -> None:
        loan = opportunity.loan
        defaults = refinance_defaults(loan=loan, opportunity=opportunity)
        if "product" not in defaults or "new_rate" not in defaults:
            return
        officer = opportunity.loan_officer
        try:
            refinance_initiate(
                loan=loan,
                product_code=defaults["product"].code,
                new_amount=defaults["new_amount"],
                new_rate=(defaults["new_rate"] / EIGHTH).quantize(Decimal("1"), ROUND_HALF_UP) * EIGHTH,
                new_term_months=defaults["new_term_months"],
                reason=defaults["reason"],
                effective_date=defaults["effective_date"],
                rate_lock_expiration=demo_automations.rate_lock_for(opportunity, self.organization.today()),
                actor=officer.user if officer is not None else None,
                opportunity=opportunity,
            )
        except RefinanceRulesFailed:
            return  # the rules said no (as they would on the form): this borrower does not apply
        self.counts["applications"] += 1

    # ----- the borrowers --------------------------------------------------------------------------------

    def reactions(self, message: Message, sent_at: dt.datetime) -> list[tuple[dt.datetime, Callable[[], None]]]:
        """What this borrower does with the message, each at its own minute after ``sent_at``."""
        rng = self.rng
        out: list[tuple[dt.datetime, Callable[[], None]]] = []

        def later(after: dt.datetime, low: int, high: int) -> dt.datetime:
            limit = sent_at + dt.timedelta(hours=REACTION_HOURS)
            return min(after + dt.timedelta(minutes=rng.randint(low, high)), limit)

        delivered_at = later(sent_at, 1, 4)
        if message.kind in (Message.Kind.LOCK_ALERT, Message.Kind.STATUS_UPDATE):  # about the application: read
            out.append((delivered_at, lambda: self.event(message, Activity.Kind.DELIVERED)))
            if message.channel == Channel.EMAIL and rng.random() < P_OPEN:
                out.append((later(delivered_at, 5, 180), lambda: self.event(message, Activity.Kind.OPENED)))
            return out
        if message.channel == Channel.EMAIL:
            if rng.random() < P_EMAIL_BOUNCE:
                out.append((delivered_at, lambda: self.bounce(message)))
                return out
            out.append((delivered_at, lambda: self.event(message, Activity.Kind.DELIVERED)))
            if rng.random() < P_UNSUBSCRIBE:
                out.append((later(delivered_at, 20, 240), lambda: self.unsubscribe(message)))
                return out
            if rng.random() < P_OPEN:
                opened_at = later(delivered_at, 5, 180)
                out.append((opened_at, lambda: self.event(message, Activity.Kind.OPENED)))
                if rng.random() < P_CLICK:
                    clicked_at = later(opened_at, 1, 20)
                    out.append((clicked_at, lambda: self.click(message)))
                    if rng.random() < P_BOOK:
                        out.append((later(clicked_at, 2, 15), lambda: self.book(message)))
                elif rng.random() < P_REPLY * 2:
                    out.append((later(opened_at, 10, 90), lambda: self.reply(message)))
            return out
        if rng.random() < P_SMS_FAILED:
            out.append((delivered_at, lambda: self.sms_failed(message)))
            return out
        out.append((delivered_at, lambda: self.event(message, Activity.Kind.DELIVERED)))
        draw = rng.random()
        if draw < P_SMS_STOP:
            out.append((later(delivered_at, 1, 60), lambda: self.sms_inbound(message, "STOP")))
        elif draw < P_SMS_STOP + P_REPLY:
            text = rng.choice(REPLIES_SMS)
            out.append((later(delivered_at, 2, 120), lambda: self.sms_inbound(message, text)))
        elif draw < P_SMS_STOP + P_REPLY + P_SMS_CLICK:
            clicked_at = later(delivered_at, 1, 90)
            out.append((clicked_at, lambda: self.click(message)))
            if rng.random() < P_BOOK:
                out.append((later(clicked_at, 2, 15), lambda: self.book(message)))
        return out

    def event(self, message: Message, kind: str) -> None:
        if message_record_event(message=message, kind=kind) is not None and kind == Activity.Kind.OPENED:
            self.counts["opened"] += 1

    def bounce(self, message: Message) -> None:
        message_record_event(
            message=message,
            kind=Activity.Kind.BOUNCED,
            error_code="550",
            error_message="550 5.1.1 The email account that you tried to reach does not exist.",
        )
        borrower_mark_undeliverable(
            borrower=message.borrower,
            channel=Channel.EMAIL,
            reason="Hard bounce: the mailbox does not exist.",
            source="ESP bounce event",
            detail={"message": message.pk},
        )
        self.counts["bounces"] += 1

    def sms_failed(self, message: Message) -> None:
        message_record_event(
            message=message,
            kind=Activity.Kind.FAILED,
            error_code="30003",
            error_message="Twilio reported undelivered (error 30003).",
        )
        self.counts["bounces"] += 1

    def unsubscribe(self, message: Message) -> None:
        if borrower_opt_out(
            borrower=message.borrower, channel=Channel.EMAIL, source="List-Unsubscribe one-click", message=message
        ):
            self.counts["opt_outs"] += 1

    def click(self, message: Message) -> None:
        if tracked_link_click(opportunity=message.opportunity, message=message):
            self.counts["clicked"] += 1

    def book(self, message: Message) -> None:
        borrower = message.borrower
        phone = borrower.mobile_phone or message.opportunity.loan_officer.phone
        before = BookingRequest.objects.filter(borrower=borrower).count()
        booking_request_create(
            opportunity=message.opportunity,
            phone=phone,
            preferred_windows=self.rng.choice(WINDOWS),
            message=message,
        )
        self.counts["booked"] += BookingRequest.objects.filter(borrower=borrower).count() - before

    def reply(self, message: Message) -> None:
        text = self.rng.choice(REPLIES_EMAIL)
        process_email_inbound(
            {
                "from": message.borrower.email,
                "to": [message.from_address],
                "subject": f"Re: {message.subject}",
                "text": text,
            }  # fmt: skip
        )
        self.counts["replied"] += 1

    def sms_inbound(self, message: Message, body: str) -> None:
        process_sms_inbound({"From": message.borrower.mobile_phone, "Body": body, "MessageSid": f"SMDEMO{message.pk}"})
        self.counts["opt_outs" if body == "STOP" else "replied"] += 1
