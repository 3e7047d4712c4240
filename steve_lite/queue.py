"""The background queue: one Huey instance, on its own SQLite file or on Redis, and its tasks.

The API only enqueues. ``steve-lite worker`` runs the consumer, whose tasks call the same
services as the API through :class:`~steve_lite.services.WorkerServices`, built once per
process by :mod:`steve_lite.wiring`. The queue holds nothing the database does not: a lost
queue (a flushed Redis, a deleted queue file) loses no work, because the sweep queues again
what the database says is submitted and not taken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer, Scheduler

from steve_lite.settings import Settings

logger = logging.getLogger("steve_lite.queue")

PROCESS_RETRIES = 3
PROCESS_RETRY_DELAY = 5
REDIS_READ_TIMEOUT_SECONDS = 1


def huey_for(settings: Settings) -> Huey:
    """Huey on Redis when ``STEVE_QUEUE_URL`` is set, else on the data directory's queue file.

    On Redis, every key starts with ``STEVE_QUEUE_NAME``: installations (and test runs) that
    share one Redis keep their queues apart by name."""
    if settings.queue_url:
        return RedisHuey(
            name=settings.queue_name,
            url=settings.queue_url,
            clean_name=False,
            results=False,
            utc=True,
            blocking=True,
            read_timeout=REDIS_READ_TIMEOUT_SECONDS,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        name=settings.queue_name,
        filename=str(settings.queue_path),
        results=False,
        utc=True,
        timeout=5,
    )


class Queue:
    """The queue of one installation: enqueue from anywhere, run tasks in the worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.huey = huey_for(settings)
        self._handlers: dict[str, Callable[..., None]] = {}
        self._process = self.huey.task(
            retries=PROCESS_RETRIES, retry_delay=PROCESS_RETRY_DELAY, name="process_session"
        )(self._run("process_session"))
        self._deliver = self.huey.task(name="deliver_webhook")(self._run("deliver_webhook"))
        self._sweep = self.huey.periodic_task(lambda now: True, name="sweep")(self._run("sweep"))

    @property
    def location(self) -> str:
        """Where the queue is, for the log (no credentials)."""
        if self.settings.queue_url:
            return f"Redis, name {self.settings.queue_name}"
        return str(self.settings.queue_path)

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

    def consumer(self, **options: Any) -> SweepingConsumer:
        """The worker's consumer (Huey's options), queuing the sweep every
        ``STEVE_SWEEP_INTERVAL_SECONDS``."""
        return SweepingConsumer(self.huey, self.settings.sweep_interval_seconds, **options)


class SweepingConsumer(Consumer):
    """Huey's consumer whose scheduler queues the periodic tasks every ``period`` seconds
    (Huey's own period is a minute)."""

    def __init__(self, huey: Huey, period: float, **options: Any) -> None:
        self.period = period
        super().__init__(huey, **options)

    def _create_scheduler(self) -> Scheduler:
        scheduler = super()._create_scheduler()
        scheduler.periodic_task_seconds = self.period
        return scheduler
