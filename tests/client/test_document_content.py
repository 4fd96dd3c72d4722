"""A document's original file (``GET …/documents/{document_id}/content``) and the
client's ``download``, on the client suite's ``semantik run``: a multi-MiB file byte for
byte, names that could break the header, a file changed, deleted, replaced by a folder
or by a link out of its source after indexing, uploads and a record's table file, and
who may read it (another user, API keys by scope and collection, malformed ids)."""

from __future__ import annotations

import base64
import os
import random
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from uuid import UUID, uuid4

import httpx
import pytest
from semantik_contracts.content import (
    PIECE_BYTES,
    SEPARATOR,
    ContentPiece,
    ContentSource,
    ReadDocumentContent,
)
from semantik_contracts.rpc import Reply
from semantik_contracts.subjects import INGEST, command_subject

from semantik.client import ForbiddenError, NotFoundError, SemantikClient
from tests.e2e.conftest import RunningSystem
from tests.reliability.faults import system_nats

from .conftest import SignedIn, write_notes

pytestmark = pytest.mark.e2e

#: Quotes, a line break, a semicolon, a backslash and non-ASCII: none may break the header.
ODD_NAME = 'Plan "Q3";\nrésumé\\ 東京.md'
SUBJECT = command_subject(INGEST, "ReadDocumentContent")
SWAPPED = ("changed.md", "gone.md", "folder.md", "linked.md", "secret.md")


def big_html(noise_bytes: int = 4_500_000) -> bytes:
    """A large file (4/3 of ``noise_bytes``) that indexes as one short paragraph: a
    script is not text."""
    noise = base64.b64encode(random.Random(26).randbytes(noise_bytes)).decode()
    return f"<html><p>Lantern maps.</p><script>var x='{noise}';</script></html>".encode()


async def _documents(client: SemantikClient, collection_id: UUID) -> dict[str, str]:
    page = await client.list_documents(collection_id, limit=100)
    return {Path(d.path).name: str(d.id) for d in page.items if d.id is not None}


def _get(client: SemantikClient, url: str, key: str | None = None) -> httpx.Request:
    return client.http.build_request("GET", url, headers={"Authorization": f"Bearer {key}"})


async def _fetch(client: SemantikClient, url: str, key: str | None = None) -> httpx.Response:
    return await client.http.send(_get(client, url, key or client.token))


def _refused(reply: httpx.Response, status: int, words: str) -> None:
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"] == "application/json"
    assert words in reply.json()["detail"], reply.text[:300]


async def test_a_path_sources_file_is_streamed_whole_and_refused_once_unsafe(
    system: RunningSystem, signed_in: SignedIn, tmp_path: Path
) -> None:
    root = system.sources / "fiona"
    folder = write_notes(root / "docs", {name: f"{name} about lanterns." for name in SWAPPED})
    (folder / "big.html").write_bytes(big := big_html())
    (folder / ODD_NAME).write_text("Odd names are kept.")
    (root / "outside.md").write_text("Not part of the source.")
    async with signed_in("fiona") as client, signed_in("gus") as stranger:
        notes = await client.create_collection("fiona-docs")
        added = await client.add_source(notes.id, folder)
        assert (await client.wait(added.operation.id, timeout=120)).status == "completed"
        ids = await _documents(client, notes.id)
        base = f"/api/v2/collections/{notes.id}/documents"

        # Several pieces, streamed and equal; the headers a browser needs.
        reply = await _fetch(client, f"{base}/{ids['big.html']}/content")
        assert reply.status_code == 200 and reply.content == big
        assert reply.headers["content-type"] == "text/html"
        assert reply.headers["content-length"] == str(len(big))
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["content-disposition"] == (
            "attachment; filename=\"big.html\"; filename*=UTF-8''big.html"
        )
        assert reply.headers["x-semantik-stale"] == "false"
        written = await client.download(notes.id, ids["big.html"], tmp_path / "copy.html")
        assert written == tmp_path / "copy.html" and written.read_bytes() == big
        assert os.listdir(tmp_path) == ["copy.html"]  # no partial left

        # An odd name: one header line, an ASCII fallback, the exact name in filename*.
        reply = await _fetch(client, f"{base}/{ids[ODD_NAME]}/content")
        disposition = reply.headers["content-disposition"]
        fallback, exact = disposition.split("; filename*=UTF-8''")
        assert fallback == 'attachment; filename="Plan _Q3___r_sum__ __.md"'
        assert unquote(exact) == ODD_NAME and all(c not in exact for c in '"\n;\\ ')
        into = tmp_path / "folder"
        into.mkdir()
        written = await client.download(notes.id, ids[ODD_NAME], into)
        assert written == into / ODD_NAME and written.read_text() == "Odd names are kept."

        # What happened to the files since indexing.
        (folder / "changed.md").write_text("Rewritten since.")
        (folder / "gone.md").unlink()
        (folder / "folder.md").unlink()
        (folder / "folder.md").mkdir()
        (folder / "linked.md").unlink()
        (folder / "linked.md").symlink_to(root / "outside.md")
        (folder / "secret.md").unlink()
        (folder / "secret.md").symlink_to(system.data_dir / "secrets" / "cli_credentials.json")
        reply = await _fetch(client, f"{base}/{ids['changed.md']}/content")
        assert reply.content == b"Rewritten since." and reply.headers["x-semantik-stale"] == "true"
        _refused(await _fetch(client, f"{base}/{ids['gone.md']}/content"), 404, "no longer there")
        _refused(await _fetch(client, f"{base}/{ids['folder.md']}/content"), 404, "a directory")
        reply = await _fetch(client, f"{base}/{ids['linked.md']}/content")
        _refused(reply, 403, "outside its source")
        reply = await _fetch(client, f"{base}/{ids['secret.md']}/content")
        _refused(reply, 403, "may not be read now")
        with pytest.raises(NotFoundError, match="no longer there"):
            await client.download(notes.id, ids["gone.md"], tmp_path / "gone.md")
        assert not (tmp_path / "gone.md").exists()

        # Ids: unknown, malformed, another user's; API keys by scope and collection.
        _refused(await _fetch(client, f"{base}/{uuid4()}/content"), 404, "not found")
        reply = await _fetch(client, f"{base}/not-an-id/content")
        assert reply.status_code == 422 and "UUID" in reply.text
        reply = await _fetch(client, f"/api/v2/collections/x/documents/{ids['big.html']}/content")
        assert reply.status_code == 422
        _refused(await _fetch(stranger, f"{base}/{ids['changed.md']}/content"), 403, "")
        with pytest.raises(ForbiddenError):
            await stranger.download(notes.id, ids["changed.md"], tmp_path)
        url = f"{base}/{ids['changed.md']}/content"
        other = await client.create_collection("fiona-other")
        keys = {
            scopes: (await client.create_api_key("k", scopes.split(), collection_ids=c)).key
            for scopes, c in (("read", None), ("search", None), ("write", [other.id]))
        }
        assert (await _fetch(client, url, keys["read"])).content == b"Rewritten since."
        _refused(await _fetch(client, url, keys["search"]), 403, "scope")
        _refused(await _fetch(client, url, keys["write"]), 403, "not allowed collection")


async def test_uploads_and_a_records_table_file_are_streamed(
    signed_in: SignedIn, tmp_path: Path
) -> None:
    rows = b"ticket_id,title\nT-1,Login fails\nT-2,Search is slow\n"
    note = b"Uploaded notes about lighthouses.\n" * 40
    async with signed_in("hana") as client:
        uploads = await client.create_collection("hana-uploads")
        first = await client.upload(uploads.id, note, filename="notes.txt")
        assert (await client.wait(first.operation.id, timeout=120)).status == "completed"
        table = await client.upload(
            uploads.id, rows, filename="tickets.csv", text_columns=["title"], id_column="ticket_id"
        )
        assert (await client.wait(table.operation.id, timeout=120)).status == "completed"
        page = await client.list_documents(uploads.id, limit=10)
        by_path = {d.path: d for d in page.items}
        notes = next(d for p, d in by_path.items() if p.endswith("notes.txt"))
        row = next(d for p, d in by_path.items() if "#" in p)
        base = f"/api/v2/collections/{uploads.id}/documents"

        reply = await _fetch(client, f"{base}/{notes.id}/content")
        assert reply.content == note and reply.headers["content-type"] == "text/plain"
        assert "filename*=UTF-8''notes.txt" in reply.headers["content-disposition"]
        # A row is served as its table file; whether that changed cannot be told by a row.
        reply = await _fetch(client, f"{base}/{row.id}/content")
        assert reply.content == rows and "x-semantik-stale" not in reply.headers
        assert reply.headers["content-type"] == "text/csv"

        # Ingest's copy of an upload is a cache: gone, it is fetched from the object store.
        os.unlink(notes.path)
        assert notes.id is not None
        written = await client.download(uploads.id, notes.id, tmp_path / "again.txt")
        assert written.read_bytes() == note and os.stat(notes.path).st_size == len(note)


async def test_pieces_are_bounded_and_a_file_changed_mid_download_is_refused(
    system: RunningSystem, signed_in: SignedIn
) -> None:
    """Ingest's side, asked as the gateway asks it: pieces of at most PIECE_BYTES, the
    same file from the first to the last, and only through the document's own source."""
    folder = system.sources / "ivan"
    folder.mkdir()
    (folder / "map.html").write_bytes(body := big_html(1_000_000))  # 3 pieces
    async with signed_in("ivan") as client:
        maps = await client.create_collection("ivan-maps")
        added = await client.add_source(maps.id, folder)
        assert (await client.wait(added.operation.id, timeout=120)).status == "completed"
        [document] = (await client.list_documents(maps.id)).items
        assert document.id is not None
        sources = [
            ContentSource(id=s.id, kind=s.kind, path=s.path)
            for s in await client.list_sources(maps.id)
        ]
    nc = await system_nats(system, "gateway")
    try:

        async def piece(**fields: Any) -> tuple[Reply[ContentPiece], bytes]:
            asked = {"collection_id": maps.id, "document_id": document.id, "sources": sources}
            request = ReadDocumentContent.model_validate({**asked, **fields})
            msg = await nc.request(SUBJECT, request.model_dump_json().encode(), timeout=30)
            head, _, data = msg.data.partition(SEPARATOR)
            return Reply[ContentPiece].model_validate_json(head), data

        first, data = await piece()
        assert first.result is not None and len(data) == PIECE_BYTES and not first.result.eof
        assert data == body[:PIECE_BYTES] and first.result.stale is False
        second, data = await piece(offset=PIECE_BYTES, expect=first.result.file)
        assert second.result is not None and data == body[PIECE_BYTES : 2 * PIECE_BYTES]
        assert second.result.stale is None  # told on the first piece only
        (folder / "map.html").write_bytes(body + b"<p>More.</p>")
        third, data = await piece(offset=2 * PIECE_BYTES, expect=first.result.file)
        assert third.error is not None and third.error.code == "conflict" and data == b""
        assert "changed while it was being sent" in third.error.message
        other = ContentSource(id=uuid4(), kind=sources[0].kind, path=str(folder))
        unknown, _ = await piece(sources=[other])
        assert unknown.error is not None and unknown.error.code == "not_found"
    finally:
        await nc.close()
