"""What runs in the extraction processes: parsing record files, extracting text, chunking.

Everything here is CPU-bound Python (parsers, the tokenizer's offsets, BM25 terms), so
it runs in a pool of processes at a lower scheduling priority than the embedders: a
large scan slows down itself, not the embedding or the service's event loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.work import ChunkWork, SparseTerms, headed
from semantik_runtime.sparse import document_vector

from ..domain import chunk_id
from .chunking import Chunk, Chunker, model_tokenizer
from .extract import DocumentError
from .formats import document_text, document_title
from .records import ColumnSelection
from .units import RecordFile, Unit, read_file_unit, read_record_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChunkJob:
    unit: Unit
    document: UUID
    payload: dict[str, Any]
    chunk_size: int
    chunk_overlap: int
    #: The collection's model: chunks are counted in its tokenizer's tokens.
    model_name: str = DEFAULT_MODEL.name


#: Where this extraction process looks for model directories (``start_worker``).
_models_dir: Path | None = None


def start_worker(niceness: int, models_dir: Path | None = None) -> None:
    """Initializer of each extraction process: yield the CPU to the embedders, and load
    the default model's tokenizer now rather than in the first file's chunking."""
    global _models_dir
    _models_dir = models_dir
    if niceness:
        with contextlib.suppress(OSError):  # not permitted here: the normal priority
            os.nice(niceness)
    worker_chunker(DEFAULT_MODEL.name)


@lru_cache(maxsize=8)
def worker_chunker(model_name: str = DEFAULT_MODEL.name) -> Chunker:
    return Chunker(model_tokenizer(model_name, _models_dir))


def _failure(path: str, exc: Exception) -> DocumentError:
    """A reader's unexpected error fails its file with a reason, never the scan."""
    log.warning("reading %s failed", path, exc_info=True)
    return DocumentError(f"cannot read: {type(exc).__name__}: {str(exc)[:200]}")


def read_file(path: str, real: str, max_bytes: int) -> Unit | DocumentError:
    try:
        return read_file_unit(path, real, max_bytes)
    except DocumentError as exc:
        return exc
    except Exception as exc:
        return _failure(path, exc)


def read_records(
    path: str, real: str, selection: ColumnSelection, max_bytes: int
) -> RecordFile | DocumentError:
    try:
        return read_record_file(path, real, selection, max_bytes)
    except DocumentError as exc:
        return exc
    except Exception as exc:
        return _failure(path, exc)


def chunk_jobs(jobs: list[ChunkJob]) -> list[list[ChunkWork] | DocumentError]:
    """Each job's chunks with their point ids, BM25 terms and payload; or why not."""
    results: list[list[ChunkWork] | DocumentError] = []
    for job in jobs:
        try:
            results.append(_chunk(job))
        except DocumentError as exc:
            results.append(exc)
        except Exception as exc:
            results.append(_failure(job.unit.path, exc))
    return results


def _chunk(job: ChunkJob) -> list[ChunkWork]:
    unit = job.unit
    text = unit.text or document_text(unit.path, unit.data)
    chunker = worker_chunker(job.model_name)
    chunks = chunker.split(text, job.chunk_size, job.chunk_overlap)
    # A record's title is its first text column; a whole file's, its first heading.
    title = unit.title or (document_title(unit.path, text, unit.data) if unit.data else "")
    # A title longer than a quarter of a chunk would crowd the chunk's own text out of
    # the model's window: such a document's later chunks go without it.
    if title and chunker.count(title) > job.chunk_size // 4:
        title = ""
    payload = {
        **unit.payload,
        **job.payload,
        "document_id": str(job.document),
        "path": unit.path,
        "file_type": unit.file_type,
        "mime": unit.mime,
    }
    return chunk_work(job.document, chunks, payload, title)


def chunk_work(
    document: UUID, chunks: list[Chunk], payload: dict[str, Any], title: str = ""
) -> list[ChunkWork]:
    """Each chunk with its point id, BM25 terms and payload. The document's ``title``,
    which its first chunk holds, is the header of every later chunk: both its
    vectors are made with the title before its text (a "contextual header", measured
    in docs/benchmarks.md), and only the text is stored."""
    items = []
    for chunk in chunks:
        header = title if chunk.index > 0 else ""
        sparse = document_vector(headed(header, chunk.text))
        items.append(
            ChunkWork(
                chunk_id=chunk_id(document, chunk.index),
                index=chunk.index,
                text=chunk.text,
                header=header,
                sparse=SparseTerms(indices=sparse.indices, values=sparse.values),
                payload={**payload, "chunk_index": chunk.index},
            )
        )
    return items
