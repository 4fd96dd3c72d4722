"""Stream names and subject builders: the only place subjects are spelled out."""

from __future__ import annotations

import re
from uuid import UUID

EVENTS_STREAM = "SEMANTIK_EVENTS"
EVENTS_SUBJECTS = "semantik.evt.>"
WORK_STREAM = "SEMANTIK_WORK"
WORK_SUBJECTS = "semantik.work.>"

#: A duplicate window long enough to cover a relay that restarts after a crash.
DUPLICATE_WINDOW_SECONDS = 15 * 60

#: Subject token for events that belong to no collection (users, for instance).
NO_COLLECTION = "_"
#: JetStream object store of uploaded files: ``<collection_id>/<versioned file name>``.
UPLOADS_BUCKET = "SEMANTIK_UPLOADS"
#: Names given to uploads, reserved atomically (a key per collection and file name).
UPLOAD_NAMES_BUCKET = "SEMANTIK_UPLOAD_NAMES"
#: Rate limits' token buckets (NATS KV), shared by every gateway replica: ``<limit>.<client>``.
RATE_LIMITS_BUCKET = "SEMANTIK_RATE_LIMITS"
#: Webhook delivery log (NATS KV): ``<webhook_id>.<event stream sequence>``.
WEBHOOK_DELIVERIES_BUCKET = "SEMANTIK_WEBHOOK_DELIVERIES"
#: A source path naming an uploaded file: ``upload://<collection_id>/<file name>``.
UPLOAD_SCHEME = "upload://"


def is_upload(path: str) -> bool:
    """Whether a source's path names an uploaded file (``upload://<collection>/<name>``)."""
    return path.startswith(UPLOAD_SCHEME)


COLLECTIONS = "collections"
INGEST = "ingest"
VECTORS = "vectors"
SEARCH_RPC = "semantik.rpc.search"
VECTOR_COUNT_RPC = "semantik.rpc.vectors.count"
#: One page of a document's chunks (the document endpoint); the search service answers.
DOCUMENT_CHUNKS_RPC = "semantik.rpc.search.document"
MODELS_RPC = "semantik.rpc.models.list"
#: Gateway processes tell each other of ended sessions here (core NATS, not a stream).
SESSIONS_ENDED = "semantik.gateway.sessions.ended"
#: A gateway process that changed users, teams, keys or grants says so here; the others
#: read the log again at once (their account index, ``gateway_service.account_index``).
ACCOUNTS_CHANGED = "semantik.gateway.accounts.changed"


def model_slug(model_name: str) -> str:
    """Subject-safe short name of a model: ``sentence-transformers/all-MiniLM-L6-v2`` →
    ``all-minilm-l6-v2``."""
    tail = model_name.rstrip("/").rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9_-]+", "-", tail).strip("-") or "model"


def event_subject(
    collection_id: UUID | None, aggregate_type: str, aggregate_id: UUID, event_type: str
) -> str:
    """``semantik.evt.<collection_id>.<aggregate>.<aggregate_id>.<EventName>``."""
    scope = str(collection_id) if collection_id else NO_COLLECTION
    return f"semantik.evt.{scope}.{aggregate_type}.{aggregate_id}.{event_type}"


def event_filter(
    collection_id: UUID | None = None,
    aggregate_type: str | None = None,
    aggregate_id: UUID | None = None,
    event_type: str | None = None,
) -> str:
    """A subject filter over the events stream; omitted parts match anything."""
    parts = [
        str(collection_id) if collection_id else "*",
        aggregate_type or "*",
        str(aggregate_id) if aggregate_id else "*",
        event_type or "*",
    ]
    return "semantik.evt." + ".".join(parts)


def embed_work_subject(slug: str) -> str:
    """Work subject of one embedding model; embedders of that model share its consumer."""
    return f"semantik.work.embed.{slug}"


def embed_consumer_name(slug: str) -> str:
    """Durable pull consumer shared by every embedder of one model (what KEDA reads)."""
    return f"embedder-{slug}"


#: Every webhook's consumer is named ``webhook-<id>``.
WEBHOOK_CONSUMER_PREFIX = "webhook-"


def webhook_consumer_name(webhook_id: UUID | str) -> str:
    """Durable pull consumer on SEMANTIK_EVENTS that feeds one webhook's deliveries."""
    return f"{WEBHOOK_CONSUMER_PREFIX}{webhook_id}"


def embed_query_subject(slug: str) -> str:
    """Query-embedding RPC of one model."""
    return f"semantik.rpc.embed.{slug}"


def command_subject(service: str, command: str) -> str:
    """Request/reply subject of a command or query handled by ``service``."""
    return f"semantik.cmd.{service}.{command}"


def max_deliveries_advisory(stream: str, consumer: str) -> str:
    """JetStream's advisory for a message that reached ``max_deliver`` unacknowledged
    (the embedder turns it into ``EmbeddingFailed``: a dead letter, never a silent drop)."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"
