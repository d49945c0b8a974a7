"""Settings for a real worker process started by a fault test (tests/outreach/test_dispatch_fault.py).

The test's own settings, plus: the test database the parent test process created, a real ESP backend (Postmark)
whose API is the parent's fake ESP on a loopback port, and the test's clock (time-machine, ticking) so quiet
hours and rate staleness read as they do in the parent.
"""

import datetime as dt
import os

import time_machine

from tests.settings import *  # noqa: F403
from tests.settings import ANYMAIL, DATABASES

DATABASES["default"]["NAME"] = os.environ["REFIAPP_TEST_DATABASE"]
EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
ANYMAIL = {
    **ANYMAIL,
    "POSTMARK_SERVER_TOKEN": "fault-test-server-token",
    "POSTMARK_API_URL": os.environ["REFIAPP_FAKE_ESP_URL"],
    "REQUESTS_TIMEOUT": 120,
}

time_machine.travel(dt.datetime.fromisoformat(os.environ["REFIAPP_TEST_NOW"]), tick=True).start()
