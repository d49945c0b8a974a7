"""Settings for bench/dispatch_workers.py's worker clusters: refiapp's own, with SendGrid's API at the local fake."""

import os

from refiapp.settings import *  # noqa: F403
from refiapp.settings import ANYMAIL

ANYMAIL = {**ANYMAIL, "SENDGRID_API_URL": os.environ["BENCH_SENDGRID_API_URL"]}
