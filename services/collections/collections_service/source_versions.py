"""An uploaded file's next version (SPEC §12): the same source, embedded staged.

The gateway stores the new file under the name the collection has; ``AddSource`` with
``as_version`` lands here when that name is already a source. The version is recorded
(``SourceVersionAdded``) and the source is embedded again by ``staged_reembed``: search
keeps the previous version's rows until the new ones are all written, then switches in
one event; a failure or a cancel leaves the previous rows serving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from semantik_contracts import commands
from semantik_contracts.views import SourceAndOperation

from .column_sets import staged_reembed
from .domain import Collection, Source
from .operation_queue import queue_position
from .projections import operation_view, source_view

if TYPE_CHECKING:
    from .application import CollectionsApplication


def add_version(
    app: CollectionsApplication, cmd: commands.AddSource, source: Source, collection: Collection
) -> SourceAndOperation:
    """The source's next version, of ``cmd.upload_size`` bytes, and its operation."""
    app.quotas.check_room(collection.name, collection.size_bytes)
    version = source.add_version(cmd.upload_size or 0)
    operation = staged_reembed(app, collection, cmd.actor, [source], {"version": version})
    app.commit(collection, source, operation)
    view = operation_view(operation, queue_position(collection, operation.id))
    return SourceAndOperation(source=source_view(source), operation=view)
