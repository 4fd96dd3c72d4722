"""tests/watchdog.py: a hung test fails alone, says where it waits, and is tried once more."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.unit


def run_pytest(folder: Path, test: str) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nwatchdog_timeout = 1\n"
        "addopts = -p tests.watchdog --reruns 1 --only-rerun Timeout -p no:cacheprovider\n"
    )
    (folder / "test_it.py").write_text(textwrap.dedent(test))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COV_CORE_SOURCE", None)  # no coverage of this run of pytest
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_hung_await_fails_with_its_chain_and_is_tried_once_more(tmp_path: Path) -> None:
    done = run_pytest(
        tmp_path,
        f"""
        import asyncio
        from pathlib import Path

        async def waits_forever() -> None:
            await asyncio.Event().wait()

        async def test_hangs_the_first_time() -> None:
            flag = Path({str(tmp_path / "tried")!r})
            if not flag.exists():
                flag.touch()
                await waits_forever()

        async def test_hangs_always() -> None:
            await waits_forever()

        def test_fails() -> None:
            assert 1 == 2
        """,
    )
    out, err = done.stdout, done.stderr
    assert done.returncode == 1, out
    assert "2 failed, 1 passed, 2 rerun" in out, out
    # The hung await is named, down to the line it waits in, on the run's own stderr:
    # also for the test that passed on its second try, whose output is not reported.
    assert "test_it.py::test_hangs_the_first_time ran past 1 s" in err, err
    assert "test_it.py::test_hangs_always ran past 1 s" in err, err
    assert "in waits_forever" in err, err
    assert "FAILED test_it.py::test_hangs_always - Failed: Timeout" in out, out
    # A plain failure is not tried again.
    assert "FAILED test_it.py::test_fails - assert 1 == 2" in out, out


async def test_a_close_that_hangs_warns_with_where_it_waits_and_the_teardown_goes_on() -> None:
    import asyncio
    import warnings

    from tests.system.system import close_within

    async def stuck_close() -> None:
        await asyncio.Event().wait()

    closing = stuck_close()
    with pytest.warns(
        UserWarning, match=r"(?s)the bus of x did not close within 0\.2 s.*stuck_close"
    ):
        await close_within("the bus of x", closing, seconds=0.2)
    assert closing.cr_frame is None  # cancelled and finished, not left waiting

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await close_within("a quick one", asyncio.sleep(0), seconds=5)
    with pytest.raises(ValueError, match="refused"):
        await close_within("a failing one", failing_close(), seconds=5)


async def failing_close() -> None:
    raise ValueError("refused")
