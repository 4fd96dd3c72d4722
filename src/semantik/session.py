"""Signing the CLI in: as the given user, else as this installation's local operator
account, which the gateway of ``semantik run`` creates in ``<data dir>/secrets``."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .client import ApiError, SemantikClient, local_credentials

#: What to check when the local operator account is missing or refused.
LOCAL_ACCOUNT_HINT = (
    "is Semantik running on this data dir? the local operator account is created by `semantik run`"
)


class SignInError(Exception):
    """Signing in failed for a reason the user can act on; the message says which."""


async def login(
    client: SemantikClient, username: str | None, password: str | None, data_dir: Path
) -> None:
    """Sign in as ``username``, else as the local operator account (never registered here)."""
    if username and password:
        await client.login(username, password)
        return
    stored = local_credentials(data_dir)
    if stored is None:
        raise SignInError(f"no local operator account in {data_dir}: {LOCAL_ACCOUNT_HINT}")
    try:
        await client.login(*stored)
    except ApiError as exc:
        if exc.status != 401:
            raise
        raise SignInError(
            f"the local operator account of {data_dir} was refused: {LOCAL_ACCOUNT_HINT}"
        ) from None


async def own_system_login(client: SemantikClient, data_dir: Path) -> None:
    """Sign in to a system this command started on ``data_dir`` (a bench, an eval).

    As the local operator account when its gateway made one; else as the instance's
    first user, registered now (the one account an empty instance lets register), with
    credentials kept in the data dir so that a re-run on it signs in again."""
    if local_credentials(data_dir) is not None:
        await login(client, None, None, data_dir)
        return
    username, password = _first_user(data_dir)
    await client.login(username, password, register=True)


def _first_user(data_dir: Path) -> tuple[str, str]:
    path = data_dir / "secrets" / "first_user.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        creds = {"username": "semantik-bench", "password": secrets.token_urlsafe(24)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(creds, handle)
    stored = json.loads(path.read_text())
    return str(stored["username"]), str(stored["password"])
