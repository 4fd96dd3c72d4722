"""A document's original file, for ``GET …/documents/{document_id}/content``: access by
the collections service (``ListSources`` checks that the caller may read the
collection, and names its live sources), the file by ingest, a piece at a time
(``semantik_contracts.content``).

The first piece is asked before the response starts, so a refusal is a 4xx with its
message and nothing is streamed. The rest follow one piece ahead of what the HTTP
client has taken: at most two pieces (1 MiB) of a download are held here, whatever the
file's size, and a client that reads slowly slows ingest's reads down with it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote
from uuid import UUID

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from semantik_contracts import ErrorCode, RpcError, RpcFailure
from semantik_contracts.commands import ListSources
from semantik_contracts.content import (
    SEPARATOR,
    ContentPiece,
    ContentSource,
    ReadDocumentContent,
)
from semantik_contracts.rpc import Reply
from semantik_contracts.subjects import INGEST, command_subject
from semantik_contracts.views import SourceList

from .backend import Backend
from .principals import Principal

log = logging.getLogger(__name__)

SUBJECT = command_subject(INGEST, "ReadDocumentContent")
#: What a name keeps in the plain ``filename=`` of Content-Disposition (RFC 6266's
#: fallback for old clients): printable ASCII but quotes, backslashes and separators.
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 !#$&+,\-.=@^_`{}~()\[\]]")


@dataclass(frozen=True)
class Content:
    """The first piece (what the file is) and every piece's bytes, the first's included."""

    first: ContentPiece
    pieces: AsyncIterator[bytes]

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Length": str(self.first.file.size),
            "Content-Disposition": content_disposition(self.first.name),
            "X-Content-Type-Options": "nosniff",
            # Opened in a browser tab anyway, an HTML file runs nothing and loads nothing.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        }
        if self.first.stale is not None:
            headers["X-Semantik-Stale"] = "true" if self.first.stale else "false"
        return headers

    @property
    def media_type(self) -> str:
        return self.first.mime or "application/octet-stream"


def content_disposition(name: str) -> str:
    """``attachment`` with the name twice: an ASCII fallback (``filename``, quoted, with
    whatever could break the header or name a path replaced) and the exact name in UTF-8
    (``filename*``, RFC 5987: every byte outside attr-char percent-encoded)."""
    name = name.rsplit("/", 1)[-1]  # a bare name, never a path
    fallback = _UNSAFE_ASCII.sub("_", name).strip(" .") or "download"
    exact = quote(name, safe="!#$&+-.^_`|~") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


async def open_content(
    backend: Backend, user: Principal, collection_id: UUID, document_id: UUID
) -> Content:
    """The document's file, if ``user`` may read the collection (else ``RpcFailure`` or
    ``CommandError`` says why, before anything is sent)."""
    user.check_collections([collection_id])
    live = await backend.ask(ListSources(**user.acting, collection_id=collection_id), SourceList)
    request = ReadDocumentContent(
        collection_id=collection_id,
        document_id=document_id,
        sources=[ContentSource(id=s.id, kind=s.kind, path=s.path) for s in live.items],
    )
    first, data = await read_piece(backend, request)
    # The later pieces name the document's source alone, and the file as first found.
    source = [s for s in request.sources if s.id == first.source_id]
    rest = request.model_copy(update={"sources": source, "expect": first.file})
    return Content(first, _pieces(backend, rest, first, data))


async def _pieces(
    backend: Backend, request: ReadDocumentContent, first: ContentPiece, data: bytes
) -> AsyncIterator[bytes]:
    offset, eof = first.length, first.eof
    ahead = None if eof else _ask(backend, request, offset)
    try:
        yield data
        while ahead is not None:
            piece, data = await ahead
            if piece.length == 0 and not piece.eof:
                raise RpcFailure(RpcError(code=ErrorCode.CONFLICT, message="the file ended early"))
            offset += piece.length
            ahead = None if piece.eof else _ask(backend, request, offset)
            yield data
    except RpcFailure as exc:
        # The status is sent already: the response ends short of its Content-Length.
        log.warning("download of document %s ended: %s", request.document_id, exc.error.message)
        raise
    finally:
        if ahead is not None:
            ahead.cancel()


def _ask(
    backend: Backend, request: ReadDocumentContent, offset: int
) -> asyncio.Task[tuple[ContentPiece, bytes]]:
    return asyncio.ensure_future(read_piece(backend, request.model_copy(update={"offset": offset})))


async def read_piece(backend: Backend, request: ReadDocumentContent) -> tuple[ContentPiece, bytes]:
    """One piece: what ingest says of it, and its bytes (``RpcFailure`` if refused)."""
    try:
        msg = await backend.bus.nc.request(
            SUBJECT, request.model_dump_json().encode(), timeout=backend.timeout
        )
    except NoRespondersError as exc:
        raise RpcFailure(
            RpcError(code=ErrorCode.UNAVAILABLE, message=f"no service answers {SUBJECT}")
        ) from exc
    except (NatsTimeoutError, TimeoutError) as exc:
        raise RpcFailure(
            RpcError(code=ErrorCode.TIMEOUT, message=f"{SUBJECT} did not answer in time")
        ) from exc
    head, _, data = msg.data.partition(SEPARATOR)
    reply = Reply[ContentPiece].model_validate_json(head)
    if reply.error is not None:
        raise RpcFailure(reply.error)
    if reply.result is None or reply.result.length != len(data):
        raise RpcFailure(RpcError(code=ErrorCode.INTERNAL, message=f"{SUBJECT}: a bad reply"))
    return reply.result, data
