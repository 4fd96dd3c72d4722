"""NATS users and what each may publish and subscribe to: the bus as a trust boundary
(SPEC §11). Pure: it renders configuration, ``semantik run`` and the deployments
write it where their server reads it.

Each service connects as its own user. A user's publish allow-list names the subjects
it sends (its events, commands and queries, the JetStream API calls of its own streams
and consumers); its subscribe allow-list the subjects it serves or follows and its own
reply inbox, ``_INBOX.<user>`` (a shared ``_INBOX.>`` would let any user read every
reply). Responders answer through ``allow_responses``: the reply subject of a request
they received, nothing else. Only the gateway publishes ``semantik.cmd.collections.*``,
the commands that carry an ``actor``; the operator's CLI may send the one command
without an actor there (``RebuildProjections``) and read the streams' and consumers'
state, changing nothing.

The embedded default runs the embedder and search in one process (the vector host, a
Qdrant Edge shard admits one process): it connects as ``vector-host``, the union of the
two. Two users inside one process would isolate nothing (the process holds both
passwords), and one user keeps one rule for every process: its own ``NATS_USER``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from semantik_contracts.subjects import (
    ACCOUNTS_CHANGED,
    COLLECTIONS,
    DOCUMENT_CHUNKS_RPC,
    EVENTS_STREAM,
    INGEST,
    RATE_LIMITS_BUCKET,
    SEARCH_RPC,
    SESSIONS_ENDED,
    UPLOAD_NAMES_BUCKET,
    UPLOADS_BUCKET,
    VECTOR_COUNT_RPC,
    VECTORS,
    WORK_STREAM,
    command_subject,
    embed_query_subject,
    embed_work_subject,
    event_filter,
    max_deliveries_advisory,
)
from semantik_contracts.sync import SCAN_LEASES_BUCKET, SYNC_LEASES_BUCKET

from .nats_credentials import inbox_prefix
from .nats_webhooks import webhook_delivery_rules

#: One NATS user per service (the Deployment, compose service and module names).
SERVICE_USERS = ("collections", "ingest", "embedder", "search", "gateway")
#: The embedder and search in one process (``semantik run`` without ``QDRANT_URL``).
VECTOR_HOST = "vector-host"
#: The CLI's operator commands (``semantik projections rebuild``).
OPERATOR = "operator"
#: Downstream systems: read ``SEMANTIK_EVENTS`` through consumers of their own.
SUBSCRIBER = "subscriber"
USERS = (*SERVICE_USERS, VECTOR_HOST, OPERATOR, SUBSCRIBER)

_API = "$JS.API"
_OBJECTS = f"OBJ_{UPLOADS_BUCKET}"
_NAMES = f"KV_{UPLOAD_NAMES_BUCKET}"

#: Durable consumers on SEMANTIK_EVENTS, by the service that owns them (their names are
#: spelt in the services' app.py; a consumer missing here is refused at its start).
EVENT_DURABLES: Mapping[str, tuple[str, ...]] = {
    COLLECTIONS: tuple(
        f"collections-{event}"
        for event in (
            "ScanStarted",
            "ScanProgressed",
            "ScanCompleted",
            "DocumentFailed",
            "EmbeddingFailed",
            "ChunksEmbedded",
        )
    ),
    INGEST: tuple(
        f"ingest-{event}"
        for event in (
            "ChunksEmbedded",
            "EmbeddingFailed",
            "OperationRequested",
            "OperationCancelled",
            "OperationFailed",
        )
    ),
    "embedder": ("embedder-CollectionDeleted", "embedder-GenerationDropped"),
}

#: The aggregates whose events each service publishes (``semantik.evt.*.<aggregate>.…``).
EVENT_AGGREGATES: Mapping[str, tuple[str, ...]] = {
    COLLECTIONS: ("collection", "source", "operation"),
    INGEST: ("scan", "document"),
    "embedder": ("embedding",),
}


@dataclass(frozen=True)
class Permissions:
    """What one user may publish and subscribe to (NATS ``permissions``)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    #: Subjects excluded from ``publish`` even where a wildcard there matches them.
    publish_deny: tuple[str, ...] = ()
    #: May answer requests it received (their reply subject only).
    responds: bool = False

    def __or__(self, other: Permissions) -> Permissions:
        return Permissions(
            publish=_unique(self.publish + other.publish),
            subscribe=_unique(self.subscribe + other.subscribe),
            publish_deny=tuple(
                s
                for s in _unique(self.publish_deny + other.publish_deny)
                if s not in self.publish + other.publish
            ),
            responds=self.responds or other.responds,
        )


def _unique(subjects: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(subjects))


def _events(aggregates: Iterable[str]) -> list[str]:
    return [f"semantik.evt.*.{aggregate}.*.*" for aggregate in aggregates]


def _streams() -> list[str]:
    """``Bus.ensure_streams``: look both streams up, create or update them."""
    return [f"{_API}.INFO"] + [
        f"{_API}.STREAM.{action}.{stream}"
        for stream in (EVENTS_STREAM, WORK_STREAM)
        for action in ("INFO", "CREATE", "UPDATE")
    ]


def _durable(stream: str, name: str) -> list[str]:
    """Create, look up and pull from one durable consumer, and acknowledge its messages."""
    return [
        f"{_API}.CONSUMER.INFO.{stream}.{name}",
        f"{_API}.CONSUMER.DURABLE.CREATE.{stream}.{name}",
        f"{_API}.CONSUMER.CREATE.{stream}.{name}",
        f"{_API}.CONSUMER.CREATE.{stream}.{name}.>",
        f"{_API}.CONSUMER.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
    ]


def _durables(owner: str) -> list[str]:
    return [s for name in EVENT_DURABLES.get(owner, ()) for s in _durable(EVENTS_STREAM, name)]


def _others_durables(owner: str) -> tuple[str, ...]:
    """Every service durable but ``owner``'s: a wildcard consumer rule never reaches them
    (a user pulling from another's consumer would take its events away)."""
    return tuple(
        s
        for service, names in EVENT_DURABLES.items()
        if service != owner
        for name in names
        for s in _durable(EVENTS_STREAM, name)
    )


def _read_messages(stream: str) -> list[str]:
    """Single messages by sequence or last-by-subject (``get_msg``, ``get_last_msg``)."""
    return [f"{_API}.STREAM.MSG.GET.{stream}", f"{_API}.DIRECT.GET.{stream}.>"]


def _ephemeral_reader(stream: str) -> list[str]:
    """Ephemeral consumers (server-named): pull ones, and ordered push ones with flow
    control into this user's inbox; and their info, which tells a reader it has read to
    the log's end (``consumer.read_to_end``). The services' durables stay denied to
    another service (``_others_durables``, their info included)."""
    return [
        f"{_API}.CONSUMER.CREATE.{stream}",
        f"{_API}.CONSUMER.CREATE.{stream}.*.>",  # nats-py names its pull ephemerals
        f"{_API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{_API}.CONSUMER.INFO.{stream}.*",
        f"$JS.FC.{stream}.>",
    ]


def _uploads(*, write: bool) -> list[str]:
    """The uploads object store and its name reservations (``Bus.upload_store``)."""
    subjects = [
        # Reading a file subscribes to its chunks' subject, whose stream nats-py looks up.
        f"{_API}.STREAM.NAMES",
        f"{_API}.STREAM.INFO.{_OBJECTS}",
        f"{_API}.STREAM.CREATE.{_OBJECTS}",
        *_read_messages(_OBJECTS),
        f"{_API}.DIRECT.GET.{_OBJECTS}",
        f"{_API}.CONSUMER.CREATE.{_OBJECTS}",
        f"{_API}.CONSUMER.CREATE.{_OBJECTS}.>",
        f"{_API}.CONSUMER.DELETE.{_OBJECTS}.*",
        f"$JS.FC.{_OBJECTS}.>",
    ]
    if write:
        subjects += [
            f"{_API}.STREAM.PURGE.{_OBJECTS}",
            f"$O.{UPLOADS_BUCKET}.>",
            f"{_API}.STREAM.INFO.{_NAMES}",
            f"{_API}.STREAM.CREATE.{_NAMES}",
            *_read_messages(_NAMES),
            f"{_API}.DIRECT.GET.{_NAMES}",
            f"$KV.{UPLOAD_NAMES_BUCKET}.>",
        ]
    return subjects


def _key_value(bucket: str) -> list[str]:
    """One KV bucket (``Bus.key_value``): create it, read a key, write one (create,
    update at a revision, delete)."""
    stream = f"KV_{bucket}"
    return [
        f"{_API}.STREAM.INFO.{stream}",
        f"{_API}.STREAM.CREATE.{stream}",
        *_read_messages(stream),
        f"$KV.{bucket}.>",
    ]


def _rate_limits() -> list[str]:
    """The rate limits' shared buckets (``gateway_service.ratelimit``)."""
    return _key_value(RATE_LIMITS_BUCKET)


_OPERATION_ENDS = ("OperationCompleted", "OperationFailed", "OperationCancelled")


def _sync() -> list[str]:
    """Ingest's sync of path sources (SPEC §12): the three commands without an actor it
    sends the collections service, and the bucket of its leases."""
    return [
        *(command_subject(COLLECTIONS, c) for c in ("ListSyncedSources", "SyncSource")),
        command_subject(COLLECTIONS, "ReportSyncStatus"),
        *_key_value(SYNC_LEASES_BUCKET),
    ]


def _inbox(user: str) -> list[str]:
    return [f"{inbox_prefix(user)}.>"]


def _collections() -> Permissions:
    return Permissions(
        publish=_unique(
            [
                *_events(EVENT_AGGREGATES[COLLECTIONS]),
                command_subject(INGEST, "ValidateSource"),
                command_subject(INGEST, "ResumeWork"),
                command_subject(VECTORS, "*"),
                VECTOR_COUNT_RPC,
                SEARCH_RPC,
                *_streams(),
                *_read_messages(EVENTS_STREAM),
                *_durables(COLLECTIONS),
                # The watchdog: does an embedder serve a stalled operation's model?
                f"{_API}.CONSUMER.LIST.{WORK_STREAM}",
            ]
        ),
        subscribe=(command_subject(COLLECTIONS, "*"), *_inbox(COLLECTIONS)),
        responds=True,
    )


def _ingest() -> Permissions:
    return Permissions(
        publish=_unique(
            [
                *_events(EVENT_AGGREGATES[INGEST]),
                # A stalled operation's lost work fails as the embedders would fail it.
                event_filter(aggregate_type="embedding", event_type="EmbeddingFailed"),
                embed_work_subject("*"),
                command_subject(VECTORS, "DeleteDocumentPoints"),
                *_streams(),
                *_read_messages(EVENTS_STREAM),
                *_durables(INGEST),
                *_uploads(write=False),
                *_sync(),
                # Which replica runs each scan (SPEC §14).
                *_key_value(SCAN_LEASES_BUCKET),
            ]
        ),
        subscribe=(
            command_subject(INGEST, "*"),
            *_inbox(INGEST),
            # The freshness histogram: when an operation a change started ends.
            *(event_filter(aggregate_type="operation", event_type=e) for e in _OPERATION_ENDS),
        ),
        responds=True,
    )


def _embedder(user: str = "embedder") -> Permissions:
    return Permissions(
        publish=_unique(
            [
                *_events(EVENT_AGGREGATES["embedder"]),
                *_streams(),
                *_durables("embedder"),
                # Collection facts and new models: ephemeral consumers of the events.
                *_ephemeral_reader(EVENTS_STREAM),
                # One work consumer per model (``embedder-<model>``), its dead letters.
                *_durable(WORK_STREAM, "*"),
                f"{_API}.CONSUMER.LIST.{WORK_STREAM}",
                f"{_API}.STREAM.MSG.GET.{WORK_STREAM}",
                f"{_API}.STREAM.MSG.DELETE.{WORK_STREAM}",
            ]
        ),
        subscribe=(
            command_subject(VECTORS, "*"),
            VECTOR_COUNT_RPC,
            embed_query_subject("*"),
            max_deliveries_advisory(WORK_STREAM, "*"),
            *_inbox(user),
        ),
        publish_deny=_others_durables("embedder"),
        responds=True,
    )


def _search(user: str = "search") -> Permissions:
    return Permissions(
        publish=(embed_query_subject("*"),),
        subscribe=(SEARCH_RPC, DOCUMENT_CHUNKS_RPC, *_inbox(user)),
        responds=True,
    )


def _gateway() -> Permissions:
    return Permissions(
        publish=_unique(
            [
                # The commands that carry an actor: the gateway's alone.
                command_subject(COLLECTIONS, "*"),
                command_subject(INGEST, "ValidateSource"),
                command_subject(INGEST, "ListDocuments"),
                command_subject(INGEST, "ReadDocumentContent"),  # a document's file
                SEARCH_RPC,
                DOCUMENT_CHUNKS_RPC,
                VECTOR_COUNT_RPC,
                embed_query_subject("*"),  # readiness: does an embedder answer?
                SESSIONS_ENDED,
                ACCOUNTS_CHANGED,
                *_streams(),
                # WebSocket clients follow events through ordered push consumers.
                f"{_API}.CONSUMER.CREATE.{EVENTS_STREAM}",
                f"$JS.FC.{EVENTS_STREAM}.>",
                f"{_API}.CONSUMER.LIST.{WORK_STREAM}",  # readiness: the models in use
                *_uploads(write=True),
                *_rate_limits(),
                *webhook_delivery_rules(),
            ]
        ),
        publish_deny=(
            *_others_durables("gateway"),
            *(f"{_API}.CONSUMER.DELETE.{EVENTS_STREAM}.{n}" for n in _all_durables()),
        ),
        subscribe=(
            SESSIONS_ENDED,
            ACCOUNTS_CHANGED,
            event_filter(event_type="AccessRevoked"),
            event_filter(aggregate_type="collection"),
            *_inbox("gateway"),
        ),
    )


#: What an operator may look at: stream and consumer state, read-only (lag, pending).
INSPECT = (
    f"{_API}.INFO",
    f"{_API}.STREAM.NAMES",
    f"{_API}.STREAM.LIST",
    f"{_API}.STREAM.INFO.*",
    f"{_API}.CONSUMER.NAMES.*",
    f"{_API}.CONSUMER.LIST.*",
    f"{_API}.CONSUMER.INFO.*.*",
)


def _operator() -> Permissions:
    """The one command without an actor (``semantik projections rebuild``), and a
    read-only look at the streams and consumers."""
    return Permissions(
        publish=(command_subject(COLLECTIONS, "RebuildProjections"), *INSPECT),
        subscribe=tuple(_inbox(OPERATOR)),
    )


def _subscriber() -> Permissions:
    """Follow SEMANTIK_EVENTS with consumers of its own: create, look up, pull, ack,
    delete them; read the stream's info and messages. No publish to ``semantik.>``, no
    stream management, and no access to the services' durable consumers."""
    stream = EVENTS_STREAM
    return Permissions(
        publish=(
            f"{_API}.INFO",
            f"{_API}.STREAM.INFO.{stream}",
            *_read_messages(stream),
            f"{_API}.CONSUMER.CREATE.{stream}",
            f"{_API}.CONSUMER.CREATE.{stream}.>",
            f"{_API}.CONSUMER.DURABLE.CREATE.{stream}.*",
            f"{_API}.CONSUMER.INFO.{stream}.*",
            f"{_API}.CONSUMER.DELETE.{stream}.*",
            f"{_API}.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
            f"$JS.FC.{stream}.>",
        ),
        subscribe=tuple(_inbox(SUBSCRIBER)),
        publish_deny=tuple(
            [
                *_others_durables(SUBSCRIBER),
                *(f"{_API}.CONSUMER.DELETE.{stream}.{n}" for n in _all_durables()),
            ]
        ),
    )


def _all_durables() -> list[str]:
    return [name for names in EVENT_DURABLES.values() for name in names]


def permissions(user: str) -> Permissions:
    """The permissions of one of ``USERS``."""
    table = {
        COLLECTIONS: _collections,
        INGEST: _ingest,
        "embedder": _embedder,
        "search": _search,
        "gateway": _gateway,
        OPERATOR: _operator,
        SUBSCRIBER: _subscriber,
    }
    if user == VECTOR_HOST:
        return _embedder(VECTOR_HOST) | _search(VECTOR_HOST)
    try:
        return table[user]()
    except KeyError:
        raise ValueError(f"no NATS user {user!r}; the users are {', '.join(USERS)}") from None
