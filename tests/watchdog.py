"""A test that hangs fails alone, with the stacks that say where, instead of holding the
whole run until CI's limit.

A CI run once stopped at its 90-minute limit inside one reliability test, with nothing
printed to say where. Here each test (each try of it: setup, call and teardown) gets
``watchdog_timeout`` seconds (pyproject.toml). When they are up, the event loop's tasks
(each with the chain of awaits it waits in) and every other thread's stack are printed
to the run's stderr, past pytest's capture, and the test fails with "Timeout";
pytest-rerunfailures runs it once more (``--only-rerun Timeout``), and the report shows
both tries. A second alarm, ``LAST_ALARM_SECONDS`` later, ends the run with every
thread's stack if the test's teardown hangs as well.

SIGALRM in the main thread, which runs the tests and their event loops; a test run in
another thread is not watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import os
import signal
import sys
import threading
import traceback
from collections.abc import Generator
from types import CoroutineType, FrameType, GeneratorType
from typing import Any

import pytest

#: After the first alarm, how long the test's teardown gets before the run is ended.
LAST_ALARM_SECONDS = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "watchdog_timeout",
        "seconds one try of a test (setup, call, teardown) may take; 0: no limit",
        default="0",
    )


def await_chain(task: asyncio.Task[Any]) -> list[FrameType]:
    """The frames ``task`` waits in, outermost first: its coroutine and what it awaits."""
    frames: list[FrameType] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        if isinstance(awaited, CoroutineType):
            frame, awaited = awaited.cr_frame, awaited.cr_await
        elif isinstance(awaited, GeneratorType):
            frame, awaited = awaited.gi_frame, awaited.gi_yieldfrom
        else:  # a future, or an object's own __await__
            break
        if frame is not None:
            frames.append(frame)
    return frames


def stacks() -> str:
    """The running event loop's tasks, then every thread but this one."""
    out = io.StringIO()
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop: a synchronous test
        tasks = set()
    for task in tasks:
        print(f"--- task {task.get_name()}", file=out)
        for frame in await_chain(task):
            out.writelines(traceback.format_stack(frame, limit=1))
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        if ident != threading.get_ident():
            print(f"--- thread {names.get(ident, ident)}", file=out)
            out.writelines(traceback.format_stack(frame))
    return out.getvalue()


def _arm(item: pytest.Item) -> None:
    seconds = float(item.config.getini("watchdog_timeout"))
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return

    def last(_signum: int, _frame: FrameType | None) -> None:
        sys.stderr.write(f"\n{item.nodeid}: its teardown hangs too; the run ends here\n")
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    def first(_signum: int, _frame: FrameType | None) -> None:
        __tracebackhide__ = True
        signal.signal(signal.SIGALRM, last)
        signal.setitimer(signal.ITIMER_REAL, LAST_ALARM_SECONDS)
        _print(item, f"\n+++ {item.nodeid} ran past {seconds:g} s:\n{stacks()}+++\n")
        pytest.fail(f"Timeout: past {seconds:g} s (the stacks are on stderr)", pytrace=True)

    signal.signal(signal.SIGALRM, first)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _print(item: pytest.Item, text: str) -> None:
    """To the run's own stderr, past pytest's capture: a test that passes on its second
    try shows no captured output, and its first try's stacks are the diagnosis."""
    capture = item.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        sys.stderr.write(text)
        sys.stderr.flush()


def _disarm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _arm(item)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        _disarm()
