"""Streaming a document's original file to disk (``SemantikClient.download``): the
response is written as it arrives, never held whole in memory."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from .connection import Connection
from .errors import error_of_body

_FILENAME = re.compile(r"filename\*=UTF-8''([^;\s]+)", re.IGNORECASE)


async def download_file(connection: Connection, path: str, to: Path, *, default_name: str) -> Path:
    """GET ``path`` into ``to`` (into ``to / <its name>`` when ``to`` is a folder)."""
    for attempt in range(2):
        headers = {"Authorization": f"Bearer {connection.token}"} if connection.token else {}
        async with connection.http.stream("GET", path, headers=headers) as response:
            if response.status_code == 401 and connection.refresh_token and not attempt:
                await connection.refresh()  # an access token that lapsed: renewed once
                continue
            if response.status_code >= 400:
                await response.aread()
                raise error_of_body(response.status_code, _json(response), response.text)
            target = to
            if await asyncio.to_thread(to.is_dir):
                target = to / attachment_name(response.headers, default_name)
            partial = target.with_name(f".{target.name}.partial")
            try:
                out = await asyncio.to_thread(partial.open, "wb")
                with out:
                    async for block in response.aiter_bytes():
                        await asyncio.to_thread(out.write, block)
                await asyncio.to_thread(partial.replace, target)
            finally:
                await asyncio.to_thread(partial.unlink, missing_ok=True)
            return target
    raise AssertionError("unreachable: the second attempt returns or raises")


def attachment_name(headers: httpx.Headers, default: str) -> str:
    """The file name ``Content-Disposition`` gives (``filename*``), as a bare name."""
    match = _FILENAME.search(headers.get("content-disposition", ""))
    name = unquote(match.group(1)) if match else ""
    for separator in {"/", os.sep, os.altsep or "/"}:  # a bare name, never a path
        name = name.rsplit(separator, 1)[-1]
    name = name.strip()
    return name if name and name not in (".", "..") and "\x00" not in name else default


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
