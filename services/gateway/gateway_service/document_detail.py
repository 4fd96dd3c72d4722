"""One document with its text and chunk boundaries (SPEC §6), for the REST route and
the MCP ``get_document`` tool alike.

The collections service checks access (404 unknown, 403 not the caller's), ingest knows
the document (path, size, status, chunk count), and the search service reads its chunks
from the active generation, a page at a time. The text is the chunks put back together:
where a chunk repeats the end of the one before (the chunker's overlap), the repeated
part is kept once; chunks that do not overlap are joined by a line break, since the
white space between them is not stored. A document of more than ``MAX_CHUNKS`` chunks
answers its first pages only (``truncated``).
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from semantik_contracts import ErrorCode
from semantik_contracts.commands import GetCollection, ListDocuments, ListSources
from semantik_contracts.documents import (
    ChunkSpan,
    DocumentChunks,
    DocumentDetail,
    ReadDocumentChunks,
    StoredChunk,
)
from semantik_contracts.subjects import DOCUMENT_CHUNKS_RPC
from semantik_contracts.views import CollectionView, DocumentView, Page, SourceList
from semantik_runtime.errors import CommandError

from .backend import Backend
from .principals import Principal

#: Chunks per page asked of the search service, and at most per document.
PAGE = 200
MAX_CHUNKS = 5000
#: Characters a chunk must repeat to overlap the one before; a repeat shorter than
#: ``_SURE_OVERLAP`` counts only where it starts a word.
_LEAD = 8
_SURE_OVERLAP = 32
#: The end of the text kept to find overlaps in (longer than any chunk).
_TAIL = 1 << 16
#: The route whose scopes a document needs (a key's ``read``).
DOCUMENT_ROUTE = "/api/v2/collections/{collection_id}/documents/{document_id}"
#: What a record's chunk payload carries about its row.
_RECORD_KEYS = ("columns", "record_id", "row", "file")


async def read_document(
    backend: Backend, user: Principal, collection_id: UUID, document_id: UUID
) -> DocumentDetail:
    """The document, if ``user`` may read the collection (a ``CommandError`` or an
    ``RpcFailure`` says why not)."""
    user.check_collections([collection_id])
    view, sources = await asyncio.gather(
        backend.ask(GetCollection(**user.acting, collection_id=collection_id), CollectionView),
        backend.ask(ListSources(**user.acting, collection_id=collection_id), SourceList),
    )
    query = ListDocuments(
        collection_id=collection_id,
        source_ids=[source.id for source in sources.items],
        document_id=document_id,
        limit=1,
    )
    found = await backend.ask_ingest(query, Page[DocumentView])
    if not found.items:
        raise CommandError(
            ErrorCode.NOT_FOUND, f"document {document_id} not found in collection {collection_id}"
        )
    document = found.items[0]
    chunks, payload, truncated = await _read_chunks(backend, view, document_id)
    text, spans = assemble(chunks)
    metadata = {key: payload[key] for key in _RECORD_KEYS if key in payload}
    return DocumentDetail(
        id=document_id,
        collection_id=collection_id,
        source_id=document.source_id,
        path=document.path,
        file_type=str(payload.get("file_type", "")),
        mime=document.mime,
        size=document.size,
        status=document.status,
        chunk_count=document.chunk_count,
        text=text,
        chunks=spans,
        truncated=truncated,
        metadata=metadata,
    )


async def _read_chunks(
    backend: Backend, view: CollectionView, document_id: UUID
) -> tuple[list[StoredChunk], dict[str, object], bool]:
    """The document's chunks in the active generation, by index; its payload; whether
    it had more than ``MAX_CHUNKS``."""
    if view.active_generation is None:
        return [], {}, False
    chunks: list[StoredChunk] = []
    payload: dict[str, object] = {}
    after: UUID | None = None
    while True:
        request = ReadDocumentChunks(
            collection_id=view.id,
            generation=view.active_generation,
            document_id=document_id,
            limit=min(PAGE, MAX_CHUNKS - len(chunks)),
            after=after,
        )
        page = await backend.bus.request(
            DOCUMENT_CHUNKS_RPC, request, DocumentChunks, timeout=backend.timeout
        )
        chunks.extend(page.chunks)
        payload = payload or page.payload
        after = page.next
        if after is None or len(chunks) >= MAX_CHUNKS:
            break
    chunks.sort(key=lambda chunk: chunk.index)
    return chunks, payload, after is not None


def assemble(chunks: list[StoredChunk]) -> tuple[str, list[ChunkSpan]]:
    """The text the chunks (in index order) came from, and where each lies in it."""
    parts: list[str] = []
    spans: list[ChunkSpan] = []
    length = 0
    tail = ""  # the end of the text so far, as long as a chunk may overlap it
    for chunk in chunks:
        overlap = _overlap(tail, chunk.text) if spans else 0
        if spans and not overlap:
            parts.append("\n")
            length += 1
        start = length - overlap
        parts.append(chunk.text[overlap:])
        length += len(chunk.text) - overlap
        spans.append(ChunkSpan(index=chunk.index, start=start, end=start + len(chunk.text)))
        tail = (tail + chunk.text[overlap:])[-_TAIL:]
    return "".join(parts), spans


def _overlap(text: str, chunk: str) -> int:
    """The length of the longest end of ``text`` that ``chunk`` starts with, where that
    end starts a word or is long enough not to be chance; 0 if there is none."""
    lead = chunk[:_LEAD]
    if len(lead) < _LEAD:
        return 0  # too short to tell an overlap from chance
    position = text.find(lead, max(0, len(text) - len(chunk) + 1))
    while position != -1:
        repeated = len(text) - position
        at_word = position == 0 or not text[position - 1].isalnum()
        if chunk.startswith(text[position:]) and (at_word or repeated >= _SURE_OVERLAP):
            return repeated
        position = text.find(lead, position + 1)
    return 0
