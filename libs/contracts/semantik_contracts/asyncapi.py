"""The bus described as an AsyncAPI 3.0 document, built from the catalogue itself.

Every subject of SPEC §2 with the message it carries and, for requests, the reply; the
gateway serves it at ``/asyncapi`` so that an outside consumer of ``SEMANTIK_EVENTS``
knows the schemas without reading our code. It is also committed as
``docs/asyncapi.json``: ``python -m semantik_contracts.asyncapi > docs/asyncapi.json``
writes it again after a contract changed (a test compares the two).

Our own generator: the bus is nats-py (see ``semantik_runtime.bus`` for why), so the
catalogue below is the declaration, and a test checks it covers every event. The
gateway's WebSocket protocol is in the same document (``asyncapi_ws``), on its own
server. What an outside subscriber may rely on is written out in docs/integrations.md.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import column_sets, commands, documents, events, retry, search, views, work
from .asyncapi_ws import websocket_parts
from .envelope import EventEnvelope
from .subjects import (
    COLLECTIONS,
    DOCUMENT_CHUNKS_RPC,
    DUPLICATE_WINDOW_SECONDS,
    INGEST,
    SEARCH_RPC,
    VECTOR_COUNT_RPC,
    VECTORS,
    command_subject,
)

REF = "#/components/schemas/{model}"

NATS_SERVER = "nats"

_TRACEPARENT = {
    "type": "string",
    "description": "W3C trace context of the request that caused the message",
}

#: NATS headers of SEMANTIK_EVENTS' messages (the relay's; see docs/integrations.md).
EVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "The event's id, the body's event_id; `<event_id>:replay-<tag>` "
            "when a heal replay published the event again after the stream lost it. "
            "JetStream drops a second message with the same id within the duplicate window "
            f"({DUPLICATE_WINDOW_SECONDS // 60} minutes). Delivery is at least once: "
            "deduplicate by the body's event_id, never by this header.",
        },
        "traceparent": _TRACEPARENT,
    },
}

#: NATS headers of SEMANTIK_WORK's messages.
WORK_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "description": "The work item's id; JetStream drops a second message with it",
        },
        "traceparent": _TRACEPARENT,
    },
}

#: Where the channels are: the NATS server, and the gateway for the WebSocket.
SERVERS: dict[str, Any] = {
    NATS_SERVER: {
        "host": "{host}:{port}",
        "protocol": "nats",
        "title": "NATS with JetStream",
        "description": "`semantik run` starts its own nats-server on a free port of "
        "127.0.0.1 and writes its URL to `<data dir>/run/nats.url`; Docker Compose and "
        "Kubernetes run it as the service `nats` (`nats://nats:4222`). Every client signs "
        "in as a NATS user; downstream systems use `subscriber`, whose password `semantik "
        "run` keeps in `<data dir>/secrets/nats-subscriber.password`.",
        "variables": {
            "host": {"default": "127.0.0.1", "examples": ["127.0.0.1", "nats"]},
            "port": {
                "default": "4222",
                "description": "`semantik run`: the port in `<data dir>/run/nats.url`",
            },
        },
        "security": [{"$ref": "#/components/securitySchemes/natsUser"}],
    },
    "gateway": {
        "host": "{host}:{port}",
        "protocol": "ws",
        "title": "The gateway (HTTP API and WebSocket)",
        "description": "SEMANTIK_HOST:SEMANTIK_PORT; wss behind TLS.",
        "variables": {"host": {"default": "127.0.0.1"}, "port": {"default": "8080"}},
        "security": [
            {"$ref": "#/components/securitySchemes/wsToken"},
            {"$ref": "#/components/securitySchemes/bearer"},
        ],
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "natsUser": {
        "type": "userPassword",
        "description": "A NATS user and its password; each user may publish and subscribe "
        "to its own subjects only (docs/deploy.md)",
    },
    "wsToken": {
        "type": "httpApiKey",
        "name": "token",
        "in": "query",
        "description": "An access token, or an API key with the read scope",
    },
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer"},
}


def _discriminators_as_names(node: Any) -> Any:
    """pydantic writes OpenAPI's discriminator object; an AsyncAPI schema's is the
    property's name."""
    if isinstance(node, dict):
        found = node.get("discriminator")
        if isinstance(found, dict) and "propertyName" in found:
            node = {**node, "discriminator": found["propertyName"]}
        return {key: _discriminators_as_names(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_discriminators_as_names(value) for value in node]
    return node


@dataclass(frozen=True)
class Request:
    """A request/reply subject: what is asked and what comes back."""

    address: str
    request: type[BaseModel]
    reply: type[BaseModel]
    description: str


def _collections(cmd: type[BaseModel], reply: type[BaseModel]) -> Request:
    return Request(command_subject(COLLECTIONS, cmd.__name__), cmd, reply, cmd.__doc__ or "")


def _vectors(cmd: type[BaseModel], reply: type[BaseModel] = work.Done) -> Request:
    return Request(command_subject(VECTORS, cmd.__name__), cmd, reply, cmd.__doc__ or "")


REQUESTS: list[Request] = [
    _collections(commands.CreateCollection, views.CollectionView),
    _collections(commands.UpdateCollection, views.CollectionView),
    _collections(commands.DeleteCollection, views.CollectionView),
    _collections(commands.AddSource, views.SourceAndOperation),
    _collections(commands.StartOperation, views.OperationView),
    _collections(commands.CancelOperation, views.OperationView),
    _collections(commands.GetCollection, views.CollectionView),
    _collections(commands.GetCollections, views.CollectionList),
    _collections(commands.ListCollections, views.Page[views.CollectionView]),
    _collections(commands.GetOperation, views.OperationView),
    _collections(commands.ListOperations, views.Page[views.OperationView]),
    _collections(commands.ListSources, views.SourceList),
    _collections(commands.ChangeSourceColumns, views.SourceAndOperation),
    _collections(commands.RemoveSource, views.SourceAndOperation),
    _collections(commands.ChangeSourceSync, views.SourceView),
    _collections(commands.ListSyncedSources, views.SourceList),
    _collections(commands.SyncSource, views.SourceAndOperation),
    _collections(commands.RescanSource, views.SourceAndOperation),
    _collections(commands.ReportSyncStatus, views.SourceView),
    _collections(commands.GetAudit, views.Page[views.AuditEntry]),
    _collections(commands.GetUsage, views.Usage),
    _collections(commands.RebuildProjections, views.ProjectionsRebuilt),
    _collections(column_sets.SaveColumnSet, column_sets.ColumnSetView),
    _collections(column_sets.ListColumnSets, column_sets.ColumnSetList),
    _collections(column_sets.DeleteColumnSet, column_sets.ColumnSetList),
    _collections(column_sets.ReembedSources, column_sets.ReembedStarted),
    _collections(retry.RetryFailed, views.OperationView),
    Request(
        command_subject(INGEST, "ValidateSource"),
        commands.ValidateSource,
        commands.ValidatedSource,
        "Resolve a path under the allowed source roots",
    ),
    Request(
        command_subject(INGEST, "ResumeWork"),
        commands.ResumeWork,
        commands.WorkResumed,
        "Publish again the lost embed work of a stalled operation (the watchdog)",
    ),
    _vectors(work.CreateGeneration),
    _vectors(work.DropGeneration),
    _vectors(work.ActivateGeneration),
    _vectors(work.DeleteDocumentPoints),
    Request(VECTOR_COUNT_RPC, work.CountVectors, work.VectorCount, "Points in one generation"),
    Request(
        command_subject(VECTORS, "SampleChunks"),
        work.SampleChunks,
        work.SampledChunks,
        "Chunk texts of one generation: the queries that validate a reindex",
    ),
    Request(SEARCH_RPC, search.Search, search.SearchResponse, "Federated hybrid search"),
    Request(
        DOCUMENT_CHUNKS_RPC,
        documents.ReadDocumentChunks,
        documents.DocumentChunks,
        "One page of a document's chunks (the document endpoint)",
    ),
    Request(
        "semantik.rpc.embed.{model}",
        search.EmbedQuery,
        search.QueryEmbeddings,
        "Query embedding by one model's embedders (micro-batched)",
    ),
]


def asyncapi_document(version: str = "0.1.0") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the bus."""
    event_types = typing.get_args(typing.get_args(events.AnyEvent)[0])
    models: list[type[BaseModel]] = [EventEnvelope, work.EmbedChunks, *event_types]
    for request in REQUESTS:
        models += [request.request, request.reply]
    unique = list(dict.fromkeys(models))
    refs, schema = models_json_schema([(model, "validation") for model in unique], ref_template=REF)
    key = {model: refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1] for model in unique}

    def _message(model: type[BaseModel]) -> dict[str, Any]:
        return {"name": key[model], "title": model.__name__, "payload": refs[(model, "validation")]}

    channels: dict[str, Any] = {
        "events": {
            "address": "semantik.evt.{collection_id}.{aggregate}.{aggregate_id}.{event}",
            "description": "Stream SEMANTIK_EVENTS: every domain event in an EventEnvelope, "
            "retained. Follow it with a durable consumer of your own, from sequence 1 or "
            "from now; delivery is at least once, deduplicate by the body's event_id "
            "(docs/integrations.md).",
            "servers": [{"$ref": f"#/servers/{NATS_SERVER}"}],
            "messages": {"EventEnvelope": {**_message(EventEnvelope), "headers": EVENT_HEADERS}},
        },
        "embed-work": {
            "address": "semantik.work.embed.{model}",
            "description": "Stream SEMANTIK_WORK (work queue): one model's embedding work, "
            "pulled by its embedders' shared durable consumer.",
            "servers": [{"$ref": f"#/servers/{NATS_SERVER}"}],
            "messages": {"EmbedChunks": {**_message(work.EmbedChunks), "headers": WORK_HEADERS}},
        },
    }
    operations: dict[str, Any] = {
        "publishEvent": {"action": "send", "channel": {"$ref": "#/channels/events"}},
        "pullEmbedWork": {"action": "receive", "channel": {"$ref": "#/channels/embed-work"}},
    }
    for request in REQUESTS:
        channel = request.address.replace(".", "-").replace("{", "").replace("}", "")
        channels[channel] = {
            "address": request.address,
            "description": request.description.strip().splitlines()[0]
            if request.description
            else "",
            "servers": [{"$ref": f"#/servers/{NATS_SERVER}"}],
            "messages": {
                key[request.request]: _message(request.request),
                key[request.reply]: _message(request.reply),
            },
        }
        operations[key[request.request]] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{key[request.request]}"}],
            "reply": {
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{key[request.reply]}"}],
            },
        }
    ws_channels, ws_operations, ws_messages, ws_schemas = websocket_parts()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Semantik bus",
            "version": version,
            "description": "NATS JetStream subjects of Semantik (SPEC §2) and the gateway's "
            "WebSocket protocol. Request replies are wrapped as {result} or "
            "{error: {code, message, details}}.",
        },
        "servers": SERVERS,
        "defaultContentType": "application/json",
        "channels": {**channels, **ws_channels},
        "operations": {**operations, **ws_operations},
        "components": {
            "messages": {key[model]: _message(model) for model in unique} | ws_messages,
            "schemas": _discriminators_as_names(schema.get("$defs", {})) | ws_schemas,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def main() -> None:
    """Print the document as committed in ``docs/asyncapi.json``."""
    print(json.dumps(asyncapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
