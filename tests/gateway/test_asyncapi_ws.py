"""The WebSocket protocol that the AsyncAPI document describes (``asyncapi_ws``) is the
one the gateway speaks: its client messages are what the gateway accepts, and every
frame a real socket receives is valid against the document's schema of its kind."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import jsonschema
import pytest
from gateway_service.subscriptions import (
    ClientMessage,
    Ping,
    SubscribeCollection,
    SubscribeOperation,
    Unsubscribe,
)
from semantik_contracts.asyncapi import asyncapi_document
from semantik_contracts.asyncapi_ws import CLIENT, SERVER_MESSAGES
from websockets.asyncio.client import connect

from .conftest import Stack, token

pytestmark = pytest.mark.integration

MODELS: dict[str, Any] = {
    "WsSubscribeCollection": SubscribeCollection,
    "WsSubscribeOperation": SubscribeOperation,
    "WsUnsubscribe": Unsubscribe,
    "WsPing": Ping,
}
#: The document's schema of each server frame, by the frame's ``type``.
CONTROL = {"subscribed", "snapshot", "unsubscribed", "error", "heartbeat", "pong"}


def schema_of(kind: str) -> dict[str, Any]:
    schemas = asyncapi_document()["components"]["schemas"]
    name = f"Ws{kind.capitalize()}" if kind in CONTROL else "WsEvent"
    schema: dict[str, Any] = schemas[name]
    return schema


def test_the_documented_client_messages_are_the_gateways() -> None:
    assert set(MODELS) == set(CLIENT)
    for name, (_, schema, example) in CLIENT.items():
        ClientMessage.validate_python(example)  # the gateway accepts the example
        fields = MODELS[name].model_json_schema()
        assert set(schema["properties"]) == set(fields["properties"]), name
        assert set(schema["required"]) == set(fields.get("required", [])), name


async def test_every_frame_of_a_real_socket_matches_the_document(stack: Stack, ws_url: str) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    context = stack.app.state.context
    context.settings = context.settings.model_copy(update={"ws_heartbeat_seconds": 0.2})
    frames: list[dict[str, Any]] = []
    wanted = CONTROL | {"CollectionUpdated"}
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        for message in (
            {"type": "ping"},
            {"type": "subscribe_collection", "collection_id": docs["id"]},
            {"type": "subscribe_collection"},  # invalid: an error frame
        ):
            await ws.send(json.dumps(message))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while not wanted <= {f["type"] for f in frames}:
                    frames.append(json.loads(await ws.recv()))
                    if frames[-1]["type"] == "snapshot":  # an event after it
                        rename = {"name": "handbook"}
                        url = f"/api/v2/collections/{docs['id']}"
                        await stack.client.patch(url, json=rename, headers=alice)
                    if frames[-1]["type"] == "CollectionUpdated":
                        unsubscribe = {"type": "unsubscribe", "collection_id": docs["id"]}
                        await ws.send(json.dumps(unsubscribe))
    assert wanted <= {f["type"] for f in frames}, frames
    for frame in frames:
        jsonschema.Draft7Validator(schema_of(frame["type"])).validate(frame)
    event = next(f for f in frames if f["type"] == "CollectionUpdated")
    assert event["subscription"] == f"collection:{docs['id']}" and event["seq"] >= 1
    for example in (e for _, _, e in SERVER_MESSAGES.values()):
        jsonschema.Draft7Validator(schema_of(example["type"])).validate(example)
