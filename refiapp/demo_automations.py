"""The demo lender's automations, campaign and CRM endpoint, written through the real services.

Inside the history (``demo_history``, under its frozen clock):

* some applications are initiated with a rate lock (``rate_lock_for``: a 15- or 21-day lock, by opportunity),
  and every day at 08:00 ``lock_alerts_run`` queues the alert of each lock that expires within the
  organization's alert days (and records and sends the loan officer's notification); the history's dispatcher
  sends the alert at 10:00 with the day's other messages;
* on business days, after the loan officers' work, ``status_updates_run`` queues the borrower's status message
  of each application started, approved, funded or cancelled;
* ``CAMPAIGN_WEEKS_AGO`` weeks before this week, the branch manager creates and sends one rate-alert campaign
  from the board's filters of the seed's quick win (loans closed within 36 months, spread of at least 0.75
  points); the dispatcher sends it and the borrowers react to it as to any email.

After the history, ``demo_webhook_endpoint`` gives the organization one CRM endpoint: the demo's own receiver
(``refiapp.demo_crm``, on when ``DEMO_CRM_RECEIVER`` is set, as ``make demo`` does), with a secret generated once.
Its URL is on this machine, so it is saved only where ``WEBHOOK_ALLOW_PRIVATE_URLS`` allows it (``make demo``);
the collector starts at its creation, so the endpoint receives what happens after the history.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from django.conf import settings

from automations.services import lock_alerts_run, status_updates_run
from campaigns.selectors import DEFAULT_BODY, DEFAULT_SUBJECT, filters_summary, filterset_for
from campaigns.services import campaign_create, campaign_send
from core.calendar import is_business_day
from core.models import LoanOfficer, Organization
from pipeline.models import Opportunity
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_save

LOCK_DAYS = (15, 21, None)  # by opportunity: a 15-day lock, a 21-day lock, or none (the borrower floats)
LOCK_ALERT_TIME = dt.time(8, 0)  # as the hourly task does at the organization's 08:00
CAMPAIGN_WEEKS_AGO = 3
CAMPAIGN_MANAGER = "daniel.kim"
CAMPAIGN_NAME = "Rates are down: worth a look?"
CAMPAIGN_FILTERS = "note_within_months=36&min_spread=0.75"  # the seed's quick win
CAMPAIGN_TIME = dt.time(9, 30)  # before the 10:00 dispatch
DEMO_CRM_PATH = "/demo-crm/hooks/"
DEMO_CRM_URL = f"http://127.0.0.1:8000{DEMO_CRM_PATH}"  # make demo serves here (scripts/serve_demo.sh)


def rate_lock_for(opportunity: Opportunity, today: dt.date) -> dt.date | None:
    """The lock the borrower takes when applying today (None: no lock)."""
    days = LOCK_DAYS[opportunity.pk % len(LOCK_DAYS)]
    return None if days is None else today + dt.timedelta(days=days)


def lock_alerts(organization: Organization, now: dt.datetime) -> int:
    return lock_alerts_run(organization=organization, now=now)


def status_updates(organization: Organization, now: dt.datetime) -> int:
    return status_updates_run(organization=organization, now=now)


def campaign_day(today: dt.date) -> dt.date:
    """The first business day of the week ``CAMPAIGN_WEEKS_AGO`` weeks before this one, from its Tuesday."""
    day = today - dt.timedelta(days=today.weekday(), weeks=CAMPAIGN_WEEKS_AGO) + dt.timedelta(days=1)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def demo_campaign_send(organization: Organization, now: dt.datetime) -> int:
    """The branch manager's rate-alert campaign, created and sent now; returns the emails queued."""
    manager = LoanOfficer.objects.select_related("user").get(organization=organization, user__username=CAMPAIGN_MANAGER)
    filterset = filterset_for(user=manager.user, filters=CAMPAIGN_FILTERS)
    filterset.is_valid()
    campaign = campaign_create(
        user=manager.user,
        name=CAMPAIGN_NAME,
        subject_template=DEFAULT_SUBJECT,
        body_template=DEFAULT_BODY,
        filters=CAMPAIGN_FILTERS,
        filters_summary=filters_summary(filterset),
    )
    return campaign_send(campaign=campaign, user=manager.user, now=now)


def demo_webhook_endpoint(organization: Organization, changes: dict[str, str] | None = None) -> WebhookEndpoint | None:
    """The demo CRM endpoint (created once with a new secret; a rerun leaves it as it is)."""
    endpoint = WebhookEndpoint.objects.filter(organization=organization, url=DEMO_CRM_URL).first()
    if endpoint is not None:
        outcome = "unchanged"
    elif not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        endpoint, outcome = None, "skipped (its URL is local: WEBHOOK_ALLOW_PRIVATE_URLS=1 allows it, as make demo)"
    else:
        endpoint, outcome = webhook_endpoint_save(
            organization=organization,
            url=DEMO_CRM_URL,
            secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            description="Demo CRM: this app's own receiver (DEMO_CRM_RECEIVER, make demo)",
        )
    if changes is not None:
        changes["webhook endpoint"] = outcome
    return endpoint
