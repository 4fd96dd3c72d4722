"""What ``semantik run`` leaves in its data dir for the CLI: the URL of its nats-server,
trusted only while that server is alive (a killed run leaves its files behind)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse


def pid_alive(pid_file: Path) -> bool:
    """True when ``pid_file`` names a process that is running now."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def listening(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=timeout
        ):
            return True
    except OSError:
        return False


def local_nats_url(data_dir: Path) -> str | None:
    """The URL of the nats-server that ``semantik run`` started for ``data_dir``, if that
    server still runs (its pid alive, its port answering); None otherwise."""
    run_dir = data_dir / "run"
    try:
        url = (run_dir / "nats.url").read_text().strip()
    except FileNotFoundError:
        return None
    if not url or not pid_alive(run_dir / "nats-server.pid") or not listening(url):
        return None
    return url
