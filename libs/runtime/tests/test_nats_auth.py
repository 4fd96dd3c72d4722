"""The NATS permission table (semantik_runtime.nats_auth), checked without a server:
the subject matching is NATS's own rules, re-implemented here in a few lines."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest
from semantik_contracts.subjects import (
    ACCOUNTS_CHANGED,
    COLLECTIONS,
    EVENTS_STREAM,
    INGEST,
    RATE_LIMITS_BUCKET,
    SEARCH_RPC,
    SESSIONS_ENDED,
    VECTORS,
    WEBHOOK_DELIVERIES_BUCKET,
    WORK_STREAM,
    command_subject,
    embed_query_subject,
    embed_work_subject,
    event_subject,
    webhook_consumer_name,
)
from semantik_runtime.nats_auth import (
    EVENT_DURABLES,
    OPERATOR,
    SERVICE_USERS,
    SUBSCRIBER,
    USERS,
    VECTOR_HOST,
    permissions,
)
from semantik_runtime.nats_config import (
    DEPLOYED_USERS,
    authorization,
    deployment_authorization,
    deployment_users,
    password_variable,
)
from semantik_runtime.nats_credentials import NatsCredentials, connect_options

pytestmark = pytest.mark.unit


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` one or more at the end."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or (token != "*" and token != tokens[i]):
            return False
    return len(tokens) == len(wanted)


def may_publish(user: str, subject: str) -> bool:
    rules = permissions(user)
    allowed = any(matches(p, subject) for p in rules.publish)
    return allowed and not any(matches(p, subject) for p in rules.publish_deny)


def may_subscribe(user: str, subject: str) -> bool:
    return any(matches(p, subject) for p in permissions(user).subscribe)


ACTOR_COMMANDS = [command_subject(COLLECTIONS, c) for c in ("DeleteCollection", "GrantAccess")]
COLLECTION_EVENT = event_subject(uuid4(), "collection", uuid4(), "CollectionDeleted")


def test_the_matcher_follows_nats_rules() -> None:
    assert matches("a.*.c", "a.b.c") and not matches("a.*.c", "a.b.b.c")
    assert matches("a.>", "a.b.c") and not matches("a.>", "a")


@pytest.mark.parametrize("user", [u for u in USERS if u != "gateway"])
@pytest.mark.parametrize("subject", ACTOR_COMMANDS)
def test_only_the_gateway_sends_commands_that_carry_an_actor(user: str, subject: str) -> None:
    assert not may_publish(user, subject)
    assert may_publish("gateway", subject)


def test_the_operator_sends_one_command_without_an_actor() -> None:
    assert may_publish(OPERATOR, command_subject(COLLECTIONS, "RebuildProjections"))
    published = permissions(OPERATOR).publish
    assert published[0] == command_subject(COLLECTIONS, "RebuildProjections")
    # Besides, a read-only look at streams and consumers: nothing that changes them.
    assert all(".INFO" in s or ".NAMES" in s or ".LIST" in s for s in published[1:])
    assert not may_publish(OPERATOR, command_subject(COLLECTIONS, "DeleteCollection"))
    assert not may_publish(OPERATOR, "$JS.API.STREAM.DELETE.SEMANTIK_EVENTS")
    assert not may_publish(OPERATOR, "$JS.API.CONSUMER.DELETE.SEMANTIK_EVENTS.x")


def test_each_service_publishes_the_events_of_its_own_aggregates_only() -> None:
    owners = {"collection": COLLECTIONS, "scan": INGEST, "embedding": "embedder"}
    for aggregate, owner in owners.items():
        subject = event_subject(uuid4(), aggregate, uuid4(), "Anything")
        publishers = {u for u in SERVICE_USERS if may_publish(u, subject)}
        assert publishers == {owner}, aggregate
    # Ingest fails a stalled operation's lost work as the embedders would, nothing else.
    failed = event_subject(uuid4(), "embedding", uuid4(), "EmbeddingFailed")
    assert may_publish(INGEST, failed)
    assert not may_publish(INGEST, event_subject(uuid4(), "embedding", uuid4(), "ChunksEmbedded"))


def test_work_is_published_by_ingest_and_embedded_by_the_embedder() -> None:
    work = embed_work_subject("all-minilm-l6-v2")
    assert {u for u in USERS if may_publish(u, work)} == {INGEST}
    consumer = f"$JS.API.CONSUMER.MSG.NEXT.{WORK_STREAM}.embedder-all-minilm-l6-v2"
    assert {u for u in USERS if may_publish(u, consumer)} == {"embedder", VECTOR_HOST}


def test_services_answer_their_own_subjects() -> None:
    served = {
        COLLECTIONS: command_subject(COLLECTIONS, "CreateCollection"),
        INGEST: command_subject(INGEST, "ValidateSource"),
        "embedder": command_subject(VECTORS, "DropGeneration"),
        "search": SEARCH_RPC,
    }
    for owner, subject in served.items():
        assert {u for u in SERVICE_USERS if may_subscribe(u, subject)} == {owner}
        assert permissions(owner).responds
    assert not permissions("gateway").responds and not permissions(SUBSCRIBER).responds


def test_only_the_gateway_asks_ingest_for_a_documents_file() -> None:
    """The content endpoint's pieces: the gateway asks, ingest alone answers (one reply
    per request, so its ``allow_responses`` needs nothing more)."""
    subject = command_subject(INGEST, "ReadDocumentContent")
    assert {u for u in USERS if may_publish(u, subject)} == {"gateway"}
    assert {u for u in USERS if may_subscribe(u, subject)} == {INGEST}


def test_the_vector_host_is_the_embedder_and_search_together() -> None:
    host = permissions(VECTOR_HOST)
    for part in ("embedder", "search"):
        assert set(permissions(part).publish) <= set(host.publish)
        served = [s for s in permissions(part).subscribe if not s.startswith("_INBOX.")]
        assert set(served) <= set(host.subscribe)
    assert may_subscribe(VECTOR_HOST, embed_query_subject("x"))
    assert may_subscribe(VECTOR_HOST, SEARCH_RPC)


def test_each_user_reads_replies_in_its_own_inbox_only() -> None:
    for user in USERS:
        assert may_subscribe(user, f"_INBOX.{user}.abc.1")
        for other in USERS:
            if other != user:
                assert not may_subscribe(user, f"_INBOX.{other}.abc.1"), (user, other)
        assert not may_subscribe(user, "_INBOX.abc.1")
        assert connect_options(NatsCredentials(user, "pw"))["inbox_prefix"] == f"_INBOX.{user}"
    assert connect_options(None) == {}


def test_the_subscriber_reads_the_events_and_nothing_else() -> None:
    allowed = [
        f"$JS.API.STREAM.INFO.{EVENTS_STREAM}",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS_STREAM}.downstream",
        f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}.downstream.semantik.evt.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.downstream",
        f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.downstream",
        f"$JS.ACK.{EVENTS_STREAM}.downstream.1.2.3.4.5",
    ]
    for subject in allowed:
        assert may_publish(SUBSCRIBER, subject), subject
    refused = [
        COLLECTION_EVENT,
        "semantik.cmd.collections.DeleteCollection",
        embed_work_subject("x"),
        SESSIONS_ENDED,
        ACCOUNTS_CHANGED,
        f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}",
        f"$JS.API.STREAM.PURGE.{EVENTS_STREAM}",
        f"$JS.API.STREAM.UPDATE.{EVENTS_STREAM}",
        f"$JS.API.STREAM.CREATE.{EVENTS_STREAM}",
        f"$JS.API.STREAM.MSG.DELETE.{EVENTS_STREAM}",
        f"$JS.API.STREAM.INFO.{WORK_STREAM}",
        f"$JS.API.CONSUMER.CREATE.{WORK_STREAM}",
    ]
    for subject in refused:
        assert not may_publish(SUBSCRIBER, subject), subject
    assert not may_subscribe(SUBSCRIBER, "semantik.>")
    assert not may_subscribe(SUBSCRIBER, COLLECTION_EVENT)


def test_the_gateway_delivers_webhooks_through_consumers_of_its_own() -> None:
    """Each webhook's durable consumer (``webhook-<id>``) and the delivery log's bucket."""
    hook = webhook_consumer_name(uuid4())
    log = f"KV_{WEBHOOK_DELIVERIES_BUCKET}"
    allowed = [
        f"$JS.API.CONSUMER.INFO.{EVENTS_STREAM}.{hook}",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS_STREAM}.{hook}",
        f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.{hook}",
        f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.{hook}",
        f"$JS.API.CONSUMER.LIST.{EVENTS_STREAM}",
        f"$JS.ACK.{EVENTS_STREAM}.{hook}.1.2.3.4.5",
        f"$JS.API.STREAM.INFO.{log}",
        f"$JS.API.STREAM.CREATE.{log}",
        f"$KV.{WEBHOOK_DELIVERIES_BUCKET}.{uuid4()}.42",
        f"$JS.API.CONSUMER.CREATE.{log}",
        f"$JS.API.CONSUMER.INFO.{log}.abc",
        f"$JS.FC.{log}.x.y",
    ]
    for subject in allowed:
        assert may_publish("gateway", subject), subject
    for subject in (
        f"$JS.API.STREAM.DELETE.{log}",
        f"$JS.API.STREAM.PURGE.{log}",
        f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{WORK_STREAM}.{hook}",
        f"$JS.API.CONSUMER.MSG.NEXT.{WORK_STREAM}.embedder-x",
    ):
        assert not may_publish("gateway", subject), subject


def test_the_collections_watchdog_may_see_which_models_have_embedders() -> None:
    """A stalled operation whose model has no work consumer fails (``models_served``):
    collections lists the work stream's consumers, and may not touch them."""
    assert may_publish(COLLECTIONS, f"$JS.API.CONSUMER.LIST.{WORK_STREAM}")
    for subject in (
        f"$JS.API.CONSUMER.DELETE.{WORK_STREAM}.embedder-x",
        f"$JS.API.CONSUMER.MSG.NEXT.{WORK_STREAM}.embedder-x",
    ):
        assert not may_publish(COLLECTIONS, subject), subject


def test_only_the_gateway_keeps_the_shared_rate_limits() -> None:
    """Every replica reads and writes one KV bucket of token buckets, and nothing else
    of it: no other user touches it, and nobody deletes or purges it."""
    bucket = f"KV_{RATE_LIMITS_BUCKET}"
    allowed = [
        f"$JS.API.STREAM.INFO.{bucket}",
        f"$JS.API.STREAM.CREATE.{bucket}",
        f"$JS.API.STREAM.MSG.GET.{bucket}",
        f"$JS.API.DIRECT.GET.{bucket}.$KV.{RATE_LIMITS_BUCKET}.search.ab12",
        f"$KV.{RATE_LIMITS_BUCKET}.sign-in.ab12",
    ]
    for subject in allowed:
        assert may_publish("gateway", subject), subject
    for subject in (f"$JS.API.STREAM.DELETE.{bucket}", f"$JS.API.STREAM.PURGE.{bucket}"):
        assert not may_publish("gateway", subject), subject
    for user in USERS:
        if user != "gateway":
            assert not may_publish(user, f"$KV.{RATE_LIMITS_BUCKET}.search.ab12"), user


@pytest.mark.parametrize("user", [SUBSCRIBER, "embedder", VECTOR_HOST, "gateway"])
def test_nobody_takes_over_a_services_durable_consumer(user: str) -> None:
    """A wildcard consumer rule stops at the services' durables: pulling from one would
    take its events away from the service."""
    for owner, names in EVENT_DURABLES.items():
        if owner == user or (user == VECTOR_HOST and owner == "embedder"):
            continue
        for name in names:
            for action in ("MSG.NEXT", "DELETE", "DURABLE.CREATE", "INFO"):
                subject = f"$JS.API.CONSUMER.{action}.{EVENTS_STREAM}.{name}"
                assert not may_publish(user, subject), subject
            assert not may_publish(user, f"$JS.ACK.{EVENTS_STREAM}.{name}.1.2.3.4.5")


def test_no_user_deletes_or_purges_the_streams() -> None:
    for user in USERS:
        for stream in (EVENTS_STREAM, WORK_STREAM):
            for action in ("DELETE", "PURGE"):
                assert not may_publish(user, f"$JS.API.STREAM.{action}.{stream}"), user


def test_authorization_names_every_user_with_its_password() -> None:
    text = authorization({user: f"pw-{user}" for user in USERS})
    for user in USERS:
        assert f'user: "{user}"' in text and f'password: "pw-{user}"' in text
    with pytest.raises(ValueError):
        authorization({"root": "x"})
    with pytest.raises(ValueError):
        permissions("root")


def test_deployments_read_the_passwords_from_their_environment() -> None:
    text = deployment_authorization()
    for user in DEPLOYED_USERS:
        assert f"password: ${password_variable(user)}\n" in text
    # Deployments run the embedder and search apart: no vector host there.
    assert VECTOR_HOST not in DEPLOYED_USERS and f'"{VECTOR_HOST}"' not in text
    assert [u["user"] for u in deployment_users()] == list(DEPLOYED_USERS)
    assert not re.search(r'password: "', text)
