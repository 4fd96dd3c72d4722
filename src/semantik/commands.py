"""The CLI's commands against a running Semantik over its REST API: ingest and search,
and how any client command's failure reaches the user (a message and an exit code)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

import httpx

from .client import ApiError, SemantikClient
from .progress import follow_operation
from .session import SignInError, login


def report_errors(
    command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """Run a client command; an API, sign-in or connection error becomes a message and a
    non-zero exit (a stopped system is refused at once, never retried)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(command(args))
        except ApiError as exc:
            print(f"error: {exc.detail} (HTTP {exc.status})", file=sys.stderr)
            return 1
        except SignInError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (OSError, httpx.TransportError) as exc:
            print(
                f"error: cannot reach Semantik at {args.url}: {str(exc) or type(exc).__name__} "
                "(is it running? start it with `semantik run`)",
                file=sys.stderr,
            )
            return 2

    return run


async def sign_in(client: SemantikClient, args: argparse.Namespace) -> None:
    await login(client, args.username, args.password, args.data_dir)


@report_errors
async def ingest_directory(args: argparse.Namespace) -> int:
    async with SemantikClient(args.url) as client:
        await sign_in(client, args)
        collection = await client.collection_by_name(args.collection)
        if collection is None:
            collection = await client.create_collection(args.collection)
        try:
            operation = (await client.add_source(collection.id, args.directory.resolve())).operation
        except ApiError as exc:
            if exc.status != 409 or "already a source" not in exc.detail:
                raise
            operation = await client.index(collection.id)
        outcome, final = await follow_operation(client, operation, args.collection)
        print(
            f"{outcome.removeprefix('Operation').lower()}: {final.stats.get('new_documents', 0)} "
            f"new, {final.skipped} skipped, {final.failed} failed, "
            f"{final.processed} chunks embedded"
        )
        for failure in final.failures:
            print(f"  failed: {failure.path}: {failure.reason}")
        return 0 if outcome == "OperationCompleted" else 1


@report_errors
async def search_collections(args: argparse.Namespace) -> int:
    async with SemantikClient(args.url) as client:
        await sign_in(client, args)
        ids: list[UUID] = []
        for name in args.collection:
            found = await client.collection_by_name(name)
            if found is None:
                print(f"error: no collection named {name!r}", file=sys.stderr)
                return 1
            ids.append(found.id)
        response = await client.search(args.query, ids, limit=args.limit, search_type=args.mode)
        for warning in response.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for hit in response.results:
            snippet = " ".join(hit.text.split())[:160]
            print(f"{hit.rank:>3}. {hit.score:.4f}  {hit.path}\n     {snippet}")
        if not response.results:
            print("no results")
        return 0
