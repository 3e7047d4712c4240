"""A real ``steve-lite worker`` process beside an in-thread live API: one data dir, one bucket.

``start_stack`` serves the API in this process (with a real :class:`~steve_lite.queue.Queue` on
the data dir's queue file) and can start any number of ``steve-lite worker`` subprocesses
pointed at the same data dir and the same bucket of the test S3 server. ``worker_stack`` is one
such stack with one worker for the whole test session: tests isolate themselves with their own
tenants (fraud checks and rate limits are per company or per key).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlite_utils import Database

from steve_lite.queue import Queue
from steve_lite.storage.embedded import EmbeddedS3
from tests.support.api import LiveApi, Tenant, make_settings, start_live_api
from tests.support.processes import ServerProcess, s3_env
from tests.support.servers import ThreadedServer
from tests.support.uploads import create_body, put_file
from tests.support.waiting import wait_until

WORKER_ENV = {"STEVE_WORKER_POLL_SECONDS": "0.05", "STEVE_WORKERS": "2"}
FINAL_STATES = ("completed", "failed")
JOB_KEYS = {
    "sessionId", "submissionId", "workflow", "companyId", "state", "submissionStatus", "result",
    "failedReason", "clientSubmissionId", "metadata", "createdAt", "expiresAt", "submittedAt",
    "processedAt", "webhookDeliveryStatus",
}  # fmt: skip
POLL_SECONDS = 0.2


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


@pytest.fixture(scope="session")
def worker_stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    """One API and one real worker process (2 threads) for the whole test session."""
    stack = start_stack(tmp_path_factory.mktemp("worker-stack"), embedded_s3)
    stack.start_worker()
    yield stack
    stack.stop()


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


# ---------------------------------------------------------------- sessions and jobs


def open_session(
    api: LiveApi, tenant: Tenant, slug: str, count: int, content_type: str = "image/jpeg", **kw
) -> dict[str, Any]:
    with api.client(tenant) as client:
        response = client.post(
            f"/api/v1/workflows/{slug}/sessions", json=create_body(count, content_type, **kw)
        )
    assert response.status_code == 201, response.text
    return response.json()


def submit_files(
    api: LiveApi,
    tenant: Tenant,
    slug: str,
    files: Sequence[bytes | None],
    content_type: str = "image/jpeg",
    **kw: Any,
) -> dict[str, Any]:
    """Open a session with one slot per entry, upload the non-None ones, submit; the session."""
    session = open_session(api, tenant, slug, len(files), content_type, **kw)
    for upload, data in zip(session["uploadUrls"], files, strict=True):
        if data is not None:
            assert put_file(upload, data).status_code == 200
    with api.client(tenant) as client:
        response = client.post(f"/api/v1/workflows/{slug}/sessions/{session['sessionId']}/submit")
    assert response.status_code == 200, response.text
    return session


def get_job(api: LiveApi, tenant: Tenant, session_id: str) -> httpx.Response:
    with api.client(tenant) as client:
        return client.get(f"/api/v1/jobs/{session_id}")


def wait_for_job(
    api: LiveApi,
    tenant: Tenant,
    session_id: str,
    states: Iterable[str] = FINAL_STATES,
    timeout: float = 90,
    *,
    worker: ServerProcess | None = None,
) -> dict[str, Any]:
    """Poll GET /api/v1/jobs/{id} until its ``state`` is one of ``states``; the job view."""
    wanted = set(states)
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = get_job(api, tenant, session_id)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in wanted:
            return job
        time.sleep(POLL_SECONDS)
    log = f"\nworker log:\n{worker.output()[-4000:]}" if worker else ""
    raise AssertionError(f"job {session_id} not in {sorted(wanted)} after {timeout} s: {job}{log}")


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = db.execute(
            "SELECT * FROM submission_events WHERE submission_id = ? AND type = ? "
            "ORDER BY seq LIMIT 1",
            [submission_id, event_type],
        ).fetchone()
        if row is not None:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"no {event_type!r} event for {submission_id} after {timeout} s")
