"""A function that kills the process it runs in (imported by extraction processes)."""

from __future__ import annotations

import os
import signal


def crash_the_process(_: object) -> None:
    """What a parser with a fatal bug does to its process."""
    os._exit(3)


def spin_without_python(_: object) -> None:
    """What a parser looping inside C code does: no Python signal handler can run.

    The handler for SIGALRM is blocked, as it would be starved inside C code."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    while True:
        pass
