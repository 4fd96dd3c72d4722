"""Fault scenarios (issue 11). ``faults`` holds the checks every scenario shares; pytest
rewrites its asserts too, so a failed check shows its values, not a bare AssertionError."""

import pytest

pytest.register_assert_rewrite("tests.reliability.faults")
