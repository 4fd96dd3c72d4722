"""Path sources: only paths inside the roots, and a walk that cannot be led astray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ingest_service.extraction.formats import is_supported
from ingest_service.sources.roots import SourceRoots
from semantik_contracts import ErrorCode, SourceKind
from semantik_runtime.errors import CommandError

pytestmark = [pytest.mark.unit, pytest.mark.reliability]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "sources"
    (base / "docs" / "sub").mkdir(parents=True)
    (base / "docs" / "a.md").write_text("# A")
    (base / "docs" / "sub" / "b.txt").write_text("b")
    return base


def rejected(roots: SourceRoots, path: str | Path) -> str:
    with pytest.raises(CommandError) as caught:
        roots.resolve(str(path))
    assert caught.value.code is ErrorCode.INVALID
    return caught.value.message


def test_paths_inside_a_root_resolve_to_their_real_path_and_kind(root: Path) -> None:
    roots = SourceRoots([root])
    assert roots.resolve(str(root / "docs")).kind is SourceKind.DIRECTORY
    resolved = roots.resolve(str(root / "docs" / "sub" / ".." / "a.md"))
    assert resolved.path == root.resolve() / "docs" / "a.md"
    assert resolved.kind is SourceKind.FILE
    assert roots.resolve(str(root)).path == root.resolve()


def test_dot_dot_cannot_escape_the_roots(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s")
    message = rejected(SourceRoots([root]), f"{root}/docs/../../secret.txt")
    assert "outside the allowed source roots" in message


def test_a_symlink_leaving_the_roots_is_rejected(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "docs" / "escape").symlink_to(outside)
    assert "outside" in rejected(SourceRoots([root]), root / "docs" / "escape")


def test_a_symlink_within_the_roots_is_followed(root: Path) -> None:
    (root / "alias").symlink_to(root / "docs" / "sub")
    assert SourceRoots([root]).resolve(str(root / "alias")).path == root.resolve() / "docs" / "sub"


def test_missing_relative_and_nul_paths_are_rejected(root: Path) -> None:
    roots = SourceRoots([root])
    assert "does not exist" in rejected(roots, root / "nope")
    assert "not an absolute path" in rejected(roots, "docs/a.md")
    assert "NUL" in rejected(roots, f"{root}/a\x00b")


def test_outside_paths_are_rejected_before_existence_is_told(root: Path) -> None:
    assert "outside" in rejected(SourceRoots([root]), "/definitely/not/here")


def test_device_files_and_fifos_are_rejected(root: Path) -> None:
    os.mkfifo(root / "pipe.txt")
    roots = SourceRoots([root, Path("/dev")])
    assert "not a regular file or directory" in rejected(roots, root / "pipe.txt")
    assert "not a regular file or directory" in rejected(roots, "/dev/null")


def walked(roots: SourceRoots, path: Path) -> list[str]:
    source = roots.resolve(str(path))
    return [os.path.relpath(f.path, path) for f in roots.walk(source, is_supported)]


def test_walk_is_sorted_and_skips_hidden_and_unsupported_files(root: Path) -> None:
    docs = root / "docs"
    (docs / "c.rst").write_text("c")
    (docs / "B.markdown").write_text("b")
    (docs / "photo.png").write_bytes(b"\x89PNG")
    (docs / ".hidden.md").write_text("h")
    (docs / ".git").mkdir()
    (docs / ".git" / "x.md").write_text("x")
    roots = SourceRoots([root])
    assert walked(roots, docs) == ["B.markdown", "a.md", "c.rst", "sub/b.txt"]
    assert walked(roots, docs) == walked(roots, docs)


def test_walk_never_follows_a_symlink_out_of_the_roots(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.md").write_text("secret")
    (root / "docs" / "link-dir").symlink_to(outside)
    (root / "docs" / "link-file.md").symlink_to(outside / "leak.md")
    assert walked(SourceRoots([root]), root / "docs") == ["a.md", "sub/b.txt"]


def test_walk_terminates_on_symlink_loops_and_visits_each_directory_once(root: Path) -> None:
    docs = root / "docs"
    (docs / "sub" / "loop").symlink_to(docs)
    (docs / "sub" / "self").symlink_to(docs / "sub")
    (docs / "zz-alias").symlink_to(docs / "sub")
    assert walked(SourceRoots([root]), docs) == ["a.md", "sub/b.txt"]


def test_walk_of_a_file_source_yields_the_file(root: Path) -> None:
    roots = SourceRoots([root])
    source = roots.resolve(str(root / "docs" / "a.md"))
    assert [f.path for f in roots.walk(source, is_supported)] == [
        str(root.resolve() / "docs" / "a.md")
    ]
