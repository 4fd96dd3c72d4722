"""The bus: one NATS connection per process, JetStream streams, typed request/reply.

Built directly on nats-py. faststream was tried first (see the commit that introduced
this module): its ``request`` to a subject that a stream also captures answers with the
stream's PubAck, and its batch pull subscriber acks a batch as a whole, where an embedder
must ack each item only after its vectors are written. The layer we need is small.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

import nats
import pydantic_core
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ValidationError
from semantik_contracts import ErrorCode, EventEnvelope, Reply, RpcError, RpcFailure
from semantik_contracts.subjects import (
    DUPLICATE_WINDOW_SECONDS,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    UPLOAD_NAMES_BUCKET,
    UPLOADS_BUCKET,
    WORK_STREAM,
    WORK_SUBJECTS,
    embed_work_subject,
)

from . import metrics, telemetry
from .errors import CommandError
from .nats_credentials import NatsCredentials, connect_options
from .retention import EventRetention, Retained, retained_events
from .settings import EventRetentionSettings, StreamSettings, nats_servers

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)
T = TypeVar("T")

MSG_ID = "Nats-Msg-Id"
TRACEPARENT = telemetry.TRACEPARENT


def stream_configs(
    retention: EventRetention | None = None, replicas: int = 1
) -> list[api.StreamConfig]:
    """The two streams of SPEC §2, as this installation declares them: ``replicas``
    copies of each (SEMANTIK_STREAM_REPLICAS), one per server of a cluster."""
    retention = retention or EventRetention()
    # NATS refuses a duplicate window longer than the age limit.
    window: float = DUPLICATE_WINDOW_SECONDS
    if retention.max_age_seconds:
        window = min(window, retention.max_age_seconds)
    return [
        api.StreamConfig(
            name=EVENTS_STREAM,
            subjects=[EVENTS_SUBJECTS],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            duplicate_window=window,
            max_age=retention.max_age_seconds,
            max_bytes=retention.max_bytes or -1,
            max_msgs=retention.max_msgs or -1,
            discard=api.DiscardPolicy.OLD,
            num_replicas=replicas,
            description="Every Semantik domain event, kept for a time (SEMANTIK_EVENTS_"
            "MAX_AGE_DAYS, SEMANTIK_EVENTS_MAX_BYTES); the event stores keep them all",
        ),
        api.StreamConfig(
            name=WORK_STREAM,
            subjects=[WORK_SUBJECTS],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
            description="Embedding work, one subject per model",
        ),
    ]


class Bus:
    """A NATS connection with its JetStream context and Semantik's conventions."""

    def __init__(self, nc: NATS, name: str = "semantik", replicas: int | None = None) -> None:
        self.nc = nc
        #: The process this bus belongs to: it names the spans it makes.
        self.name = name
        self.js: JetStreamContext = nc.jetstream()
        self._replicas = replicas
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(cls, url: str, name: str, credentials: NatsCredentials | None = None) -> Bus:
        """Connect as ``credentials``' user (its own reply inbox), or anonymously (None:
        a server without authorization, tests). ``url`` may list a cluster's servers,
        separated by commas: a lost server fails over to another."""
        nc = await nats.connect(
            servers=nats_servers(url),
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            **connect_options(credentials),
        )
        return cls(nc, name)

    @property
    def replicas(self) -> int:
        """Copies of each stream, KV bucket and object store this bus creates: as given,
        else SEMANTIK_STREAM_REPLICAS of this process's environment, as for ``retention``
        in ``ensure_streams`` (every process must declare the same)."""
        if self._replicas is None:
            self._replicas = StreamSettings().stream_replicas
        return self._replicas

    async def ensure_streams(self, retention: EventRetention | None = None) -> None:
        """Create or update both streams; safe to call from every process at start-up.

        SEMANTIK_EVENTS gets ``retention``, by default the limits this process's
        environment sets (``EventRetentionSettings``): an existing stream is updated
        to them, so a changed limit takes effect at the next start. Both get
        ``replicas`` copies; a changed number is applied the same way (NATS moves or
        adds the copies)."""
        if retention is None:
            retention = EventRetention.from_settings(EventRetentionSettings())
        for config in stream_configs(retention, self.replicas):
            assert config.name is not None
            try:
                await self.js.stream_info(config.name)
            except NotFoundError:
                try:
                    await self.js.add_stream(config)
                    continue
                except nats.js.errors.BadRequestError:
                    pass  # another process created it between our two calls
            await self.js.update_stream(config)

    async def upload_store(self) -> ObjectStore:
        """The object store of uploaded files, created on first use (file storage)."""
        try:
            return await self.js.object_store(UPLOADS_BUCKET)
        except nats.js.errors.BucketNotFoundError:
            config = api.ObjectStoreConfig(
                description="Files uploaded as sources",
                storage=api.StorageType.FILE,
                replicas=self.replicas,
            )
            try:
                return await self.js.create_object_store(UPLOADS_BUCKET, config)
            except nats.js.errors.BadRequestError:  # created by another process meanwhile
                return await self.js.object_store(UPLOADS_BUCKET)

    async def upload_names(self) -> KeyValue:
        """The bucket that reserves uploaded files' names, created on first use."""
        return await self.key_value(
            api.KeyValueConfig(
                bucket=UPLOAD_NAMES_BUCKET,
                description="Names given to uploaded files, one key each",
                storage=api.StorageType.FILE,
            )
        )

    async def key_value(self, config: api.KeyValueConfig) -> KeyValue:
        """The KV bucket ``config`` names, created as configured on first use, with this
        bus's ``replicas``; an existing one is taken as it is (another process may create
        it meanwhile)."""
        assert config.bucket is not None
        config = dataclasses.replace(config, replicas=self.replicas)
        try:
            return await self.js.key_value(config.bucket)
        except nats.js.errors.BucketNotFoundError:
            try:
                return await self.js.create_key_value(config)
            except nats.js.errors.BadRequestError:  # created by another process meanwhile
                return await self.js.key_value(config.bucket)

    async def publish_event(self, envelope: EventEnvelope) -> api.PubAck:
        """Publish to SEMANTIK_EVENTS; the event id de-duplicates republishing."""
        with self._publishing(envelope) as headers:
            return await self.js.publish(
                envelope.subject,
                envelope.model_dump_json().encode(),
                headers=headers,
                stream=EVENTS_STREAM,
            )

    @contextlib.contextmanager
    def _publishing(
        self, envelope: EventEnvelope, msg_id: str | None = None
    ) -> Iterator[dict[str, str]]:
        """The headers of one event, inside its producer span; once sent, it is counted.

        Its ``traceparent`` is the trace of the command that caused it (stored with the
        event), else the trace running now."""
        headers = _event_headers(envelope)
        if msg_id is not None:
            headers[MSG_ID] = msg_id
        with telemetry.span(
            f"publish {envelope.type}",
            self.name,
            kind=SpanKind.PRODUCER,
            parent=telemetry.parent_context(headers),
            attributes={"messaging.destination.name": envelope.subject},
        ):
            yield telemetry.with_trace(headers)
        metrics.observe_event(envelope)

    async def publish_event_pipelined(
        self, envelope: EventEnvelope, msg_id: str | None = None
    ) -> asyncio.Future[api.PubAck]:
        """Send to SEMANTIK_EVENTS without waiting for the ack: the returned future has it.

        Messages go out in the order of these calls, so a batch keeps its order in the
        stream while its acks come back together (a relay's throughput). ``msg_id``
        replaces the event id as ``Nats-Msg-Id`` (a replay after the stream lost it).
        """
        with self._publishing(envelope, msg_id) as headers:
            return await self.js.publish_async(
                envelope.subject,
                envelope.model_dump_json().encode(),
                headers=headers,
                stream=EVENTS_STREAM,
            )

    async def has_event(self, envelope: EventEnvelope) -> bool:
        """Is this event (or a later one of its aggregate and type) in SEMANTIK_EVENTS?"""
        try:
            last = await self.js.get_last_msg(EVENTS_STREAM, envelope.subject)
        except NotFoundError:
            return False
        try:
            stored = EventEnvelope.model_validate_json(last.data or b"")
        except ValidationError:
            return False
        return stored.aggregate_id == envelope.aggregate_id and stored.version >= envelope.version

    async def retained(self) -> Retained:
        """What SEMANTIK_EVENTS keeps now, and which missing events its limits removed."""
        return await retained_events(self.js)

    async def models_served(self) -> set[str] | None:
        """The slugs of the models that have an embed work queue: each got one (a durable
        consumer of ``semantik.work.embed.<slug>``) when an embedder of it first started,
        and keeps it while its embedders are scaled to none. None when the work stream
        cannot be read (not created yet, NATS unreachable): nothing is known."""
        prefix = embed_work_subject("")
        try:
            consumers = await self.js.consumers_info(WORK_STREAM)
        except Exception:  # nats-py raises several kinds; any means "not known now"
            return None
        subjects = (info.config.filter_subject or "" for info in consumers)
        return {s.removeprefix(prefix) for s in subjects if s.startswith(prefix)} - {""}

    async def event_message_id(self, seq: int) -> str | None:
        """The ``Nats-Msg-Id`` of SEMANTIK_EVENTS' message ``seq``; None when it is gone."""
        try:
            msg = await self.js.get_msg(EVENTS_STREAM, seq)
        except NotFoundError:
            return None
        return (msg.headers or {}).get(MSG_ID)

    async def publish_work(self, subject: str, message: BaseModel, msg_id: str) -> api.PubAck:
        with telemetry.span(f"publish {subject}", self.name, kind=SpanKind.PRODUCER):
            return await self.js.publish(
                subject,
                message.model_dump_json().encode(),
                headers=telemetry.with_trace({MSG_ID: msg_id}),
                stream=WORK_STREAM,
            )

    async def request(
        self, subject: str, message: BaseModel, result_type: type[Res], timeout: float = 10.0
    ) -> Res:
        """Send a command or query; return its result or raise ``RpcFailure``."""
        reply_type = _reply_type(result_type)
        return await self._timed(
            subject,
            message,
            timeout,
            lambda data: _result(subject, reply_type.model_validate_json(data)),
        )

    async def request_json(self, subject: str, message: BaseModel, timeout: float = 10.0) -> bytes:
        """Send a query; return its result as JSON, not validated into models, or raise
        ``RpcFailure``: for a caller that hands a trusted service's answer on as it is
        (the gateway's search, whose result is the API's response: validating it into
        models and serialising those again cost 0.5-0.9 ms a search)."""
        return await self._timed(
            subject, message, timeout, lambda data: _json_result(subject, data)
        )

    async def _timed(
        self, subject: str, message: BaseModel, timeout: float, read: Callable[[bytes], T]
    ) -> T:
        """``read`` of the reply, the request traced and timed by its outcome."""
        started = time.perf_counter()
        outcome = "error"
        try:
            with telemetry.span(f"request {subject}", self.name, kind=SpanKind.CLIENT):
                result = read(await self._request(subject, message, timeout))
            outcome = "ok"
            return result
        except RpcFailure as exc:
            outcome = exc.error.code.value
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.BUS_REQUEST_SECONDS.labels(subject, outcome).observe(elapsed)

    async def _request(self, subject: str, message: BaseModel, timeout: float) -> bytes:
        try:
            msg = await self.nc.request(
                subject,
                message.model_dump_json().encode(),
                timeout=timeout,
                headers=telemetry.with_trace({}),
            )
        except NoRespondersError as exc:
            raise RpcFailure(
                RpcError(code=ErrorCode.UNAVAILABLE, message=f"no service answers {subject}")
            ) from exc
        except (NatsTimeoutError, TimeoutError) as exc:
            raise RpcFailure(
                RpcError(code=ErrorCode.TIMEOUT, message=f"{subject} did not answer in {timeout}s")
            ) from exc
        return bytes(msg.data)

    async def answers(self, subject: str, timeout: float = 2.0) -> str | None:
        """Readiness probe: None when some service answers ``subject``, else why not.

        It sends an empty request; a typed "invalid request" reply is an answer too.
        """
        try:
            await self.nc.request(subject, b"{}", timeout=timeout)
        except NoRespondersError:
            return f"nothing answers {subject}"
        except (NatsTimeoutError, TimeoutError):
            return f"{subject} did not answer in {timeout}s"
        return None

    async def serve(
        self,
        subject: str,
        request_type: type[Req],
        handler: Callable[[Req], Awaitable[BaseModel]],
        *,
        queue: str,
        concurrency: int = 32,
    ) -> None:
        """Answer requests on ``subject`` (a queue group shares them) with typed replies."""
        limit = asyncio.Semaphore(concurrency)

        async def answer(msg: Msg) -> None:
            async with limit:
                started = time.perf_counter()
                with telemetry.span(
                    f"handle {subject}",
                    self.name,
                    kind=SpanKind.SERVER,
                    parent=telemetry.parent_context(msg.headers),
                ):
                    reply, outcome = await _handle(msg, request_type, handler)
                    if msg.reply:
                        await msg.respond(reply.encode())
                elapsed = time.perf_counter() - started
                metrics.BUS_HANDLER_SECONDS.labels(subject, outcome).observe(elapsed)

        async def on_message(msg: Msg) -> None:
            task = asyncio.create_task(answer(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._subscriptions.append(await self.nc.subscribe(subject, queue=queue, cb=on_message))
        # The subscription is on the server when this returns: a request sent right after,
        # on any connection, finds its responder instead of "no responders".
        await self.nc.flush()

    async def close(self) -> None:
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if not self.nc.is_closed:
            # Not drain(): draining a connection with JetStream pull subscriptions waits
            # forever in nats-py. Replies were flushed above; pending pulls are redelivered.
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=2)
            try:
                await self.nc.close()
            except Exception as exc:
                # Where the server went away while something was queued (a pull request
                # while reconnecting), nats-py writes it to the dead transport and uvloop
                # raises; the connection is closed all the same (its reconnecting ended).
                log.info("%s: NATS connection closed with an error: %s", self.name, exc)


_REPLY_TYPES: dict[type[BaseModel], type[Reply[Any]]] = {}


def _result(subject: str, reply: Reply[Res]) -> Res:
    if reply.error is not None:
        raise RpcFailure(reply.error)
    if reply.result is None:
        raise RpcFailure(RpcError(code=ErrorCode.INTERNAL, message=f"{subject}: empty reply"))
    return reply.result


#: How ``Bus.serve`` writes a successful reply (``Reply.model_dump_json``: compact, its
#: fields in order): the result's JSON lies between the two, cut out without parsing.
_RESULT_HEAD, _RESULT_TAIL = b'{"result":', b',"error":null}'


def _json_result(subject: str, data: bytes) -> bytes:
    """The ``result`` of a reply envelope as JSON, or its error raised. A successful
    reply of ``Bus.serve`` is cut out as it is (a search's reply of 20 kB was parsed
    and written again in 36 us otherwise); any other envelope is parsed."""
    if data.startswith(_RESULT_HEAD) and data.endswith(_RESULT_TAIL):
        result = data[len(_RESULT_HEAD) : -len(_RESULT_TAIL)]
        if result != b"null":
            return result
    try:
        reply = pydantic_core.from_json(data)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise RpcFailure(RpcError(code=ErrorCode.INTERNAL, message=f"{subject}: not a reply"))
    if reply.get("error") is not None:
        raise RpcFailure(RpcError.model_validate(reply["error"]))
    if reply.get("result") is None:
        raise RpcFailure(RpcError(code=ErrorCode.INTERNAL, message=f"{subject}: empty reply"))
    return pydantic_core.to_json(reply["result"])


def _reply_type(result_type: type[Res]) -> type[Reply[Res]]:
    """``Reply[result_type]``, made once: parametrizing a generic model costs about as
    much as validating a small reply."""
    found = _REPLY_TYPES.get(result_type)
    if found is None:
        found = _REPLY_TYPES[result_type] = Reply[result_type]  # type: ignore[valid-type]
    return cast(type[Reply[Res]], found)


def _event_headers(envelope: EventEnvelope) -> dict[str, str]:
    headers = {MSG_ID: envelope.event_id}
    if envelope.traceparent:
        headers[TRACEPARENT] = envelope.traceparent
    return headers


async def _handle(
    msg: Msg, request_type: type[Req], handler: Callable[[Req], Awaitable[BaseModel]]
) -> tuple[str, str]:
    """The reply to send, and its outcome (``ok`` or an error code) for the metrics."""
    try:
        request = request_type.model_validate_json(msg.data)
    except ValidationError as exc:
        error = RpcError(
            code=ErrorCode.INVALID,
            message="invalid request",
            details={"errors": exc.errors(include_url=False, include_context=False)},
        )
        return Reply[Any](error=error).model_dump_json(), error.code.value
    try:
        result = await handler(request)
    except CommandError as exc:
        error = exc.to_rpc()
    except RpcFailure as exc:
        error = exc.error
    except Exception:
        log.exception("handler of %s failed", msg.subject)
        error = RpcError(code=ErrorCode.INTERNAL, message=f"internal error in {msg.subject}")
    else:
        # The result's own JSON inside the reply, without a detour through a dict, in
        # the form ``_json_result`` cuts out without parsing.
        return '{"result":' + result.model_dump_json() + ',"error":null}', "ok"
    return Reply[Any](error=error).model_dump_json(), error.code.value
