"""``OperationRequested`` describes the sources its operation reads (ingest reads no
source state anywhere else), as they are when it starts; an event stored before the
field existed (schema 1) still loads and publishes, describing none."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from collections_service.application import CollectionsApplication
from collections_service.quota import Quotas
from semantik_contracts import OperationType, SourceKind, commands, events
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import envelope_for

from services.collections.tests.application_case import CollectionsApplicationCase

pytestmark = pytest.mark.integration


def requested(app: CollectionsApplication, operation_id: UUID) -> events.OperationRequested:
    """The operation's ``OperationRequested`` as the relay publishes it."""
    for domain_event in app.events.get(operation_id):
        envelope = envelope_for(domain_event)
        if envelope is not None and isinstance(envelope.event, events.OperationRequested):
            return envelope.event
    raise AssertionError(f"no OperationRequested for {operation_id}")


def described(event: events.OperationRequested) -> list[tuple[str, list[str], bool]]:
    return [(s.path, s.text_columns, s.removed) for s in event.sources]


class TestOperationSources(CollectionsApplicationCase):
    #: Room for a staging copy (the case's 1 KiB limit refuses a reindex).
    quotas = Quotas(max_collections_per_user=3)

    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", None, tmp_path)

    def table(self, app: CollectionsApplication, view: Any, path: str) -> Any:
        cmd = commands.AddSource(
            actor="u1", collection_id=view.id, path=path, text_columns=["a"], id_column="id"
        )
        return app.add_source(cmd, path, "file")

    def test_each_operation_describes_its_sources_as_they_are_when_it_starts(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        first = self.table(app, view, "/t.csv")
        event = requested(app, first.operation.id)
        [source] = event.sources
        assert (source.source_id, source.kind, source.id_column) == (
            first.source.id,
            SourceKind.FILE,
            "id",
        )
        assert described(event) == [("/t.csv", ["a"], False)]
        self.finish(app, view, first.operation.id)
        folder = self.add_source(app, view.id, "/d")
        self.finish(app, view, folder.operation.id)

        # New columns: the operation (a staged reindex of every source) carries them.
        changed = app.change_source_columns(
            commands.ChangeSourceColumns(
                actor="u1", collection_id=view.id, source_id=first.source.id, text_columns=["b"]
            )
        )
        assert sorted(described(requested(app, changed.operation.id))) == [
            ("/d", [], False),
            ("/t.csv", ["b"], False),
        ]
        app.cancel_operation(
            commands.CancelOperation(actor="u1", operation_id=changed.operation.id)
        )  # a reindex ends by its validation; cancelled here, the old generation serves

        # An index of the collection: every source.
        index = app.start_operation(
            commands.StartOperation(
                actor="u1", collection_id=view.id, operation_type=OperationType.INDEX
            )
        )
        assert {path for path, _, _ in described(requested(app, index.id))} == {"/t.csv", "/d"}

        # A removal queued behind the index: described when it starts, with the other
        # source (it may hold content the removed one held).
        removal = app.remove_source(
            commands.RemoveSource(actor="u1", collection_id=view.id, source_id=first.source.id)
        )
        assert removal.operation.queue_position == 1
        self.finish(app, view, index.id)
        event = requested(app, removal.operation.id)
        assert event.source_ids == [first.source.id]
        assert described(event) == [("/t.csv", ["b"], True), ("/d", [], False)]

    def test_an_event_stored_before_sources_existed_loads_describing_none(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        # Rewrite the stored creation event as schema 1 wrote it: no ``sources``, no
        # class_version; the application reads it back through a fresh mapper.
        recorder = app.recorder
        [stored] = [e for e in recorder.select_events(op_id) if e.originator_version == 1]
        state = app.mapper.transcoder.decode(stored.state)
        del state["sources"]
        del state["class_version"]
        old = stored.__class__(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=app.mapper.transcoder.encode(state),
        )
        loaded = app.mapper.to_domain_event(old)
        assert loaded.sources == []  # type: ignore[attr-defined]
        envelope = envelope_for(loaded)
        assert envelope is not None and isinstance(envelope.event, events.OperationRequested)
        assert envelope.event.sources == [] and envelope.event.source_ids
