"""Retrying a collection's failed documents (seed 002 US2): the command to the
collections service (``semantik.cmd.collections.RetryFailed``)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .commands import Actor

#: The most document ids one retry names.
MAX_RETRY_DOCUMENTS = 500


class RetryFailed(Actor):
    """One ``index`` operation over the sources holding the failed documents: ingest
    re-scans them incrementally, so what is unchanged is skipped and what failed is
    processed again. ``document_ids`` are kept in the operation's params (``retry``)."""

    collection_id: UUID
    source_ids: list[UUID] = Field(min_length=1, max_length=1000)
    document_ids: list[UUID] = Field(default_factory=list, max_length=MAX_RETRY_DOCUMENTS)
