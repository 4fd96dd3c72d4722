"""The ingest service against a real NATS JetStream and its SQLite event store: ValidateSource over
the bus, and the paths a scan must not read."""

from __future__ import annotations

from pathlib import Path

import pytest
from semantik_contracts import ErrorCode, RpcFailure, SourceKind
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_contracts.subjects import INGEST, command_subject

from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import ALPHA, BRAVO

pytestmark = pytest.mark.integration


async def test_validate_source_answers_over_the_bus(harness: Harness) -> None:
    h = harness
    (h.root / "docs").mkdir()
    (h.root / "docs" / "x.exe").write_bytes(b"MZ")
    await h.start()
    subject = command_subject(INGEST, "ValidateSource")
    ok = await h.bus.request(
        subject, ValidateSource(path=f"{h.root}/docs/../docs"), ValidatedSource
    )
    assert ok == ValidatedSource(path=str((h.root / "docs").resolve()), kind=SourceKind.DIRECTORY)
    for path, expected in [
        (f"{h.root}/../../etc", "outside the allowed source roots"),
        (f"{h.root}/missing", "does not exist"),
        (f"{h.root}/docs/x.exe", "unsupported file type .exe"),
    ]:
        with pytest.raises(RpcFailure) as caught:
            await h.bus.request(subject, ValidateSource(path=path), ValidatedSource)
        assert caught.value.error.code is ErrorCode.INVALID
        assert expected in caught.value.error.message


async def test_validate_source_answers_a_record_files_columns(harness: Harness) -> None:
    """What the web UI offers to choose from before a table is added: its usable columns,
    without the blank and repeated headers a scan would skip."""
    h = harness
    (h.root / "tables").mkdir()
    (h.root / "tables" / "tickets.csv").write_text("ticket_id,title,,body,title\n1,a,,b,c\n")
    (h.root / "tables" / "rows.jsonl").write_text('{"id": 1, "text": "x"}\n')
    await h.start()
    subject = command_subject(INGEST, "ValidateSource")
    csv = await h.bus.request(
        subject, ValidateSource(path=f"{h.root}/tables/tickets.csv"), ValidatedSource
    )
    assert (csv.kind, csv.columns) == (SourceKind.FILE, ["ticket_id", "title", "body"])
    jsonl = await h.bus.request(
        subject, ValidateSource(path=f"{h.root}/tables/rows.jsonl"), ValidatedSource
    )
    assert jsonl.columns == ["id", "text"]
    folder = await h.bus.request(subject, ValidateSource(path=f"{h.root}/tables"), ValidatedSource)
    assert (folder.kind, folder.columns) == (SourceKind.DIRECTORY, [])


async def test_validate_source_keeps_semantiks_data_hidden_files_and_ungranted_roots_shut(
    harness: Harness, tmp_path: Path
) -> None:
    """SPEC §11 over the bus, with roots wide enough to hold the data dir (as
    SEMANTIK_SOURCE_ROOTS=/ would): FORBIDDEN, and nothing told about what exists there."""
    h = harness
    h.root = tmp_path
    shared = tmp_path / "sources"
    for path in ("a/report.md", "a/.env", "b/plan.md"):
        (shared / path).parent.mkdir(parents=True, exist_ok=True)
        (shared / path).write_text("# text\n")
    await h.start()
    name = f"{h.collection_id}/notes.md"
    await (await h.bus.upload_store()).put(name, b"# Notes\n")
    subject = command_subject(INGEST, "ValidateSource")

    async def refused(path: str, roots: list[str] | None = None) -> str:
        with pytest.raises(RpcFailure) as caught:
            await h.bus.request(subject, ValidateSource(path=path, roots=roots), ValidatedSource)
        assert caught.value.error.code is ErrorCode.FORBIDDEN, caught.value.error.message
        return caught.value.error.message

    granted = [str(shared / "a")]
    for path, roots, expected in [
        (f"{h.data_dir}/eventstore/ingest.sqlite3", None, "Semantik's own data"),
        (f"{shared}/../data", None, "Semantik's own data"),
        (f"{h.data_dir}/secrets/nats.creds", None, "Semantik's own data"),  # not there
        (f"{shared}/a/.env", None, "hidden"),
        (f"{shared}/a/report.md", [], "no source roots were granted to you"),
        (f"{shared}/b/plan.md", granted, "outside the source roots granted to you"),
        (f"{shared}/a/report.md", [str(tmp_path.parent)], "no source roots were granted"),
    ]:
        assert expected in await refused(path, roots)
    ok = await h.bus.request(
        subject, ValidateSource(path=f"{shared}/a/report.md", roots=granted), ValidatedSource
    )
    assert (ok.path, ok.kind) == (str((shared / "a" / "report.md").resolve()), SourceKind.FILE)
    # An upload is not subject to the granted roots; its copy is no plain path.
    upload = await h.bus.request(
        subject, ValidateSource(path=f"upload://{name}", roots=[]), ValidatedSource
    )
    assert (upload.path, upload.kind) == (
        str(h.data_dir.resolve() / "uploads" / name),
        SourceKind.UPLOAD,
    )
    assert "Semantik's own data" in await refused(upload.path)


async def test_scans_read_uploads_as_uploads_and_skip_links_into_the_data_dir(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    h.root = tmp_path
    docs = tmp_path / "sources" / "docs"
    docs.mkdir(parents=True)
    (docs / "a.md").write_bytes(ALPHA)
    (docs / "data").symlink_to(h.data_dir)
    (h.data_dir / "secrets").mkdir(parents=True)
    (h.data_dir / "secrets" / "token.md").write_text("# A secret\n")
    (docs / "token.md").symlink_to(h.data_dir / "secrets" / "token.md")
    await h.start()
    name = f"{h.collection_id}/notes.md"
    await (await h.bus.upload_store()).put(name, BRAVO.encode())
    local = h.data_dir.resolve() / "uploads" / name
    folder = await h.add_source(docs)
    uploaded = await h.add_source(local, SourceKind.UPLOAD)  # its copy is fetched
    # A plain source naming an upload's copy (recorded before uploads were shut) fails.
    plain = await h.add_source(local, SourceKind.FILE)
    events = await h.scan_events(await h.request([folder, uploaded, plain]))
    registered = sorted(e.event.path for e in events if e.type == "DocumentRegistered")
    assert registered == sorted([str(docs / "a.md"), str(local)])
    failed = [e.event for e in events if e.type == "DocumentFailed"]
    assert [(f.path, "Semantik's own data" in f.reason) for f in failed] == [(str(local), True)]
