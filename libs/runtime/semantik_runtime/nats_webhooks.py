"""What the gateway's NATS user needs to deliver webhooks (``gateway_service.
webhook_delivery``), a part of its permissions in ``nats_auth``.

Each webhook has a durable pull consumer ``webhook-<id>`` on SEMANTIK_EVENTS, which the
gateway creates, looks up, pulls from, acknowledges and deletes. A consumer's name is one
subject token and NATS matches whole tokens, so these rules name any consumer; the
gateway's ``publish_deny`` keeps the services' own durables out of reach. The gateway
also lists the stream's consumers (to delete those of webhooks deleted while no gateway
ran), and writes and lists the delivery log, the KV bucket
``SEMANTIK_WEBHOOK_DELIVERIES``, through ordered consumers of its stream.
"""

from __future__ import annotations

from semantik_contracts.subjects import EVENTS_STREAM, WEBHOOK_DELIVERIES_BUCKET

_API = "$JS.API"
_LOG = f"KV_{WEBHOOK_DELIVERIES_BUCKET}"


def webhook_delivery_rules() -> list[str]:
    """The publish allow-list entries of webhook delivery."""
    stream = EVENTS_STREAM
    return [
        f"{_API}.CONSUMER.INFO.{stream}.*",
        f"{_API}.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"{_API}.CONSUMER.DELETE.{stream}.*",
        f"{_API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{_API}.CONSUMER.LIST.{stream}",
        f"$JS.ACK.{stream}.*.>",
        f"{_API}.STREAM.INFO.{_LOG}",
        f"{_API}.STREAM.CREATE.{_LOG}",
        f"$KV.{WEBHOOK_DELIVERIES_BUCKET}.>",
        f"{_API}.CONSUMER.CREATE.{_LOG}",
        f"{_API}.CONSUMER.CREATE.{_LOG}.>",
        f"{_API}.CONSUMER.INFO.{_LOG}.*",
        f"{_API}.CONSUMER.DELETE.{_LOG}.*",
        f"$JS.FC.{_LOG}.>",
    ]
