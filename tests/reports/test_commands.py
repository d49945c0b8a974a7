from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command

from reports.models import WeeklyReportSend
from tests.reports.conftest import local

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _on_wednesday():
    """The command reports the last full week: on Wednesday 2026-11-18 that is Nov 9–15."""
    with time_machine.travel(local(18, 12), tick=False):
        yield


def _run(*args: str) -> str:
    out = StringIO()
    call_command("send_weekly_report", *args, stdout=out)
    return out.getvalue()


def test_dry_run_prints_recipients_and_text_and_sends_nothing(history):
    output = _run("--org", "prairie", "--dry-run")
    assert "Would send for Prairie Lending (prairie), week of Nov 9, 2026 – Nov 15, 2026:" in output
    assert "To: Morgan North <morgan@prairie.test> (Branch manager)" in output
    assert "To: Olivia Admin <olivia@prairie.test> (Organization admin)" in output
    assert "To: Sam South <sam@prairie.test> (Branch manager)" in output
    assert "Subject: Prairie Lending refinance results, week of Nov 9, 2026 – Nov 15, 2026 (branch North)" in output
    assert "TOTALS, WEEK OVER WEEK" in output
    assert "Dry run: nothing was sent or recorded." in output
    assert mail.outbox == []
    assert not WeeklyReportSend.objects.exists()


def test_sends_by_hand_once_and_resends_on_request(history):
    output = _run("--org", "prairie")
    assert output.count("  sent to ") == 3
    assert len(mail.outbox) == 3
    assert set(WeeklyReportSend.objects.values_list("week_start", flat=True)) == {dt.date(2026, 11, 9)}
    output = _run("--org", "prairie")
    assert output.count("already sent for this week") == 3
    assert len(mail.outbox) == 3
    assert "already sent, a real run skips it" in _run("--org", "prairie", "--dry-run")
    _run("--org", "prairie", "--resend")
    assert len(mail.outbox) == 6


def test_a_chosen_week(history):
    _run("--org", "prairie", "--week", "2026-11-02")
    assert "week of Nov 2, 2026 – Nov 8, 2026" in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--org", "nope"), "No organization with slug 'nope'."),
        (("--org", "prairie", "--week", "2026-11-10"), "--week must be a Monday"),
        (("--org", "prairie", "--week", "soon"), "--week must be a Monday"),
    ],
)
def test_bad_input_is_a_clear_error(history, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert mail.outbox == []
