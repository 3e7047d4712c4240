"""A real ``steve-lite worker`` process beside an in-thread live API: one data dir, one bucket.

``start_stack`` serves the API in this process (with a real :class:`~steve_lite.queue.Queue` on
the data dir's queue file) and can start any number of ``steve-lite worker`` subprocesses
pointed at the same data dir and the same bucket of the test S3 server. The ``worker_stack``
fixture (``tests/fixtures/worker.py``) is one such stack with one worker for the whole test
session: tests isolate themselves with their own tenants (fraud checks and rate limits are per
company or per key).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steve_lite.db import Database
from steve_lite.queue import Queue
from steve_lite.storage.embedded import EmbeddedS3
from tests.support.api import LiveApi, make_settings, start_live_api
from tests.support.processes import ServerProcess, s3_env
from tests.support.servers import ThreadedServer
from tests.support.waiting import wait_until

WORKER_ENV = {"STEVE_WORKER_POLL_SECONDS": "0.05", "STEVE_WORKERS": "2"}
JOB_KEYS = {
    "sessionId", "submissionId", "workflow", "companyId", "state", "submissionStatus", "result",
    "failedReason", "clientSubmissionId", "metadata", "createdAt", "expiresAt", "submittedAt",
    "processedAt", "webhookDeliveryStatus",
}  # fmt: skip


@dataclass
class WorkerStack:
    """The live API, the environment that points a worker at its data dir and bucket, and the
    workers started so far."""

    api: LiveApi
    server: ThreadedServer
    data_dir: Path
    env: dict[str, str]
    workers: list[ServerProcess] = field(default_factory=list)

    def start_worker(
        self, *, ready: bool = True, memory_limit_bytes: int | None = None, **env: str
    ) -> ServerProcess:
        """``steve-lite worker`` on this stack; by default wait until it is ready."""
        worker = ServerProcess(
            self.data_dir, "worker", memory_limit_bytes=memory_limit_bytes, **{**self.env, **env}
        )
        self.workers.append(worker)
        if ready:
            wait_worker_ready(worker, int({**self.env, **env}["STEVE_WORKERS"]))
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.server.stop()


def start_stack(
    data_dir: Path,
    s3: EmbeddedS3,
    *,
    worker_env: dict[str, str] | None = None,
    **overrides: Any,
) -> WorkerStack:
    """The API on ``data_dir`` and a fresh bucket (no worker yet: call ``start_worker``)."""
    env = s3_env(s3)
    # Every test signs in to the console from 127.0.0.1: no per-address limit across tests.
    limits = {"rate_limit_read": 100_000, "console_sign_in_limit_address": 100_000}
    settings = make_settings(data_dir, **{**limits, **overrides})
    api, server = start_live_api(settings, s3, bucket=env["STEVE_S3_BUCKET"], queue=Queue(settings))
    return WorkerStack(
        api=api, server=server, data_dir=data_dir, env={**env, **WORKER_ENV, **(worker_env or {})}
    )


# ---------------------------------------------------------------- the worker process


def caught_signals(pid: int) -> set[int]:
    """The signals the process has a handler for, from ``SigCgt`` in /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            mask = int(line.split()[1], 16)
            return {bit + 1 for bit in range(64) if mask >> bit & 1}
    return set()


def wait_worker_ready(worker: ServerProcess, threads: int, timeout: float = 60) -> None:
    """Until the consumer has installed its SIGTERM/SIGHUP handlers (the end of its start) and
    ``threads`` worker threads have loaded their OCR engine (0: do not wait for engines)."""

    def ready() -> bool:
        handlers = {signal.SIGTERM, signal.SIGHUP} <= caught_signals(worker.process.pid)
        return handlers and worker.output().count("OCR engine loaded") >= threads

    wait_until(ready, timeout, "worker start", worker, interval=0.1)


# ---------------------------------------------------------------- events


def event_types(db: Database, submission_id: str) -> list[str]:
    """The submission's event types, oldest first."""
    return [
        row[0]
        for row in db.execute(
            "SELECT type FROM submission_events WHERE submission_id = ? ORDER BY seq",
            [submission_id],
        )
    ]


def wait_for_event(
    db: Database, submission_id: str, event_type: str, timeout: float = 60
) -> dict[str, Any]:
    """Until the submission has an event of ``event_type``; that event's row."""
    found: list[dict[str, Any]] = []

    def recorded() -> bool:
        row = db.execute(
            "SELECT * FROM submission_events WHERE submission_id = ? AND type = ? "
            "ORDER BY seq LIMIT 1",
            [submission_id, event_type],
        ).fetchone()
        if row is not None:
            found.append(dict(row))
        return row is not None

    wait_until(recorded, timeout, f"{event_type!r} event for {submission_id}")
    return found[0]
