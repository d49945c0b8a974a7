"""Writes of the webhooks app: endpoints, collecting events into deliveries, delivering and replaying them."""

from webhooks.services.collect import webhooks_collect
from webhooks.services.deliver import DeliveryStats, webhook_deliveries_replay, webhooks_deliver
from webhooks.services.endpoints import webhook_endpoint_save

__all__ = [
    "DeliveryStats",
    "webhook_deliveries_replay",
    "webhook_endpoint_save",
    "webhooks_collect",
    "webhooks_deliver",
]
