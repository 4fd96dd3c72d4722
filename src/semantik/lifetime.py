"""Child processes that do not outlive their parent, even when it is SIGKILLed."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

#: prctl(2): deliver a signal to this process when the thread that forked it exits.
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send ``sig`` to the child when its parent
    dies; None where prctl does not exist (not Linux): there a SIGKILLed parent may
    leave its children behind, and the next start finds them by their pid files.

    SIGTERM, not SIGKILL: a service shuts down as it does on a clean stop, with its own
    children (ingest's extraction processes) and its NATS connection closed."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return arm
