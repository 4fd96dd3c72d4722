"""The catalogue is complete, frozen, and round-trips through JSON."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from uuid import uuid4

import pydantic
import pytest
from semantik_contracts import EventEnvelope, Reply, RpcError, commands, events, subjects
from semantik_contracts.enums import ErrorCode
from semantik_contracts.views import CollectionView

pytestmark = pytest.mark.unit

SPEC_EVENTS = {
    "CollectionCreated",
    "CollectionUpdated",
    "CollectionStatusChanged",
    "GenerationCreated",
    "GenerationActivated",
    "GenerationDropped",
    "CollectionDeleted",
    "SourceAdded",
    "SourceColumnsChanged",
    "SourceRemoved",
    "OperationRequested",
    "OperationStarted",
    "OperationProgressed",
    "OperationCompleted",
    "OperationFailed",
    "OperationCancelled",
    "DocumentRegistered",
    "DocumentSkipped",
    "DocumentFailed",
    "DocumentSuperseded",
    "DocumentRemoved",
    "ScanCompleted",
    "ChunksEmbedded",
    "EmbeddingFailed",
}


def test_every_event_of_the_spec_is_in_the_catalogue_and_the_union() -> None:
    assert set(events.EVENT_TYPES) >= SPEC_EVENTS
    union = typing.get_args(typing.get_args(events.AnyEvent)[0])
    assert {cls.model_fields["type"].default for cls in union} == set(events.EVENT_TYPES)


def test_an_envelope_round_trips_and_names_its_subject() -> None:
    cid, oid = uuid4(), uuid4()
    envelope = EventEnvelope(
        event_id=f"{oid}:3",
        aggregate_type="operation",
        aggregate_id=oid,
        version=3,
        occurred_at=datetime.now(UTC),
        event=events.OperationProgressed(
            collection_id=cid, operation_id=oid, status="processing", progress=0.5
        ),
    )
    decoded = EventEnvelope.model_validate_json(envelope.model_dump_json())
    assert decoded == envelope
    assert isinstance(decoded.event, events.OperationProgressed)
    assert decoded.subject == f"semantik.evt.{cid}.operation.{oid}.OperationProgressed"
    assert decoded.collection_id == cid
    with pytest.raises(pydantic.ValidationError):
        envelope.version = 4  # type: ignore[misc]


def test_subject_filters_match_the_subject_layout() -> None:
    cid, oid = uuid4(), uuid4()
    assert subjects.event_filter(collection_id=cid) == f"semantik.evt.{cid}.*.*.*"
    assert subjects.event_filter(aggregate_type="operation", aggregate_id=oid) == (
        f"semantik.evt.*.operation.{oid}.*"
    )
    assert subjects.event_subject(None, "user", oid, "X").startswith("semantik.evt._.user.")
    assert subjects.model_slug("sentence-transformers/all-MiniLM-L6-v2") == "all-minilm-l6-v2"
    assert subjects.embed_work_subject("m") == "semantik.work.embed.m"
    assert subjects.command_subject("collections", "CreateCollection") == (
        "semantik.cmd.collections.CreateCollection"
    )


def test_a_reply_carries_a_result_or_a_typed_error() -> None:
    now = datetime.now(UTC)
    view = CollectionView(
        id=uuid4(),
        name="n",
        owner="u",
        model_name="m",
        model_dimension=3,
        status="ready",
        chunk_size=10,
        chunk_overlap=1,
        created_at=now,
        updated_at=now,
    )
    ok = Reply[CollectionView].model_validate_json(
        Reply[CollectionView](result=view).model_dump_json()
    )
    assert ok.ok and ok.result == view
    failed = Reply[CollectionView](error=RpcError(code=ErrorCode.CONFLICT, message="busy"))
    decoded = Reply[CollectionView].model_validate_json(failed.model_dump_json())
    assert not decoded.ok and decoded.error is not None and decoded.error.code is ErrorCode.CONFLICT


def test_events_ignore_unknown_fields_but_commands_reject_them() -> None:
    from semantik_contracts.commands import CreateCollection

    cid = uuid4()
    event = events.CollectionDeleted.model_validate({"collection_id": cid, "added_later": 1})
    assert event.collection_id == cid
    with pytest.raises(pydantic.ValidationError):
        CreateCollection.model_validate({"actor": "u", "name": "x", "bogus": True})


def test_a_collection_name_of_white_space_alone_is_refused() -> None:
    collection_id = uuid4()
    for blank in (" ", " \t\n "):
        with pytest.raises(pydantic.ValidationError, match="must not be blank"):
            commands.CreateCollection(actor="alice", name=blank)
        with pytest.raises(pydantic.ValidationError, match="must not be blank"):
            commands.UpdateCollection(actor="alice", collection_id=collection_id, name=blank)
    assert commands.CreateCollection(actor="alice", name=" Docs ").name == " Docs "
    renamed = commands.UpdateCollection(actor="alice", collection_id=collection_id)
    assert renamed.name is None  # a rename is optional


def test_the_asyncapi_document_covers_the_catalogue_and_its_refs_resolve() -> None:
    from semantik_contracts.asyncapi import REQUESTS, asyncapi_document

    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    assert set(events.EVENT_TYPES) <= set(schemas)

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    def resolve(ref: str) -> object:
        node: object = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"dangling {ref}"
            node = node[part]
        return node

    all_refs = refs(doc)
    assert len(all_refs) > 100
    for ref in all_refs:
        resolve(ref)
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert {request.address for request in REQUESTS} <= addresses
    assert "semantik.cmd.collections.CreateCollection" in addresses
    replies = [
        op["reply"]
        for op in doc["operations"].values()
        if "reply" in op and op["channel"]["$ref"] != "#/channels/ws"
    ]
    assert len(replies) == len(REQUESTS)


def test_chunks_embedded_says_its_precision_fp32_when_an_older_embedder_did_not() -> None:
    fields = {
        "collection_id": uuid4(),
        "operation_id": uuid4(),
        "document_id": uuid4(),
        "generation": 1,
        "chunk_count": 2,
        "work_id": "w",
    }
    assert events.ChunksEmbedded(**fields).precision == "fp32"
    assert events.ChunksEmbedded(**fields, precision="int8").precision == "int8"
    for bad in ("", "../x", "INT8", "x" * 17):
        with pytest.raises(pydantic.ValidationError):
            events.ChunksEmbedded(**fields, precision=bad)
