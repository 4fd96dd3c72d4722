"""The AsyncAPI document as a downstream system reads it: an AsyncAPI 3.0 structure,
its servers, the stream headers it promises, and the gateway's WebSocket protocol."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from semantik_contracts.asyncapi import asyncapi_document
from semantik_contracts.asyncapi_ws import CLIENT, SERVER_MESSAGES

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return asyncapi_document()


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict) and part in node, f"dangling {ref}"
        node = node[part]
    return node


def schemas_in(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [s for value in node.values() for s in schemas_in(value)]
    if isinstance(node, list):
        return [s for value in node for s in schemas_in(value)]
    return []


def test_the_document_has_the_structure_of_asyncapi_3(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= set(doc["info"])
    allowed = {"asyncapi", "id", "info", "servers", "defaultContentType", "channels",
               "operations", "components"}  # fmt: skip
    assert set(doc) <= allowed
    for name, server in doc["servers"].items():
        assert {"host", "protocol"} <= set(server), name
        for ref in server.get("security", []):
            resolve(doc, ref["$ref"])
    for name, channel in doc["channels"].items():
        assert channel["servers"], f"channel {name} names no server"
        for ref in channel["servers"]:
            assert ref["$ref"].startswith("#/servers/")
            resolve(doc, ref["$ref"])
        for message in channel["messages"].values():
            assert "payload" in message
    for name, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel_ref = operation["channel"]["$ref"]
        resolve(doc, channel_ref)
        # An operation's messages are messages of its own channel (AsyncAPI 3.0).
        for ref in operation.get("messages", []) + operation.get("reply", {}).get("messages", []):
            assert ref["$ref"].startswith(channel_ref + "/messages/"), (name, ref)
            resolve(doc, ref["$ref"])
    # An AsyncAPI schema's discriminator is a property name, not OpenAPI's object.
    for schema in schemas_in(doc["components"]["schemas"]):
        assert not isinstance(schema.get("discriminator"), dict)


def test_the_servers_are_nats_and_the_gateway(doc: dict[str, Any]) -> None:
    nats, gateway = doc["servers"]["nats"], doc["servers"]["gateway"]
    assert nats["protocol"] == "nats" and gateway["protocol"] == "ws"
    assert "run/nats.url" in nats["description"]
    assert "nats-subscriber.password" in nats["description"]
    assert nats["variables"]["port"]["default"] == "4222"
    assert gateway["variables"]["port"]["default"] == "8080"
    assert doc["channels"]["events"]["servers"] == [{"$ref": "#/servers/nats"}]
    assert doc["channels"]["ws"]["servers"] == [{"$ref": "#/servers/gateway"}]


def test_the_event_header_says_a_replay_changes_it_and_dedup_is_by_the_body(
    doc: dict[str, Any],
) -> None:
    headers = doc["channels"]["events"]["messages"]["EventEnvelope"]["headers"]
    text = headers["properties"]["Nats-Msg-Id"]["description"]
    assert "<event_id>:replay-<tag>" in text
    assert "deduplicate by the body's event_id" in text
    assert "traceparent" in headers["properties"]
    work = doc["channels"]["embed-work"]["messages"]["EmbedChunks"]["headers"]
    assert "replay" not in work["properties"]["Nats-Msg-Id"]["description"]


def test_the_websocket_protocol_is_a_channel_with_its_operations(doc: dict[str, Any]) -> None:
    ws = doc["channels"]["ws"]
    assert ws["address"] == "/ws"
    assert set(ws["messages"]) == set(CLIENT) | set(SERVER_MESSAGES)
    assert ws["bindings"]["ws"]["method"] == "GET"
    by_action: dict[str, set[str]] = {"send": set(), "receive": set()}
    for operation in doc["operations"].values():
        if operation["channel"]["$ref"] == "#/channels/ws":
            names = {ref["$ref"].rsplit("/", 1)[-1] for ref in operation["messages"]}
            by_action[operation["action"]] |= names
    assert by_action["receive"] == set(CLIENT)  # every client message is received
    assert {"WsEvent", "WsError", "WsHeartbeat"} <= by_action["send"]
    kinds = {
        schema["properties"]["type"].get("const")
        for schema in (doc["components"]["schemas"][name] for name in CLIENT)
    }
    assert kinds == {"subscribe_collection", "subscribe_operation", "unsubscribe", "ping"}


@pytest.mark.parametrize("name", sorted({*CLIENT, *SERVER_MESSAGES}))
def test_each_websocket_example_is_valid_against_its_schema(doc: dict[str, Any], name: str) -> None:
    message = doc["components"]["messages"][name]
    schema = resolve(doc, message["payload"]["$ref"])
    for example in message["examples"]:
        jsonschema.Draft7Validator(schema).validate(example["payload"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({"type": "nonsense"})
