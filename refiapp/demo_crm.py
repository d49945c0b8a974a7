"""The demo's stand-in CRM: a receiver for the demo lender's webhook endpoint (``make demo`` only).

Registered only when ``DEMO_CRM_RECEIVER`` is on (``make demo`` sets it; ``check --deploy`` warns when it is on
outside DEBUG). It checks the Standard Webhooks signature with the endpoint's own secret, as a CRM would, and
answers 204, or 400 when the signature does not verify, so the admin's delivery log shows real outcomes.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from refiapp.demo import DEMO_SLUG
from webhooks import secrets
from webhooks.models import WebhookEndpoint

logger = logging.getLogger(__name__)


def _secret_for(path: str) -> str | None:
    """The secret of the demo organization's endpoint whose URL has this path."""
    for endpoint in WebhookEndpoint.objects.filter(organization__slug=DEMO_SLUG).order_by("pk"):
        if urlsplit(endpoint.url).path == path:
            return secrets.decrypt(endpoint.secret_encrypted)
    return None


@csrf_exempt
@require_POST
def demo_crm_hooks(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_CRM_RECEIVER:
        raise Http404("The demo CRM receiver is off.")
    secret = _secret_for(request.path)
    if secret is None:
        raise Http404("No demo endpoint has this URL.")
    try:
        Webhook(secret).verify(request.body, dict(request.headers), json_parse=False)
    except (WebhookVerificationError, ValueError):
        logger.warning("Demo CRM: a request to %s did not verify", request.path)
        return HttpResponse(status=400)
    logger.info("Demo CRM: received %s (%s)", request.headers.get("webhook-id"), request.path)
    return HttpResponse(status=204)
