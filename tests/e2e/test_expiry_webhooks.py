"""The expiry sweep of a real ``steve-lite worker`` process: it keeps a cancelled submission's
history and tells the session's webhook, so ``webhookDeliveryStatus`` ends.

The API (this process) creates sessions that live one second; the worker, started once they
are past their TTL, sweeps at start and delivers to real receivers on 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from steve_lite.clock import parse_iso, utcnow
from steve_lite.storage.embedded import EmbeddedS3
from tests.fixtures.receiver import WebhookReceiver
from tests.support.api import LiveApi, Tenant
from tests.support.sessions import get_job, open_session
from tests.support.waiting import wait_until
from tests.support.worker import WorkerStack, event_types, start_stack, wait_worker_ready

WORKER_ENV = {
    "STEVE_WEBHOOK_ALLOW_PRIVATE": "true",
    "STEVE_WEBHOOK_RETRY_DELAYS": "1",  # two attempts, one second apart
    "STEVE_WORKERS": "1",
    "STEVE_OCR_WARMUP": "false",
}


@pytest.fixture
def stack(tmp_path: Any, embedded_s3: EmbeddedS3) -> Iterator[WorkerStack]:
    stack = start_stack(
        tmp_path / "data",
        embedded_s3,
        worker_env=WORKER_ENV,
        webhook_allow_private=True,
        session_ttl_seconds=1,
    )
    yield stack
    stack.stop()


@pytest.fixture
def failing_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.script([500, 500])
    yield receiver
    receiver.stop()


def cancel(api: LiveApi, tenant: Tenant, submission_id: str, reason: str) -> None:
    with api.client(tenant) as client:
        answer = client.post(f"/api/v1/submissions/{submission_id}/cancel", json={"reason": reason})
    assert answer.status_code == 200, answer.text


def delivered_events(receiver: WebhookReceiver) -> list[tuple[str, dict[str, Any]]]:
    return [(r.headers["x-webhook-event"], json.loads(r.body)) for r in receiver.requests]


def test_expiry_cancels_only_what_is_still_created_and_every_webhook_ends(
    stack: WorkerStack, webhook_receiver: WebhookReceiver, failing_receiver: WebhookReceiver
) -> None:
    api = stack.api
    tenant = api.tenant()
    hook = {"webhookUrl": webhook_receiver.url}
    expiring = open_session(api, tenant, "compliance-vm", 1, **hook)
    withdrawn = open_session(api, tenant, "compliance-vm", 1, **hook)
    unreachable = open_session(api, tenant, "compliance-vm", 1, webhookUrl=failing_receiver.url)
    cancel(api, tenant, withdrawn["submissionId"], "customer withdrew")
    deadline = max(parse_iso(s["expiresAt"]) for s in (expiring, withdrawn, unreachable))
    while utcnow() <= deadline:
        time.sleep(0.05)

    worker = stack.start_worker(ready=False)  # its first sweep runs at start
    try:
        wait_worker_ready(worker, threads=0)

        def ended() -> bool:
            jobs = [get_job(api, tenant, s["sessionId"]).json() for s in (expiring, withdrawn)]
            failed = get_job(api, tenant, unreachable["sessionId"]).json()
            return all(j["webhookDeliveryStatus"] == "delivered" for j in jobs) and (
                failed["webhookDeliveryStatus"] == "failed"
            )

        wait_until(ended, 60, "every delivery to end", worker)
    finally:
        assert worker.stop(signal.SIGINT) == 0

    job = get_job(api, tenant, expiring["sessionId"]).json()
    assert (job["state"], job["submissionStatus"]) == ("expired", "cancelled")
    by_session = {
        body["sessionId"]: (kind, body) for kind, body in delivered_events(webhook_receiver)
    }
    assert len(webhook_receiver.requests) == 2  # one event per session, nothing twice
    kind, body = by_session[expiring["sessionId"]]
    assert (kind, body["reason"], body["state"], body["submissionStatus"]) == (
        "submission.cancelled",
        "session expired",
        "expired",
        "cancelled",
    )

    kind, body = by_session[withdrawn["sessionId"]]
    assert (kind, body["reason"]) == ("submission.cancelled", "customer withdrew")
    with api.client(tenant) as client:
        detail = client.get(f"/api/v1/submissions/{withdrawn['submissionId']}").json()
    assert detail["cancelReason"] == "customer withdrew"
    assert event_types(api.db, withdrawn["submissionId"]) == ["created", "cancelled"]
    assert get_job(api, tenant, withdrawn["sessionId"]).json()["state"] == "expired"

    assert [kind for kind, _ in delivered_events(failing_receiver)] == ["submission.cancelled"] * 2
    assert event_types(api.db, unreachable["submissionId"]) == ["created", "cancelled"]
