from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from outreach.models import Message
from pipeline.models import Activity, Opportunity
from scoring.models import PropensityModel


def test_the_demo_trains_scores_routes_and_queues_digests_and_is_tolerant_of_a_short_history(db):
    out = StringIO()
    call_command("seed_demo", "--loans", "120", stdout=out)
    text = out.getvalue()
    # The demo's history has no outcomes yet: the prior weights score it, and the command says so.
    assert "score model: Prior weights (not learned yet) (Prior weights: 0 of 200 outcomes" in text
    model = PropensityModel.objects.get(is_active=True)
    assert model.kind == PropensityModel.Kind.PRIOR
    open_opportunities = Opportunity.objects.filter(stage__in=["new", "contacted"])
    assert open_opportunities.exists() and not open_opportunities.filter(score__isnull=True).exists()
    assert Message.objects.filter(kind=Message.Kind.DIGEST).exists()
    assert Activity.objects.filter(kind=Activity.Kind.CALL_TASK).exists()
    digest = Message.objects.filter(kind=Message.Kind.DIGEST).first()
    assert "Your home's estimated value" in digest.body and "Book a time with me" in digest.body
    again = StringIO()
    call_command("seed_demo", "--loans", "120", stdout=again)
    assert "routed 0 to proactive (0 enrolled, a call task each); 0 monthly digest(s) queued" in again.getvalue()
