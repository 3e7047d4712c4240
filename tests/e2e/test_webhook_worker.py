"""Webhooks sent by a real ``steve-lite worker`` process to a real receiver on 127.0.0.1.

The API serves in this process on the same data dir and bucket as the worker (see
tests/support/worker.py). Private targets are allowed on both, for the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from steve_lite.queue import Queue
from steve_lite.storage.embedded import EmbeddedS3
from tests.fixtures.receiver import RecordedRequest, WebhookReceiver
from tests.support.processes import ServerProcess
from tests.support.sessions import get_job, submit_files
from tests.support.uploads import jpeg
from tests.support.waiting import wait_until
from tests.support.worker import WorkerStack, start_stack, wait_worker_ready

RETRY_DELAY_SECONDS = 6  # ample time to kill the worker before its retry is due
WORKER_ENV = {
    "STEVE_WEBHOOK_ALLOW_PRIVATE": "true",
    "STEVE_WEBHOOK_RETRY_DELAYS": f"{RETRY_DELAY_SECONDS},{RETRY_DELAY_SECONDS}",
    "STEVE_WORKERS": "1",
    "STEVE_OCR_WARMUP": "false",  # compliance-vm needs no OCR engine
}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    stack = start_stack(
        tmp_path_factory.mktemp("webhook-worker") / "data",
        embedded_s3,
        worker_env=WORKER_ENV,
        webhook_allow_private=True,
    )
    yield stack
    stack.stop()


def start_worker(stack: WorkerStack) -> ServerProcess:
    """A worker process, once its consumer has installed its signal handlers (fully started)."""
    worker = stack.start_worker(ready=False)
    wait_worker_ready(worker, threads=0)  # compliance-vm loads no OCR engine
    return worker


def outbox_row(stack: WorkerStack, session_id: str) -> dict[str, Any] | None:
    row = stack.api.db.execute(
        "SELECT * FROM webhook_events WHERE session_id = ?", [session_id]
    ).fetchone()
    return dict(row) if row else None


def row_is(stack: WorkerStack, session_id: str, **expected: object) -> Callable[[], bool]:
    def check() -> bool:
        row = outbox_row(stack, session_id)
        return row is not None and all(row[k] == v for k, v in expected.items())

    return check


def signed_by(api_key: str, request: RecordedRequest) -> bool:
    secret = hashlib.sha256(api_key.encode()).hexdigest().encode()
    digest = hmac.new(secret, request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["x-webhook-signature"], f"sha256={digest}")


def test_a_completed_session_is_delivered_once_by_the_worker(
    stack: WorkerStack, webhook_receiver: WebhookReceiver
) -> None:
    worker = start_worker(stack)
    try:
        assert "STEVE_WEBHOOK_ALLOW_PRIVATE is ON" in worker.output()
        tenant = stack.api.tenant()
        session = submit_files(
            stack.api, tenant, "compliance-vm", [jpeg(seed=201)], webhookUrl=webhook_receiver.url
        )
        session_id = session["sessionId"]

        wait_until(row_is(stack, session_id, status="delivered"), 60, "delivery", worker)
        queue = Queue(stack.api.settings)
        wait_until(lambda: queue.pending_count() == 0, 60, "an empty queue", worker)
    finally:
        code = worker.stop(signal.SIGINT)
    assert code == 0

    [request] = webhook_receiver.requests
    body = json.loads(request.body)
    job = get_job(stack.api, tenant, session_id).json()
    assert request.headers["x-webhook-event"] == body["eventType"] == "session.completed"
    assert (body["sessionId"], body["state"], body["submissionStatus"]) == (
        session_id,
        "completed",
        "approved",
    )
    assert body["result"] == job["result"]
    assert signed_by(tenant.key, request)
    assert job["webhookDeliveryStatus"] == "delivered"
    assert "Traceback" not in worker.output()


def test_a_worker_killed_between_attempts_still_delivers_after_a_restart(
    stack: WorkerStack, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.script([500])
    first = start_worker(stack)
    tenant = stack.api.tenant()
    try:
        session = submit_files(
            stack.api, tenant, "compliance-vm", [jpeg(seed=202)], webhookUrl=webhook_receiver.url
        )
        session_id = session["sessionId"]
        # The first attempt failed and its retry is in the queue, due in a few seconds.
        wait_until(
            row_is(stack, session_id, attempts=1, status="pending", last_status_code=500),
            60,
            "a first failed attempt",
            first,
        )
        event = outbox_row(stack, session_id)
        assert event is not None
        huey = Queue(stack.api.settings).huey
        wait_until(
            lambda: [t.args for t in huey.pending() + huey.scheduled()] == [(event["id"],)],
            60,
            "the retry scheduled",
            first,
        )
    finally:
        first.stop(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL
    assert len(webhook_receiver.requests) == 1  # killed between the attempts
    assert get_job(stack.api, tenant, session_id).json()["webhookDeliveryStatus"] == "pending"

    second = start_worker(stack)
    try:
        wait_until(row_is(stack, session_id, status="delivered"), 60, "delivery", second)
        wait_until(
            lambda: huey.pending_count() + huey.scheduled_count() == 0, 60, "an empty queue", second
        )
    finally:
        second.stop(signal.SIGINT)

    requests = webhook_receiver.requests
    assert len(requests) == 2
    row = outbox_row(stack, session_id)
    assert row is not None
    assert [r.headers["x-webhook-id"] for r in requests] == [row["id"], row["id"]]
    assert requests[0].body == requests[1].body
    assert all(signed_by(tenant.key, r) for r in requests)
    assert (row["attempts"], row["last_status_code"]) == (2, 200)
    assert get_job(stack.api, tenant, session_id).json()["webhookDeliveryStatus"] == "delivered"
