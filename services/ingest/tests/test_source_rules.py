"""Path sources are a grant (SPEC §11): Semantik's own data and hidden files are never
sources whatever the roots say, and a user adds only from the roots granted to them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ingest_service.config import IngestSettings
from ingest_service.extraction.formats import is_supported
from ingest_service.sources.roots import SourceRoots
from semantik_contracts import ErrorCode, SourceKind
from semantik_runtime.errors import CommandError

pytestmark = [pytest.mark.unit]

UPLOAD = "0b6f4c52-3f5e-4a57-9d0e-3c1f6e0c1a11/notes.md"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A data dir with what Semantik writes, models kept elsewhere, and documents in srv."""
    data = tmp_path / "data"
    for path, text in {
        "data/sources/docs/a.md": "# A",
        "data/secrets/ingest.creds": "token",
        "data/eventstore/ingest.sqlite3": "events",
        "data/vectors/shard/segment.txt": "vectors",
        "data/nats/jetstream/meta.json": "{}",
        "data/logs/ingest.log": "log",
        f"data/uploads/{UPLOAD}": "# Someone's upload",
        "models/minilm/README.md": "model card",
        "srv/a/report.md": "# A report",
        "srv/b/plan.md": "# B plan",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert data.is_dir()
    return tmp_path


def wide_open(site: Path) -> SourceRoots:
    """Roots that hold everything (as SEMANTIK_SOURCE_ROOTS=/ would), wired as ingest is."""
    roots = SourceRoots([site], data_dir=site / "data", own=[site / "models"])
    return roots.with_uploads(site / "data" / "uploads")


def refused(
    roots: SourceRoots, path: str | Path, code: ErrorCode, granted: list[str] | None = None
) -> str:
    with pytest.raises(CommandError) as caught:
        roots.resolve(str(path), granted)
    assert caught.value.code is code, caught.value.message
    return caught.value.message


def own_data(roots: SourceRoots, path: str | Path) -> None:
    message = refused(roots, path, ErrorCode.FORBIDDEN)
    assert message == f"{path} is inside Semantik's own data; it cannot be a source"


def hidden(roots: SourceRoots, path: str | Path, granted: list[str] | None = None) -> None:
    assert "hidden" in refused(roots, path, ErrorCode.FORBIDDEN, granted)


def test_the_default_root_is_the_data_dirs_sources_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Composed as the service is, from the settings; the default data dir is hidden
    (``.semantik``) and its ``sources/`` still works."""
    data = tmp_path / ".semantik"
    (data / "sources" / "docs").mkdir(parents=True)
    (data / "sources" / "docs" / "a.md").write_text("# A")
    (data / "secrets").mkdir()
    (tmp_path / "home" / "notes").mkdir(parents=True)
    monkeypatch.delenv("SEMANTIK_SOURCE_ROOTS", raising=False)
    monkeypatch.delenv("SEMANTIK_MODELS_DIR", raising=False)
    monkeypatch.setenv("SEMANTIK_DATA_DIR", str(data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = IngestSettings()
    roots = SourceRoots(settings.source_roots, data_dir=settings.data_dir, own=settings.own_data)
    resolved = roots.resolve(str(data / "sources" / "docs"))
    assert (resolved.path, resolved.kind) == (data / "sources" / "docs", SourceKind.DIRECTORY)
    assert "outside the allowed source roots" in refused(
        roots, tmp_path / "home" / "notes", ErrorCode.INVALID
    )
    assert "outside" in refused(roots, "~/notes", ErrorCode.INVALID)
    assert "outside" in refused(roots, data / "secrets", ErrorCode.INVALID)


@pytest.mark.parametrize(
    "path",
    [
        "data",
        "data/secrets",
        "data/secrets/ingest.creds",
        "data/secrets/not-there-yet",  # refused before anything is told about existence
        "data/eventstore/ingest.sqlite3",
        "data/vectors/shard/segment.txt",
        "data/nats/jetstream",
        "data/logs/ingest.log",
        "models",
        "models/minilm/README.md",
        "data/uploads",
        f"data/uploads/{UPLOAD}",
    ],
)
def test_semantiks_own_data_is_never_a_source_whatever_the_roots(site: Path, path: str) -> None:
    own_data(wide_open(site), site / path)


def test_the_data_dirs_sources_stay_a_source_under_wide_roots(site: Path) -> None:
    assert wide_open(site).resolve(str(site / "data" / "sources" / "docs")).path == (
        site / "data" / "sources" / "docs"
    )
    assert wide_open(site).resolve(str(site / "srv")).kind is SourceKind.DIRECTORY


def test_uploads_kept_outside_the_data_dir_are_refused_as_plain_paths(tmp_path: Path) -> None:
    (tmp_path / "uploads" / "c").mkdir(parents=True)
    (tmp_path / "uploads" / "c" / "x.md").write_text("x")
    roots = SourceRoots([tmp_path], data_dir=tmp_path / "data").with_uploads(tmp_path / "uploads")
    own_data(roots, tmp_path / "uploads" / "c" / "x.md")


def test_dot_dot_cannot_reach_the_data_dir(site: Path) -> None:
    own_data(wide_open(site), f"{site}/srv/a/../../data/secrets/ingest.creds")
    default = SourceRoots([site / "data" / "sources"], data_dir=site / "data")
    path = f"{site}/data/sources/docs/../../secrets/ingest.creds"
    assert "outside the allowed source roots" in refused(default, path, ErrorCode.INVALID)


def test_a_link_in_a_root_to_the_data_dir_is_refused_and_not_walked(site: Path) -> None:
    docs = site / "srv" / "a"
    (docs / "data").symlink_to(site / "data")
    (docs / "creds.md").symlink_to(site / "data" / "secrets" / "ingest.creds")
    (docs / "model").symlink_to(site / "models")
    roots = wide_open(site)
    for link in ("data", "creds.md", "model"):
        own_data(roots, docs / link)
    own_data(roots, docs / "data" / "secrets")
    found = [os.path.relpath(f.path, docs) for f in roots.walk(roots.resolve(str(docs)), any_file)]
    assert found == ["report.md"]


def test_a_walk_above_the_data_dir_leaves_it_out(site: Path) -> None:
    roots = wide_open(site)
    found = [os.path.relpath(f.path, site) for f in roots.walk(roots.resolve(str(site)), any_file)]
    # The data dir is left out whole (its sources/ is a root of its own), the models too.
    assert found == ["srv/a/report.md", "srv/b/plan.md"]


def any_file(path: str) -> bool:
    return True


def test_hidden_files_and_folders_are_never_sources(site: Path) -> None:
    docs = site / "srv" / "a"
    (docs / ".env").write_text("SECRET=1")
    (docs / ".git").mkdir()
    (docs / ".git" / "notes.md").write_text("# notes")
    (docs / ".alias").symlink_to(site / "srv" / "b")  # hidden by its name, not its target
    (docs / "shown").symlink_to(docs / ".git")  # visible by its name, hidden target
    roots = wide_open(site)
    for path in (".env", ".git", ".git/notes.md", ".alias", ".alias/plan.md", "shown"):
        hidden(roots, docs / path)
    hidden(roots, f"{docs}/.git/../report.md")  # the name given counts, not only the real one
    # Hidden names are judged before existence too.
    hidden(roots, docs / ".nothing-here")


def test_a_walk_skips_links_to_hidden_targets(site: Path) -> None:
    docs = site / "srv" / "a"
    (docs / ".git").mkdir()
    (docs / ".git" / "notes.md").write_text("# notes")
    (docs / "shown").symlink_to(docs / ".git")
    (docs / "shown.md").symlink_to(docs / ".git" / "notes.md")
    roots = wide_open(site)
    found = [os.path.relpath(f.path, docs) for f in roots.walk(roots.resolve(str(docs)), any_file)]
    assert found == ["report.md"]


def test_a_root_inside_a_hidden_folder_still_serves(tmp_path: Path) -> None:
    root = tmp_path / ".config" / "docs"
    root.mkdir(parents=True)
    (root / "a.md").write_text("# A")
    roots = SourceRoots([root])
    assert roots.resolve(str(root / "a.md")).kind is SourceKind.FILE
    assert [f.path for f in roots.walk(roots.resolve(str(root)), is_supported)] == [
        str(root / "a.md")
    ]


def test_no_granted_roots_refuse_every_path(site: Path) -> None:
    message = refused(wide_open(site), site / "srv" / "a", ErrorCode.FORBIDDEN, [])
    assert message == (
        "no source roots were granted to you; ask an admin (POST /api/v1/source-roots)"
    )


def test_a_path_outside_the_granted_roots_is_refused(site: Path) -> None:
    roots = wide_open(site)
    granted = [str(site / "srv" / "a")]
    message = refused(roots, site / "srv" / "b" / "plan.md", ErrorCode.FORBIDDEN, granted)
    assert "outside the source roots granted to you" in message
    assert "POST /api/v1/source-roots" in message
    escape = f"{site}/srv/a/../b/plan.md"
    assert "granted" in refused(roots, escape, ErrorCode.FORBIDDEN, granted)
    (site / "srv" / "a" / "to-b").symlink_to(site / "srv" / "b")
    assert "granted" in refused(roots, site / "srv" / "a" / "to-b", ErrorCode.FORBIDDEN, granted)


def test_granted_roots_outside_the_configured_roots_open_nothing(site: Path) -> None:
    roots = SourceRoots([site / "srv" / "a"], data_dir=site / "data")
    granted = [str(site / "srv" / "b"), "relative/dir", "/"]
    for path in (site / "srv" / "b" / "plan.md", site / "srv" / "a" / "report.md"):
        message = refused(roots, path, ErrorCode.FORBIDDEN, granted)
        assert message.startswith("no source roots were granted to you")


def test_a_granted_root_opens_its_paths_and_no_others_rules(site: Path) -> None:
    roots = wide_open(site)
    (site / "srv" / "a" / ".env").write_text("SECRET=1")
    granted = [f"{site}/srv/b/../a", str(site / "data")]  # resolved; the data dir stays shut
    resolved = roots.resolve(str(site / "srv" / "a" / "report.md"), granted)
    assert (resolved.path, resolved.kind) == (site / "srv" / "a" / "report.md", SourceKind.FILE)
    hidden(roots, site / "srv" / "a" / ".env", granted)
    assert "own data" in refused(roots, site / "data" / "secrets", ErrorCode.FORBIDDEN, granted)
    assert "does not exist" in refused(
        roots, site / "srv" / "a" / "x.md", ErrorCode.INVALID, granted
    )


def test_uploads_are_read_as_uploads_alone(site: Path) -> None:
    roots = wide_open(site)
    local = site / "data" / "uploads" / UPLOAD
    for resolved in (
        roots.resolve_upload(str(local)),
        roots.resolve_recorded("upload", str(local)),
    ):
        assert (resolved.path, resolved.kind) == (local, SourceKind.FILE)
    own_data(roots, local)  # a plain path (a source of kind "file") never reaches it
    with pytest.raises(CommandError, match="own data"):
        roots.resolve_recorded("file", str(local))
    for path in (
        f"{site}/data/uploads/{UPLOAD}/../../../secrets/ingest.creds",
        f"{site}/data/uploads",
        f"{site}/srv/a/report.md",
    ):
        with pytest.raises(CommandError, match="not an uploaded file"):
            roots.resolve_upload(path)
