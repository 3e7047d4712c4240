"""Polling for something another thread or process will do soon."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.processes import Process


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    process: Process | None = None,
    interval: float = 0.05,
) -> None:
    """Return once ``condition()`` is truthy; fail the test after ``timeout`` seconds, or as soon
    as ``process`` (whose log the failure shows) has exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.process.poll() is not None:
            raise AssertionError(f"{what}: the process exited:\n{process.output()[-4000:]}")
        if time.monotonic() > deadline:
            log = f"\n{process.output()[-4000:]}" if process is not None else ""
            raise AssertionError(f"{what}: not done in {timeout} s{log}")
        time.sleep(interval)
