"""The gateway's WebSocket protocol (``/ws``, SPEC §9) in the AsyncAPI document.

The gateway's own models (``gateway_service.subscriptions``) validate what clients send;
contracts cannot import a service, so the schemas are written here, and a gateway test
checks that the two agree and that the examples below are what the gateway accepts and
sends. Operations are the gateway's: it receives the client's messages and sends events
and control messages.
"""

from __future__ import annotations

from typing import Any

CHANNEL = "ws"
SERVER = "gateway"

_UUID = {"type": "string", "format": "uuid"}
_LAST_SEQ = {
    "type": ["integer", "null"],
    "minimum": 0,
    "description": "Replay every event after this stream sequence first (a reconnect); "
    "without it, the subscription starts with a snapshot of the current state",
}
_TIMESTAMP = {"type": "string", "format": "date-time", "description": "When the gateway sent it"}
_SUBSCRIPTION = {
    "type": "string",
    "pattern": "^(collection|operation):[0-9a-f-]{36}$",
    "description": "The subscription's name: collection:<id> or operation:<id>",
}
_CID = "3f2a9c1d-0000-4000-8000-000000000001"
_OID = "9c1d3f2a-0000-4000-8000-000000000002"


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _kind(name: str) -> dict[str, Any]:
    return {"type": "string", "const": name}


def _control(name: str, data: dict[str, Any], *, subscription: bool) -> dict[str, Any]:
    """A control message: ``{type, timestamp, data}`` and, for a subscription's own
    answers, ``subscription``."""
    required = ["type", "timestamp", "data"] + (["subscription"] if subscription else [])
    schema = _object(required, type=_kind(name), timestamp=_TIMESTAMP, data=data)
    schema["properties"]["subscription"] = _SUBSCRIPTION
    return schema


#: Client → gateway (JSON text frames).
CLIENT: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "WsSubscribeCollection": (
        "Follow every event of one collection (and of its operations and sources); needs "
        "the viewer role",
        _object(
            ["type", "collection_id"],
            type=_kind("subscribe_collection"),
            collection_id=_UUID,
            last_seq=_LAST_SEQ,
        ),
        {"type": "subscribe_collection", "collection_id": _CID, "last_seq": 41},
    ),
    "WsSubscribeOperation": (
        "Follow the events of one operation",
        _object(
            ["type", "operation_id"],
            type=_kind("subscribe_operation"),
            operation_id=_UUID,
            last_seq=_LAST_SEQ,
        ),
        {"type": "subscribe_operation", "operation_id": _OID},
    ),
    "WsUnsubscribe": (
        "End a subscription; names exactly one of collection_id, operation_id, subscription",
        _object(
            ["type"],
            type=_kind("unsubscribe"),
            collection_id=_UUID,
            operation_id=_UUID,
            subscription={"type": "string", "maxLength": 100},
        ),
        {"type": "unsubscribe", "subscription": f"operation:{_OID}"},
    ),
    "WsPing": ("Asks for a pong", _object(["type"], type=_kind("ping")), {"type": "ping"}),
}

_NOW = "2026-01-01T12:01:07.512000+00:00"

#: Gateway → client.
SERVER_MESSAGES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "WsEvent": (
        "One event of SEMANTIK_EVENTS: type is the event's name, seq its stream sequence "
        "(the client's last_seq on a reconnect), timestamp the event's occurred_at, data "
        "its fields (components/schemas/<type> without type)",
        _object(
            ["type", "seq", "timestamp", "subscription", "data"],
            type={"type": "string", "description": "The event's name, e.g. OperationProgressed"},
            seq={"type": "integer", "minimum": 1, "description": "JetStream stream sequence"},
            timestamp={"type": ["string", "null"], "format": "date-time"},
            subscription=_SUBSCRIPTION,
            data={"type": "object"},
        ),
        {
            "type": "OperationProgressed",
            "seq": 1042,
            "timestamp": _NOW,
            "subscription": f"operation:{_OID}",
            "data": {
                "collection_id": _CID,
                "operation_id": _OID,
                "status": "processing",
                "progress": 0.42,
                "processed": 181,
                "total": 431,
                "skipped": 3,
                "failed": 1,
                "message": "",
            },
        },
    ),
    "WsSubscribed": (
        "A subscription is open; sent before its first event",
        _control(
            "subscribed",
            {
                "type": "object",
                "properties": {
                    "last_seq": _LAST_SEQ,
                    "collection_id": _UUID,
                    "operation_id": _UUID,
                },
                "required": ["last_seq"],
            },
            subscription=True,
        ),
        {
            "type": "subscribed",
            "timestamp": _NOW,
            "subscription": f"collection:{_CID}",
            "data": {"last_seq": 41, "collection_id": _CID},
        },
    ),
    "WsSnapshot": (
        "The current state of a subscription made without last_seq, sent after subscribed "
        "and before any event: data is {collection, operations} (the collection and its "
        "operations that run or wait in its queue, as the REST API shows them) or "
        "{operation}; seq is the stream's last sequence when the state was read, and the "
        "events that follow are those after it (an event may repeat what the state shows "
        "already, never miss it). A client keeps seq as its last_seq",
        _object(
            ["type", "seq", "timestamp", "subscription", "data"],
            type=_kind("snapshot"),
            seq={"type": "integer", "minimum": 0, "description": "JetStream stream sequence"},
            timestamp=_TIMESTAMP,
            subscription=_SUBSCRIPTION,
            data={
                "type": "object",
                "properties": {
                    "collection": {
                        "type": "object",
                        "description": "As GET /api/v2/collections/{id} answers",
                    },
                    "operations": {
                        "type": "array",
                        "items": {"type": "object"},
                        "description": "As GET /api/v2/operations/{id} answers, newest first",
                    },
                    "operation": {
                        "type": "object",
                        "description": "As GET /api/v2/operations/{id} answers",
                    },
                },
            },
        ),
        {
            "type": "snapshot",
            "seq": 1041,
            "timestamp": _NOW,
            "subscription": f"operation:{_OID}",
            "data": {
                "operation": {
                    "id": _OID,
                    "collection_id": _CID,
                    "type": "index",
                    "status": "processing",
                    "progress": 0.4,
                    "processed": 172,
                    "total": 431,
                    "created_at": _NOW,
                }
            },
        },
    ),
    "WsUnsubscribed": (
        "A subscription ended at the client's request",
        _control("unsubscribed", {"type": "object"}, subscription=True),
        {
            "type": "unsubscribed",
            "timestamp": _NOW,
            "subscription": f"operation:{_OID}",
            "data": {},
        },
    ),
    "WsError": (
        "A message refused (code invalid), a subscription refused or ended (forbidden, "
        "not_found, conflict: too many subscriptions, unavailable; resync: the stream no "
        "longer retains the events after last_seq, subscribe again without it)",
        _control(
            "error",
            _object(["code", "message"], code={"type": "string"}, message={"type": "string"}),
            subscription=False,
        ),
        {
            "type": "error",
            "timestamp": _NOW,
            "subscription": f"collection:{_CID}",
            "data": {"code": "forbidden", "message": f"collection {_CID} is not shared with you"},
        },
    ),
    "WsHeartbeat": (
        "Sent every WS_HEARTBEAT_SECONDS (20)",
        _control("heartbeat", {"type": "object"}, subscription=False),
        {"type": "heartbeat", "timestamp": _NOW, "data": {}},
    ),
    "WsPong": (
        "The answer to a ping",
        _control("pong", {"type": "object"}, subscription=False),
        {"type": "pong", "timestamp": _NOW, "data": {}},
    ),
}


def _message(name: str, summary: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": name.removeprefix("Ws"),
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "examples": [{"payload": example}],
    }


def _refs(names: list[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{CHANNEL}/messages/{name}"} for name in names]


def websocket_parts() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The ``/ws`` channel, its operations, its messages and their schemas."""
    every = {**CLIENT, **SERVER_MESSAGES}
    channel = {
        "address": "/ws",
        "title": "WebSocket /ws",
        "description": "Live events of collections and operations (docs/api.md). Sign in "
        "with ?token=<access token or API key with the read scope>, or the subprotocol "
        "access_token.<token>; a missing, expired or revoked token closes the socket with "
        "1008, a client whose send queue fills up is closed with 1013.",
        "servers": [{"$ref": f"#/servers/{SERVER}"}],
        "messages": {name: _message(name, s, e) for name, (s, _, e) in every.items()},
        "bindings": {
            "ws": {
                "method": "GET",
                "query": {
                    "type": "object",
                    "properties": {
                        "token": {"type": "string", "description": "Access token or API key"}
                    },
                },
                "bindingVersion": "0.1.0",
            }
        },
    }
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    def operation(action: str, names: list[str], summary: str, **extra: Any) -> dict[str, Any]:
        return {
            "action": action,
            "channel": channel_ref,
            "summary": summary,
            "messages": _refs(names),
            **extra,
        }

    def reply(names: list[str]) -> dict[str, Any]:
        return {"channel": channel_ref, "messages": _refs(names)}

    operations = {
        "wsSubscribe": operation(
            "receive",
            ["WsSubscribeCollection", "WsSubscribeOperation"],
            "A client subscribes; subscribing to the same target again replaces it",
            reply=reply(["WsSubscribed", "WsSnapshot", "WsError"]),
        ),
        "wsUnsubscribe": operation(
            "receive",
            ["WsUnsubscribe"],
            "A client ends a subscription",
            reply=reply(["WsUnsubscribed"]),
        ),
        "wsPing": operation("receive", ["WsPing"], "A client pings", reply=reply(["WsPong"])),
        "wsSendEvent": operation("send", ["WsEvent"], "Each event of a subscription, in order"),
        "wsSendError": operation(
            "send", ["WsError"], "A subscription ended by the gateway (access revoked)"
        ),
        "wsSendHeartbeat": operation("send", ["WsHeartbeat"], "Keeps the socket alive"),
    }
    messages = {name: _message(name, s, e) for name, (s, _, e) in every.items()}
    schemas = {name: schema for name, (_, schema, _) in every.items()}
    return {CHANNEL: channel}, operations, messages, schemas
