"""``semantik projections rebuild``: the collections service rebuilds its read models."""

from __future__ import annotations

import argparse
import asyncio
import sys

from semantik_runtime.nats_auth import OPERATOR
from semantik_runtime.nats_credentials import NatsCredentials, connect_options
from semantik_runtime.settings import nats_servers

from .local import local_nats_url
from .nats_secrets import local_credentials

#: A NATS server that does not answer within this is reported, not retried for minutes.
CONNECT_SECONDS = 5.0


async def _quiet(_error: Exception) -> None:
    return None


def operator_credentials(args: argparse.Namespace) -> NatsCredentials | None:
    """Whom the CLI connects as: ``--nats-user`` (``NATS_USER``) with ``NATS_PASSWORD``,
    else the ``operator`` user that ``semantik run`` made in the data dir, else nobody."""
    user = getattr(args, "nats_user", None)
    if user:
        return NatsCredentials(user, getattr(args, "nats_password", None) or "")
    return local_credentials(args.data_dir, OPERATOR)


async def rebuild_projections(args: argparse.Namespace) -> int:
    """Ask the running collections service to rebuild its read models from the log."""
    import nats
    from semantik_contracts import RpcFailure
    from semantik_contracts.commands import RebuildProjections
    from semantik_contracts.subjects import COLLECTIONS, command_subject
    from semantik_contracts.views import ProjectionsRebuilt
    from semantik_runtime.bus import Bus

    url = args.nats_url or local_nats_url(args.data_dir)
    if url is None:
        print(
            "error: no NATS_URL, and no Semantik running with data dir "
            f"{args.data_dir} (start it with `semantik run`)",
            file=sys.stderr,
        )
        return 2
    try:
        # One attempt, bounded: Bus.connect retries for ever, as a service should.
        nc = await asyncio.wait_for(
            nats.connect(
                **connect_options(operator_credentials(args)),
                servers=nats_servers(url),
                name="semantik-cli",
                connect_timeout=CONNECT_SECONDS,
                max_reconnect_attempts=1,  # 0 would mean for ever to nats-py
                reconnect_time_wait=0.2,
                allow_reconnect=False,
                error_cb=_quiet,  # the one line below says it, not a traceback per try
            ),
            CONNECT_SECONDS * 2,
        )
    except Exception as exc:  # nats-py raises several kinds when nothing listens
        print(
            f"error: cannot reach NATS at {url}: {str(exc) or type(exc).__name__}", file=sys.stderr
        )
        return 2
    bus = Bus(nc, "semantik-cli")
    try:
        subject = command_subject(COLLECTIONS, "RebuildProjections")
        done = await bus.request(subject, RebuildProjections(), ProjectionsRebuilt, timeout=600)
    except RpcFailure as exc:
        print(f"error: {exc.error.message}", file=sys.stderr)
        return 1
    finally:
        await bus.close()
    print(
        f"rebuilt from {done.position} events in {done.seconds:.2f} s: {done.collections} "
        f"collections, {done.operations} operations, {done.sources} sources, "
        f"{done.audit_entries} audit entries; "
        + (
            "the same answers as before"
            if done.unchanged
            else "the answers changed: the read models had drifted from the log"
        )
    )
    return 0
