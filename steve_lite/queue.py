"""The background queue: one Huey instance on its own SQLite file, and its tasks.

The API only enqueues. ``steve-lite worker`` runs the consumer, whose tasks call the same
services as the API through a :class:`~steve_lite.worker.Runtime` built once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from huey import SqliteHuey

from steve_lite.settings import Settings

logger = logging.getLogger("steve_lite.queue")

PROCESS_RETRIES = 3
PROCESS_RETRY_DELAY = 5


class Queue:
    """The queue of one installation: enqueue from anywhere, run tasks in the worker."""

    def __init__(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.huey = SqliteHuey(
            name="steve-lite",
            filename=str(settings.queue_path),
            results=False,
            utc=True,
            timeout=5,
        )
        self._handlers: dict[str, Callable[..., None]] = {}
        self._process = self.huey.task(
            retries=PROCESS_RETRIES, retry_delay=PROCESS_RETRY_DELAY, name="process_session"
        )(self._run("process_session"))
        self._deliver = self.huey.task(name="deliver_webhook")(self._run("deliver_webhook"))
        self._sweep = self.huey.periodic_task(lambda now: True, name="sweep")(self._run("sweep"))

    def _run(self, name: str) -> Callable[..., None]:
        def task(*args: object) -> None:
            handler = self._handlers.get(name)
            if handler is None:
                raise RuntimeError(f"no handler for task {name!r} in this process")
            handler(*args)

        task.__name__ = name
        return task

    def handle(self, name: str, handler: Callable[..., None]) -> None:
        """Set the function that runs task ``name`` (done by the worker at start)."""
        self._handlers[name] = handler

    def enqueue_processing(self, session_id: str, delay: float = 0) -> None:
        """Queue a submitted session for processing, now or after ``delay`` seconds
        (idempotent: re-running is safe)."""
        if delay > 0:
            self._process.schedule((session_id,), delay=delay)
        else:
            self._process(session_id)

    def enqueue_delivery(self, event_id: str, delay: float = 0) -> None:
        """Queue a webhook attempt, now or after ``delay`` seconds."""
        if delay > 0:
            self._deliver.schedule((event_id,), delay=delay)
        else:
            self._deliver(event_id)

    def pending_count(self) -> int:
        return self.huey.pending_count() + self.huey.scheduled_count()
