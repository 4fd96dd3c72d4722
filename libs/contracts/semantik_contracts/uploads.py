"""The answer to a multi-file upload: each file's source and operation, or its error."""

from __future__ import annotations

from pydantic import Field

from .base import Message
from .views import OperationView, SourceView


class UploadedFileError(Message):
    status: int = Field(description="The HTTP status this file alone would have had")
    code: str
    detail: str = Field(description="Why this file did not become a source")


class UploadedFile(Message):
    """One file of the request: ``source`` and ``operation``, or ``error``."""

    filename: str = Field(description="The file's name as kept (no path parts)")
    source: SourceView | None = None
    operation: OperationView | None = None
    error: UploadedFileError | None = None


class UploadedFiles(Message):
    files: list[UploadedFile] = Field(description="In the order the request sent them")
