"""Quotas (seeds 003/004): collections per user and the size of one collection. Pure.

A collection's size is the bytes of the documents it holds (what ingest registered,
less what it removed). A reindex writes a second, staging copy of every vector before
the first is dropped, so it is admitted only when that copy fits under the limit too.
"""

from __future__ import annotations

from dataclasses import dataclass

from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError

GIB = 1024**3


def size_text(size_bytes: int) -> str:
    """``1.50 GB`` for large sizes, plain bytes for the small ones tests and users see."""
    if size_bytes >= GIB // 100:
        return f"{size_bytes / GIB:.2f} GB"
    return f"{size_bytes} bytes"


@dataclass(frozen=True, slots=True)
class Quotas:
    max_collections_per_user: int = 10
    collection_size_limit_gb: float = 100.0

    @property
    def size_limit_bytes(self) -> int:
        return int(self.collection_size_limit_gb * GIB)

    def _limit_text(self) -> str:
        return f"{self.collection_size_limit_gb:g} GB (COLLECTION_SIZE_LIMIT_GB)"

    def check_new_collection(self, owned: int) -> None:
        if owned >= self.max_collections_per_user:
            raise CommandError(
                ErrorCode.QUOTA_EXCEEDED,
                f"quota reached: at most {self.max_collections_per_user} collections per user "
                "(MAX_COLLECTIONS_PER_USER); delete one first",
                limit=self.max_collections_per_user,
            )

    def check_room(self, name: str, size_bytes: int) -> None:
        """Adding data needs the collection to be under its size limit."""
        if size_bytes >= self.size_limit_bytes:
            raise CommandError(
                ErrorCode.TOO_LARGE,
                f"collection {name!r} holds {size_text(size_bytes)} and has reached the "
                f"collection size limit of {self._limit_text()}",
                size_bytes=size_bytes,
                limit_bytes=self.size_limit_bytes,
            )

    def check_reindex_reservation(self, name: str, size_bytes: int) -> None:
        """Preflight of a blue-green reindex: the staging generation needs room."""
        needed = 2 * size_bytes
        if needed > self.size_limit_bytes:
            raise CommandError(
                ErrorCode.TOO_LARGE,
                f"reindex of collection {name!r} needs room for a staging copy: "
                f"{size_text(size_bytes)} now, {size_text(needed)} while both generations "
                f"exist, over the collection size limit of {self._limit_text()}",
                size_bytes=size_bytes,
                needed_bytes=needed,
                limit_bytes=self.size_limit_bytes,
            )
