"""Snapshots of long-lived aggregates, so that loading one reads its latest snapshot and
the events after it instead of its whole history (SPEC §14, bounded state).

eventsourcing's machinery does the storing and the loading (a snapshot store beside the
event store, ``Repository.get`` starting from the latest snapshot); this module adds what
our aggregates need of it:

- **A state that comes back with its types.** eventsourcing's ``Snapshot`` stores an
  aggregate's ``__dict__`` through the application's JSON transcoder, which writes a
  ``StrEnum`` as a plain string, a tuple as a list, a dict's int keys as strings, and
  cannot write a set or a dataclass at all. ``TypedSnapshot`` tags such values (and
  only those) so that the transcoder gives back the same objects: an aggregate restored
  from its snapshot equals the one rebuilt from all its events.
- **When to take one** (``snapshot_due``): every ``interval`` events while an aggregate's
  history is short, then further apart as it grows, so that an aggregate whose state
  grows with its history (an operation's counted work items) is written a bounded
  number of times over rather than once per ``interval`` events.
- **A snapshot never fails a command.** It is taken after the command's events are
  recorded; a snapshot that cannot be written is logged and the aggregate loads from
  its events as before.

Read models fold the notification log, never snapshots: snapshots are a cache of each
aggregate's own events, kept in a table of their own, and dropping them loses nothing.
An aggregate whose attributes change shape must say so as eventsourcing asks (a
``class_version`` and an ``upcast_vN_vN+1`` static method), since older snapshots hold
the older shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import Any, ClassVar, Self
from uuid import UUID

from eventsourcing.application import Application, ProjectorFunction, project_aggregate
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoding
from eventsourcing.utils import get_topic, resolve_topic

log = logging.getLogger(__name__)

#: Snapshots are ``interval`` events apart until the history is this many intervals
#: long; then the spacing doubles each time the history doubles (``snapshot_due``).
SHORT_HISTORY_INTERVALS = 16


def snapshot_due(version: int, interval: int) -> bool:
    """Whether an aggregate is snapshotted at ``version``.

    Every ``interval`` events up to ``SHORT_HISTORY_INTERVALS`` intervals; beyond, every
    ``interval · 2^k`` events, with ``2^k`` the largest power of two at most
    ``version / (8 · interval)``. Loading then replays at most ``max(interval,
    version / 8)`` events after the latest snapshot (the spacings are powers of two
    times ``interval``, so each snapshot point stays one as the spacing grows), while an
    aggregate whose state grows with its history is written about a dozen times its
    final size in all, not ``version / interval`` times."""
    step = interval
    while step * SHORT_HISTORY_INTERVALS <= version:
        step *= 2
    return version > 0 and version % step == 0


#: Types that JSON gives back as they were (exactly these, not subclasses: a StrEnum is
#: a str).
_PLAIN = frozenset({str, int, float, bool, type(None)})


@dataclass(frozen=True, slots=True)
class TypedValue:
    """A value the JSON transcoder would give back as another type, with that type."""

    kind: str  # "enum", "set", "tuple", "record" (a dataclass) or "mapping"
    topic: str
    data: Any


def typed(value: Any) -> Any:
    """``value`` with every part JSON would not give back as it is tagged by its type
    (``untyped`` reverses it). UUIDs, datetimes and decimals are the transcoder's own."""
    if type(value) in _PLAIN:  # first: most of a large state (counted keys, say)
        return value
    if isinstance(value, Enum):  # before str and int: a StrEnum is both
        return TypedValue("enum", get_topic(type(value)), typed(value.value))
    if isinstance(value, set | frozenset):
        return TypedValue("set", get_topic(type(value)), [typed(v) for v in value])
    if isinstance(value, tuple):
        return TypedValue("tuple", get_topic(type(value)), [typed(v) for v in value])
    if is_dataclass(value) and not isinstance(value, type):
        state = {f.name: typed(getattr(value, f.name)) for f in fields(value)}
        return TypedValue("record", get_topic(type(value)), state)
    if isinstance(value, dict):
        if all(type(key) is str for key in value):
            return {key: typed(v) for key, v in value.items()}
        pairs = [[typed(key), typed(v)] for key, v in value.items()]
        return TypedValue("mapping", get_topic(type(value)), pairs)
    if isinstance(value, list):
        return [typed(v) for v in value]
    return value


def untyped(value: TypedValue) -> Any:
    """The value ``typed`` tagged (its parts are already decoded: JSON decodes inside
    out)."""
    cls = resolve_topic(value.topic)
    if value.kind == "enum":
        return cls(value.data)
    if value.kind == "record":
        return cls(**value.data)
    if value.kind == "mapping":
        return cls((key, v) for key, v in value.data)
    if value.kind == "tuple" and hasattr(cls, "_fields"):  # a NamedTuple
        return cls(*value.data)
    return cls(value.data)


class TypedValueAsDict(Transcoding):
    type = TypedValue
    name = "typed_value"

    def encode(self, obj: TypedValue) -> dict[str, Any]:
        return {"kind": obj.kind, "topic": obj.topic, "data": obj.data}

    def decode(self, data: dict[str, Any]) -> Any:
        return untyped(TypedValue(str(data["kind"]), str(data["topic"]), data["data"]))


class TypedSnapshot(Snapshot):
    """eventsourcing's ``Snapshot`` of an aggregate whose state is stored ``typed``."""

    @classmethod
    def take(cls, aggregate: Any) -> Self:
        snapshot = super().take(aggregate)
        object.__setattr__(snapshot, "state", {k: typed(v) for k, v in snapshot.state.items()})
        return snapshot


class Snapshotting(Application[UUID]):
    """An application that snapshots the aggregate types in ``snapshot_every`` (type →
    interval in events, see ``snapshot_due``) after each save."""

    is_snapshotting_enabled = True
    snapshot_every: ClassVar[dict[type[Aggregate], int]] = {}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(TypedValueAsDict())

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then snapshot each aggregate whose new events passed a snapshot point.

        The snapshot is of the aggregate as saved, at the version it was saved at: its
        state is what its recorded events made, so it need not be loaded again (as
        eventsourcing's ``snapshotting_intervals`` do, replaying up to an interval of
        events for each snapshot). A snapshot lands at or after its point (a batch
        saved at once passes it), so loading still replays less than the spacing."""
        recordings = super().save(*objs, **kwargs)
        if self.snapshots is None:  # IS_SNAPSHOTTING_ENABLED turned off in the environment
            return recordings
        saved = {
            obj.id: obj
            for obj in objs
            if isinstance(obj, Aggregate) and type(obj) in self.snapshot_every
        }
        due = {
            recording.domain_event.originator_id
            for recording in recordings
            if (aggregate := saved.get(recording.domain_event.originator_id)) is not None
            and snapshot_due(
                recording.domain_event.originator_version, self.snapshot_every[type(aggregate)]
            )
        }
        for aggregate_id in due:
            self._snapshot(saved[aggregate_id])
        return recordings

    def _snapshot(self, aggregate: Aggregate) -> None:
        """Store a snapshot; one that cannot be written is logged (the command's events
        are recorded already, and the aggregate still loads from them)."""
        assert self.snapshots is not None
        try:
            self.snapshots.put([TypedSnapshot.take(aggregate)])
        except IntegrityError:
            pass  # another replica stored this version's snapshot: the same state
        except Exception:
            log.exception("snapshot of %s at version %d not taken", aggregate.id, aggregate.version)

    def take_snapshot(
        self,
        aggregate_id: UUID,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] = project_aggregate,
    ) -> None:
        """Snapshot the aggregate as recorded at ``version`` (the latest by default), as
        a ``TypedSnapshot`` whatever the aggregate's own ``Snapshot`` class."""
        if self.snapshots is None:  # IS_SNAPSHOTTING_ENABLED turned off in the environment
            return
        aggregate = self.repository.get(
            aggregate_id, version=version, projector_func=projector_func
        )
        self.snapshots.put([TypedSnapshot.take(aggregate)])
