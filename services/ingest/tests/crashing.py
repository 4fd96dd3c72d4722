"""A function that kills the process it runs in (imported by extraction processes)."""

from __future__ import annotations

import os


def crash_the_process(_: object) -> None:
    """What a parser with a fatal bug does to its process."""
    os._exit(3)
