"""``steve-lite worker`` on a Redis queue: the API enqueues into Redis, a worker on another data
process takes the work, and a Redis that loses everything (FLUSHALL) loses no session: the sweep
queues again what the database says is submitted."""

from __future__ import annotations

from pathlib import Path

from steve_lite.queue import Queue
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.photos import make_photo
from tests.support.redis import queue_name
from tests.support.redis_server import RedisServer
from tests.support.sessions import submit_files, wait_for_job
from tests.support.worker import event_types, start_stack

LEASE_SECONDS = 3
COMPLETED_EVENTS = ["created", "submitted", "processing_started", "processing_completed"]


def test_a_flushed_redis_loses_no_submitted_session(
    tmp_path: Path, embedded_s3: EmbeddedS3, private_redis: RedisServer
) -> None:
    name = queue_name()
    backend = {"queue_url": private_redis.url, "queue_name": name}
    stack = start_stack(
        tmp_path / "api",
        embedded_s3,
        processing_lease_seconds=LEASE_SECONDS,
        **backend,
        worker_env={
            "STEVE_QUEUE_URL": private_redis.url,
            "STEVE_QUEUE_NAME": name,
            "STEVE_SWEEP_INTERVAL_SECONDS": "1",
            "STEVE_PROCESSING_LEASE_SECONDS": str(LEASE_SECONDS),
        },
    )
    try:
        api = stack.api
        tenant = api.tenant()
        sessions = [
            submit_files(api, tenant, "compliance-vm", [make_photo(seed=seed)])
            for seed in (81, 82, 83)
        ]
        queue = Queue(api.settings)
        assert queue.pending_count() == 3
        assert private_redis.client().flushall()
        assert queue.pending_count() == 0

        worker = stack.start_worker()  # its sweep at start finds the three lapsed leases
        for session in sessions:
            job = wait_for_job(api, tenant, session["sessionId"], timeout=60, worker=worker)
            assert job["state"] == "completed", job
            assert event_types(api.db, session["submissionId"]) == COMPLETED_EVENTS
        output = worker.output()
        assert sum(f"re-queued session {s['sessionId']}" in output for s in sessions) == 3
        assert f"queue Redis, name {name}" in output
    finally:
        stack.stop()


def test_submitted_sessions_reach_a_worker_through_redis(
    tmp_path: Path, embedded_s3: EmbeddedS3, redis_url: str
) -> None:
    name = queue_name()
    stack = start_stack(
        tmp_path / "api",
        embedded_s3,
        queue_url=redis_url,
        queue_name=name,
        worker_env={"STEVE_QUEUE_URL": redis_url, "STEVE_QUEUE_NAME": name},
    )
    try:
        worker = stack.start_worker()
        api = stack.api
        tenant = api.tenant()
        session = submit_files(api, tenant, "compliance-vm", [make_photo(seed=84)])
        job = wait_for_job(api, tenant, session["sessionId"], timeout=60, worker=worker)
        assert job["state"] == "completed"
        assert "re-queued" not in worker.output()  # taken from Redis, not by the sweep
        assert Queue(api.settings).pending_count() == 0
        # API and worker share a data dir: both must have used Redis, not its queue file
        assert f"queue Redis, name {name}" in worker.output()
        assert not (tmp_path / "api" / "queue.db").exists()
    finally:
        stack.stop()
