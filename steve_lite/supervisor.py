"""Keeping a child process alive: restart it, with a growing delay, when it dies on its own."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("steve_lite.runner")

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before each restart while the child keeps dying soon after it started."""
STABLE_SECONDS = 60.0
"""A child that ran this long before it died is restarted after the first delay again."""


def describe_exit(code: int) -> str:
    """An exit code in words: ``code 3`` or ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"


class Supervisor:
    """Watches one running child: ``wait()`` returns its exit code; when it exits while the
    supervisor is not stopping, ``on_exit(code)`` runs and ``start()`` is called again after a
    delay from :data:`RESTART_DELAYS` (a failing ``start`` is retried the same way)."""

    def __init__(
        self,
        name: str,
        start: Callable[[], None],
        wait: Callable[[], int],
        on_exit: Callable[[int], None] | None = None,
        delays: tuple[float, ...] = RESTART_DELAYS,
    ) -> None:
        self.name = name
        self._start = start
        self._wait = wait
        self._on_exit = on_exit
        self._delays = delays
        self._stopping = threading.Event()
        self.lock = threading.Lock()
        """Held while the child is being started: stop it under this lock."""
        self.restarts = 0
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)

    def watch(self) -> None:
        """Start watching the child, which must already run."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching: an exit from now on is expected. Stop the child after this."""
        self._stopping.set()

    def _run(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            code = self._wait()
            if self._stopping.is_set():
                return
            if self._on_exit is not None:
                self._on_exit(code)
            failures = 0 if time.monotonic() - started >= STABLE_SECONDS else failures + 1
            if not self._restart(f"exited ({describe_exit(code)})", failures):
                return

    def _restart(self, why: str, failures: int) -> bool:
        """Start the child again after the delay; False when stopping meanwhile."""
        while True:
            delay = self._delays[min(max(failures - 1, 0), len(self._delays) - 1)]
            logger.error("the %s %s; starting it again in %g s", self.name, why, delay)
            if self._stopping.wait(delay):
                return False
            with self.lock:
                if self._stopping.is_set():
                    return False
                try:
                    self._start()
                except Exception as exc:
                    why = f"could not start ({exc})"
                    failures += 1
                    continue
            self.restarts += 1
            logger.info("the %s runs again (restart %s)", self.name, self.restarts)
            return True
