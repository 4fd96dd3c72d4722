"""Ingest's document registry: the ``Document`` aggregate and the derived ids. Pure.

A document's id is ``uuid5(collection_id, sha256)``: creating it twice is a version
conflict in the event store, which is how two scanners registering the same content
find out atomically. A document whose file changed or vanished is retired; the same
content seen again later registers the same aggregate anew.

Event names are the contract's; ``DocumentCreated`` (the content's identity, saved
with its first ``DocumentRegistered``) and what the embedders reported about it
(``DocumentEmbedded``, ``DocumentEmbeddingFailed``, ``DocumentRetried``) are ingest's
own bookkeeping and are not published. The ``Scan`` aggregate is in ``scanning``.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


def document_id(collection_id: UUID, sha256: str) -> UUID:
    return uuid5(collection_id, sha256)


def chunk_id(document: UUID, index: int) -> UUID:
    """The point id of a chunk: a redelivered work item overwrites, never duplicates."""
    return uuid5(document, str(index))


def scan_id(operation_id: UUID) -> UUID:
    """The id of an operation's scan: derived from it, never equal to it.

    Event ids are ``<aggregate id>:<version>`` and de-duplicate the events stream, so
    a scan sharing the operation's id would have its ``ScanStarted`` taken for the
    operation's ``OperationRequested`` and dropped.
    """
    return uuid5(operation_id, "scan")


def work_id(operation_id: UUID, document: UUID, generation: int) -> str:
    """The id of one document's embed work, used as ``Nats-Msg-Id``."""
    return f"{operation_id}:{document}:g{generation}"


class ContentAlreadyRegistered(Exception):
    """Registering content that is already current in the collection."""


class Document(Aggregate):
    @event("DocumentCreated")
    def __init__(self, id: UUID, collection_id: UUID, sha256: str) -> None:
        self.collection_id = collection_id
        self.sha256 = sha256
        self.current = False
        self.operation_id: UUID | None = None
        self.source_id: UUID | None = None
        self.path = ""
        self.size = 0
        self.mime = ""
        self.chunk_count = 0
        self.replaces: list[UUID] = []
        self.file = ""
        self.work_done: set[str] = set()
        self.embed_error = ""
        #: The operation that superseded or removed this content (``revert`` undoes it).
        self.retired_by: UUID | None = None

    @classmethod
    def of_content(cls, collection_id: UUID, sha256: str) -> Document:
        return cls(
            id=document_id(collection_id, sha256), collection_id=collection_id, sha256=sha256
        )

    def register(
        self,
        operation_id: UUID,
        source_id: UUID,
        path: str,
        size: int,
        mime: str,
        chunk_count: int,
        replaces: list[UUID],
        file: str = "",
    ) -> None:
        """Register this content at ``path``; ``file`` is the record file a row comes from."""
        if self.current:
            raise ContentAlreadyRegistered(f"{self.id} is registered at {self.path}")
        self._registered(
            collection_id=self.collection_id,
            operation_id=operation_id,
            source_id=source_id,
            path=path,
            sha256=self.sha256,
            size=size,
            mime=mime,
            chunk_count=chunk_count,
            replaces=replaces,
            file=file or path,
        )

    def embedded(self, operation_id: UUID, work_id: str, chunk_count: int) -> bool:
        """The embedder wrote (part of) this registration's chunks; once per work item."""
        if not self.current or operation_id != self.operation_id or work_id in self.work_done:
            return False
        self._embedded(work_id=work_id, chunk_count=chunk_count)
        return True

    def embedding_failed(self, operation_id: UUID, work_id: str, reason: str) -> bool:
        """Its chunks could not be embedded: the previous vectors stay; a scan retries."""
        if not self.current or operation_id != self.operation_id or work_id in self.work_done:
            return False
        self._embedding_failed(collection_id=self.collection_id, work_id=work_id, reason=reason)
        return True

    def revert(self, operation_id: UUID) -> bool:
        """Undo what ``operation_id``, a reindex that stopped, did to this document.

        Its staging generation is dropped, so the generation that serves still holds
        the content as it was before: content the reindex registered is registered no
        longer, content it superseded or retired is current again. The next index then
        sees the files as they are and changes the serving generation to match."""
        if self.current and self.operation_id == operation_id:
            self._reverted(collection_id=self.collection_id, operation_id=operation_id)
            return True
        if not self.current and self.retired_by == operation_id != self.operation_id:
            self._restored(collection_id=self.collection_id, operation_id=operation_id)
            return True
        return False

    def retry(self, operation_id: UUID, chunk_count: int) -> None:
        """Publish the failed embedding again, in ``operation_id``, as ``chunk_count``
        chunks (that scan's chunking: a reindex that stopped may have chunked otherwise)."""
        self._retried(
            collection_id=self.collection_id,
            operation_id=operation_id,
            chunk_count=chunk_count,
            replaces=self.replaces,
        )

    def supersede(self, successor_id: UUID, operation_id: UUID) -> None:
        """The file changed: ``successor_id`` holds its new content."""
        if self.current:
            self._superseded(
                collection_id=self.collection_id,
                document_id=successor_id,
                previous_id=self.id,
                operation_id=operation_id,
                path=self.path,
                chunk_count=self.chunk_count,
            )

    def remove(self, operation_id: UUID) -> None:
        """The file vanished (or now holds content registered elsewhere)."""
        if self.current:
            self._removed(
                collection_id=self.collection_id,
                operation_id=operation_id,
                path=self.path,
                chunk_count=self.chunk_count,
            )

    @event("DocumentRegistered")
    def _registered(
        self,
        collection_id: UUID,
        operation_id: UUID,
        source_id: UUID,
        path: str,
        sha256: str,
        size: int,
        mime: str,
        chunk_count: int,
        replaces: list[UUID],
        file: str = "",
    ) -> None:
        self.current = True
        self.operation_id = operation_id
        self.source_id = source_id
        self.path = path
        self.size = size
        self.mime = mime
        self.chunk_count = chunk_count
        self.replaces = replaces
        self.file = file or path
        self.work_done = set()
        self.embed_error = ""
        self.retired_by = None

    @event("DocumentEmbedded")
    def _embedded(self, work_id: str, chunk_count: int) -> None:
        self.work_done.add(work_id)

    @event("DocumentEmbeddingFailed")
    def _embedding_failed(self, collection_id: UUID, work_id: str, reason: str) -> None:
        self.work_done.add(work_id)
        self.embed_error = reason

    @event("DocumentRetried")
    def _retried(
        self, collection_id: UUID, operation_id: UUID, chunk_count: int, replaces: list[UUID]
    ) -> None:
        self.operation_id = operation_id
        self.chunk_count = chunk_count
        self.work_done = set()
        self.embed_error = ""

    @event("DocumentSuperseded")
    def _superseded(
        self,
        collection_id: UUID,
        document_id: UUID,
        previous_id: UUID,
        operation_id: UUID,
        path: str,
        chunk_count: int,
    ) -> None:
        self.current = False
        self.retired_by = operation_id

    @event("DocumentRemoved")
    def _removed(
        self, collection_id: UUID, operation_id: UUID, path: str, chunk_count: int
    ) -> None:
        self.current = False
        self.retired_by = operation_id

    @event("DocumentReverted")
    def _reverted(self, collection_id: UUID, operation_id: UUID) -> None:
        self.current = False

    @event("DocumentRestored")
    def _restored(self, collection_id: UUID, operation_id: UUID) -> None:
        self.current = True
        self.retired_by = None
