"""``semantik mcp``: Semantik's MCP server over stdio, for agents that start their tools
as local commands (SPEC §13).

The tools are the gateway's (``gateway_service.mcp_server``); here they reach a running
Semantik over its REST API with the client, signed in with ``SEMANTIK_API_KEY`` if set,
else as the CLI's local account of the data dir. Stdout carries the protocol alone:
every log line and error goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from gateway_service.mcp_server import build_server
from gateway_service.schemas import MultiSearchRequest
from mcp.server.mcpserver.exceptions import ToolError

from .client import API_KEY_ENV, ApiError, SemantikClient, local_credentials


@asynccontextmanager
async def refusals() -> AsyncIterator[None]:
    """A refused request as the tool's error, with its status and the server's words."""
    try:
        yield
    except ApiError as exc:
        raise ToolError(f"{exc.status}: {exc.detail}") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"Semantik did not answer: {exc}") from None


class ClientApi:
    """``SemantikApi`` over HTTP, as whoever ``client`` signed in as."""

    def __init__(self, client: SemantikClient) -> None:
        self.client = client

    async def list_collections(self) -> list[dict[str, Any]]:
        async with refusals():
            return [c.model_dump(mode="json") async for c in self.client.iter_collections()]

    async def search(self, request: MultiSearchRequest) -> dict[str, Any]:
        body = request.model_dump(mode="json", exclude_unset=True)
        async with refusals():
            found: dict[str, Any] = await self.client.call("POST", "/api/v2/search", json=body)
        return found

    async def get_document(self, collection_id: UUID, document_id: UUID) -> dict[str, Any]:
        async with refusals():
            document = await self.client.get_document(collection_id, document_id)
        return document.model_dump(mode="json")


async def sign_in(client: SemantikClient, data_dir: Path) -> None:
    """Check the client's API key, else sign in as the local account; ``ApiError`` or
    ``LookupError`` if neither lets the client in."""
    if client.token is None:
        stored = local_credentials(data_dir)
        if stored is None:
            raise LookupError(
                f"set {API_KEY_ENV}, or run this where `semantik run` keeps its data "
                f"({data_dir}: no local account)"
            )
        await client.login(*stored)
    await client.me()  # refused now rather than at the first tool


async def serve(url: str, api_key: str | None, data_dir: Path) -> int:
    async with SemantikClient(url, api_key=api_key) as client:
        try:
            await sign_in(client, data_dir)
        except (ApiError, LookupError, httpx.HTTPError) as exc:
            print(f"semantik mcp: cannot sign in to {url}: {exc}", file=sys.stderr)
            return 1
        api = ClientApi(client)
        await build_server(lambda _: api).run_stdio_async()
    return 0


def mcp_command(args: argparse.Namespace) -> int:
    # Before the SDK configures logging: its handlers would go to stdout otherwise.
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(serve(args.url, os.environ.get(API_KEY_ENV) or None, args.data_dir))
