"""``<data dir>/secrets``: the NATS passwords that ``semantik run`` generates once (one
per user of ``semantik_runtime.nats_auth``) and the server configuration made from them.

The directory is 0700 and every file in it 0600: a password is readable by the user
that runs Semantik, and by no one else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from semantik_runtime.nats_auth import USERS
from semantik_runtime.nats_config import authorization
from semantik_runtime.nats_credentials import NatsCredentials

SERVER_CONFIG = "nats.conf"


def secrets_dir(data_dir: Path) -> Path:
    return data_dir / "secrets"


def password_file(data_dir: Path, user: str) -> Path:
    return secrets_dir(data_dir) / f"nats-{user}.password"


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _write_private(path: Path, text: str, *, exclusive: bool) -> None:
    """Write ``text`` to a 0600 file; ``exclusive``: only if it does not exist (two
    starts racing keep the first password)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through O_TRUNC


def nats_passwords(data_dir: Path) -> dict[str, str]:
    """Every NATS user's password: generated on first use, then the same on each start."""
    directory = secrets_dir(data_dir)
    _private_dir(directory)
    passwords = {}
    for user in USERS:
        path = password_file(data_dir, user)
        with contextlib.suppress(FileExistsError):
            _write_private(path, secrets.token_urlsafe(32), exclusive=True)
        password = path.read_text().strip()
        if not password:
            raise RuntimeError(f"{path} is empty: delete it and start again")
        passwords[user] = password
    return passwords


def write_server_config(data_dir: Path, passwords: dict[str, str]) -> Path:
    """``<data dir>/secrets/nats.conf``: the users and their permissions (the listen
    address and JetStream come from the command line)."""
    path = secrets_dir(data_dir) / SERVER_CONFIG
    text = (
        "# Written by `semantik run` on every start from the password files beside it\n"
        "# and semantik_runtime.nats_auth; edits are overwritten.\n" + authorization(passwords)
    )
    _write_private(path, text, exclusive=False)
    return path


def local_credentials(data_dir: Path, user: str) -> NatsCredentials | None:
    """``user``'s credentials for the NATS server of ``semantik run`` on ``data_dir``;
    None when there are none (a server that ``semantik run`` did not start)."""
    try:
        password = password_file(data_dir, user).read_text().strip()
    except FileNotFoundError:
        return None
    return NatsCredentials(user, password) if password else None
