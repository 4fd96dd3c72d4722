"""Signing the CLI in: as the given user, else as this installation's own CLI user."""

from __future__ import annotations

from pathlib import Path

from .client import SemantikClient, local_credentials


async def login(
    client: SemantikClient, username: str | None, password: str | None, data_dir: Path
) -> None:
    if username and password:
        await client.login(username, password)
    else:
        stored_username, stored_password = local_credentials(data_dir)
        await client.login(stored_username, stored_password, register=True)
