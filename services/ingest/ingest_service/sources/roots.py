"""Path sources: which paths may be indexed, and a safe, deterministic directory walk.

A path source must lie inside the allow-listed roots (``SEMANTIK_SOURCE_ROOTS``) and, for
a user who is not an admin, inside a root an admin granted them (SPEC §11). Never a
source, whatever the roots say: Semantik's own data (the data dir but for its
``sources/``, the models, the local copies of uploads, which are read as ``upload://``
sources alone) and hidden files and folders (a name starting with ``.`` below the root).
Every rule is judged on the real path (``..`` and symlinks resolved) before anything is
told about whether the path exists. The walk skips the same things, follows a symlink
only when its target is allowed, and visits each directory once, so symlink loops end.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from semantik_contracts import ErrorCode, SourceKind
from semantik_runtime.errors import CommandError

log = logging.getLogger(__name__)

#: Where an admin grants a user or a team a source root.
GRANT_HINT = "ask an admin (POST /api/v1/source-roots)"


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    path: Path
    kind: SourceKind


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file of a source: ``path`` as the user sees it, ``real`` what is read."""

    path: str
    real: str
    size: int


def _invalid(message: str) -> CommandError:
    return CommandError(ErrorCode.INVALID, message)


def _forbidden(message: str) -> CommandError:
    return CommandError(ErrorCode.FORBIDDEN, message)


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(os.path.expanduser(path)))


def _within(path: Path, directory: Path) -> bool:
    return path == directory or path.is_relative_to(directory)


class SourceRoots:
    """The directories that path sources must lie in, and what never is a source.

    ``data_dir``: Semantik's data, refused but for its ``sources/`` (the default root);
    ``own``: further directories Semantik writes (the models); ``uploads``: the local
    copies of uploads, read through :meth:`resolve_upload` alone.
    """

    def __init__(
        self,
        roots: Iterable[Path],
        *,
        data_dir: Path | None = None,
        own: Iterable[Path] = (),
        uploads: Path | None = None,
    ) -> None:
        self.roots: tuple[Path, ...] = tuple(dict.fromkeys(_real(root) for root in roots))
        self.data_dir = _real(data_dir) if data_dir is not None else None
        self.uploads = _real(uploads) if uploads is not None else None
        self.own: tuple[Path, ...] = tuple(_real(path) for path in own)

    def with_uploads(self, directory: Path) -> SourceRoots:
        """These roots, with the local copies of uploads kept in ``directory``. The copies
        live in the data dir (``UploadedFiles``): where no data dir was named, the
        directory's parent is taken for it, so Semantik's data is never left open."""
        data_dir = self.data_dir if self.data_dir is not None else _real(directory.parent)
        return SourceRoots(self.roots, data_dir=data_dir, own=self.own, uploads=directory)

    def contains(self, real: Path) -> bool:
        return any(_within(real, root) for root in self.roots)

    def is_own(self, real: Path) -> bool:
        """Whether ``real`` is Semantik's own data, which is never a source."""
        # ``sources/`` is taken as named: a link there to elsewhere in the data dir opens
        # nothing, as the real paths it leads to do not lie under it.
        data_dir = self.data_dir
        if data_dir is not None and (
            _within(real, data_dir) and not _within(real, data_dir / "sources")
        ):
            return True
        dirs = self.own if self.uploads is None else (*self.own, self.uploads)
        return any(_within(real, directory) for directory in dirs)

    def is_hidden(self, path: Path) -> bool:
        """Whether a name of ``path`` below the (deepest) root it lies in starts with a dot.
        The root itself may lie in a hidden folder: the default data dir is ``.semantik``."""
        inside = [root for root in self.roots if _within(path, root)]
        if not inside:
            return False
        below = path.relative_to(max(inside, key=lambda root: len(root.parts))).parts
        return any(part.startswith(".") and part != ".." for part in below)

    def allows(self, real: Path) -> bool:
        """Whether a real path may be read as (part of) a source."""
        return self.contains(real) and not self.is_own(real) and not self.is_hidden(real)

    def resolve(self, raw: str, granted: Sequence[str] | None = None) -> ResolvedSource:
        """The real path and kind of ``raw``, or a ``CommandError`` saying why not.

        ``granted``: the directories this user may add from (None: any root, an admin).
        Outside the roots, missing or unreadable is ``INVALID``; not granted, Semantik's
        own data or hidden is ``FORBIDDEN``.
        """
        if "\x00" in raw:
            raise _invalid("the path contains a NUL character")
        expanded = os.path.expanduser(raw.strip())
        if not os.path.isabs(expanded):
            raise _invalid(f"{raw!r} is not an absolute path")
        real = _real(expanded)
        # Judged before existence, so nothing is told about paths that are refused.
        if granted is not None:
            self._check_granted(raw, real, granted)
        elif not self.contains(real):
            allowed = ", ".join(str(root) for root in self.roots) or "none configured"
            raise _invalid(
                f"{raw} is outside the allowed source roots ({allowed}); "
                "set SEMANTIK_SOURCE_ROOTS to allow more"
            )
        if self.is_own(real):
            raise _forbidden(f"{raw} is inside Semantik's own data; it cannot be a source")
        # The name given counts too: a hidden link to a visible folder is still hidden.
        if self.is_hidden(real) or self.is_hidden(Path(expanded)):
            raise _forbidden(
                f"{raw} is hidden or inside a hidden folder (a name starting with '.'); "
                "hidden files and folders cannot be sources"
            )
        return _stat(raw, real)

    def resolve_upload(self, local: str) -> ResolvedSource:
        """The local copy of an upload: a regular file in the uploads directory. Only
        ``upload://`` sources come here (the collections service checked that the upload
        is the collection's own); no granted roots apply."""
        real = _real(local)
        if self.uploads is None or real == self.uploads or not _within(real, self.uploads):
            raise _invalid(f"{local} is not an uploaded file")
        resolved = _stat(local, real)
        if resolved.kind is not SourceKind.FILE:
            raise _invalid(f"{local} is not an uploaded file")
        return resolved

    def resolve_recorded(self, kind: str, path: str) -> ResolvedSource:
        """A recorded source (or a file of it) again, by the rules of its kind (scans)."""
        if kind == SourceKind.UPLOAD:
            return self.resolve_upload(path)
        return self.resolve(path)

    def _check_granted(self, raw: str, real: Path, granted: Sequence[str]) -> None:
        # A grant naming a directory outside the configured roots opens nothing.
        usable = [
            root
            for root in (_real(g) for g in granted if "\x00" not in g and os.path.isabs(g))
            if self.contains(root)
        ]
        if not usable:
            raise _forbidden(f"no source roots were granted to you; {GRANT_HINT}")
        if not any(_within(real, root) for root in usable):
            names = ", ".join(str(root) for root in usable)
            raise _forbidden(
                f"{raw} is outside the source roots granted to you ({names}); {GRANT_HINT}"
            )

    def walk(self, source: ResolvedSource, accept: Callable[[str], bool]) -> Iterator[FoundFile]:
        """Every accepted regular file of ``source``, depth first, in name order.

        Hidden entries (names starting with ``.``) and Semantik's own data are skipped,
        and so are links whose target is not allowed; unreadable directories are logged
        and skipped.
        """
        if source.kind is SourceKind.FILE:
            if accept(str(source.path)):
                path = str(source.path)
                yield FoundFile(path, path, os.stat(path).st_size)
            return
        root_stat = os.stat(source.path)
        seen = {(root_stat.st_dev, root_stat.st_ino)}
        # Each directory's real path beside its entries: what a name below it really is.
        stack = [(str(source.path), iter(_entries(str(source.path))))]
        while stack:
            real_dir, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue
            found = self._inspect(entry, real_dir)
            if found is None:
                continue
            real, st = found
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key not in seen:  # a directory reached twice (symlink, loop) is walked once
                    seen.add(key)
                    stack.append((real, iter(_entries(entry.path))))
            elif stat.S_ISREG(st.st_mode) and accept(entry.path):
                yield FoundFile(entry.path, real, st.st_size)

    def _inspect(self, entry: os.DirEntry[str], real_dir: str) -> tuple[str, os.stat_result] | None:
        """The real path and status of an entry; None for what the walk must not enter."""
        try:
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                if not self.allows(Path(real)):
                    log.info("skipping %s: its link target is not allowed", entry.path)
                    return None
                return real, os.stat(real)
            real = os.path.join(real_dir, entry.name)
            st = entry.stat(follow_symlinks=False)
            # A root above the data dir (SEMANTIK_SOURCE_ROOTS=/) holds it as a plain folder.
            if stat.S_ISDIR(st.st_mode) and self.is_own(Path(real)):
                log.info("skipping %s: Semantik's own data", entry.path)
                return None
            return real, st
        except OSError:
            return None  # a dangling link, or an entry deleted while walking


def _stat(raw: str, real: Path) -> ResolvedSource:
    """The kind of an allowed path, or ``INVALID`` when it is missing or unreadable."""
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise _invalid(f"{raw} does not exist") from None
    except OSError as exc:
        raise _invalid(f"{raw} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        kind, needed = SourceKind.DIRECTORY, os.R_OK | os.X_OK
    elif stat.S_ISREG(st.st_mode):
        kind, needed = SourceKind.FILE, os.R_OK
    else:
        raise _invalid(f"{raw} is not a regular file or directory (device, FIFO or socket)")
    if not os.access(real, needed):
        raise _invalid(f"{raw} is not readable by the ingest service")
    return ResolvedSource(real, kind)


def _entries(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        log.warning("cannot list %s: %s", directory, exc.strerror)
        return []
