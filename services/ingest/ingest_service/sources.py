"""Path sources: which paths may be indexed, and a safe, deterministic directory walk.

Only paths inside the allow-listed roots (``SEMANTIK_SOURCE_ROOTS``) are accepted, judged
after every symlink and ``..`` is resolved. The walk follows a symlink only when its
target stays inside the roots, and visits each directory once, so symlink loops end.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from semantik_contracts import ErrorCode, SourceKind
from semantik_runtime.errors import CommandError

log = logging.getLogger(__name__)


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


class SourceRoots:
    """The directories that path sources must lie in."""

    def __init__(self, roots: Iterable[Path]) -> None:
        resolved = (Path(os.path.realpath(os.path.expanduser(root))) for root in roots)
        self.roots: tuple[Path, ...] = tuple(dict.fromkeys(resolved))

    def contains(self, real: Path) -> bool:
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def resolve(self, raw: str) -> ResolvedSource:
        """The real path and kind of ``raw``, or ``CommandError(INVALID)`` saying why not."""
        if "\x00" in raw:
            raise _invalid("the path contains a NUL character")
        expanded = os.path.expanduser(raw.strip())
        if not os.path.isabs(expanded):
            raise _invalid(f"{raw!r} is not an absolute path")
        real = Path(os.path.realpath(expanded))
        # Containment is judged before existence, so nothing is told about outside paths.
        if not self.contains(real):
            allowed = ", ".join(str(root) for root in self.roots) or "none configured"
            raise _invalid(
                f"{raw} is outside the allowed source roots ({allowed}); "
                "set SEMANTIK_SOURCE_ROOTS to allow more"
            )
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

    def walk(self, source: ResolvedSource, accept: Callable[[str], bool]) -> Iterator[FoundFile]:
        """Every accepted regular file of ``source``, depth first, in name order.

        Hidden entries (names starting with ``.``) are skipped; unreadable directories
        are logged and skipped.
        """
        if source.kind is SourceKind.FILE:
            if accept(str(source.path)):
                path = str(source.path)
                yield FoundFile(path, path, os.stat(path).st_size)
            return
        root_stat = os.stat(source.path)
        seen = {(root_stat.st_dev, root_stat.st_ino)}
        stack = [iter(_entries(str(source.path)))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue
            found = self._inspect(entry)
            if found is None:
                continue
            real, st = found
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key not in seen:  # a directory reached twice (symlink, loop) is walked once
                    seen.add(key)
                    stack.append(iter(_entries(entry.path)))
            elif stat.S_ISREG(st.st_mode) and accept(entry.path):
                yield FoundFile(entry.path, real, st.st_size)

    def _inspect(self, entry: os.DirEntry[str]) -> tuple[str, os.stat_result] | None:
        """The real path and status of an entry; None for links that leave the roots."""
        try:
            if not entry.is_symlink():
                return entry.path, entry.stat(follow_symlinks=False)
            real = os.path.realpath(entry.path)
            if not self.contains(Path(real)):
                log.info("skipping %s: its link target leaves the source roots", entry.path)
                return None
            return real, os.stat(real)
        except OSError:
            return None  # a dangling link, or an entry deleted while walking


def _entries(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        log.warning("cannot list %s: %s", directory, exc.strerror)
        return []
