"""Webhook events from the outbox to a real receiver on 127.0.0.1, through the worker's services.

The API runs in a thread with a real queue. Each test consumes that queue itself, task by task,
with the handlers the worker registers (``process_session``, ``deliver_webhook``), so retries wait
their real (short) delays in Huey's schedule and task errors fail the test. The worker process
itself is exercised in tests/e2e/test_webhook_worker.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from steve_lite.clock import parse_iso, to_iso, utcnow
from steve_lite.processing.pipeline import process_session
from steve_lite.queue import Queue
from steve_lite.security.urls import UrlRejected, resolve_checked
from steve_lite.services import WorkerServices
from steve_lite.signatures import signature_headers
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.sweeps import sweep
from steve_lite.webhooks.delivery import deliver
from steve_lite.webhooks.sender import send_webhook
from steve_lite.wiring import build_worker, worker_services
from tests.factories.photos import make_corrupt_jpeg
from tests.fixtures.receiver import RecordedRequest, ScriptedResponse, WebhookReceiver
from tests.support.api import LiveApi, Tenant, make_settings, start_live_api
from tests.support.sessions import get_job, submit_files
from tests.support.uploads import jpeg

DOCS = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"
SLUG = "compliance-vm"
RETRY_DELAY = 0.5
ATTEMPT_TIMEOUT = 1.0
CONTRACT_KEYS = {
    "eventId", "eventType", "occurredAt", "sessionId", "submissionId", "workflow", "state",
    "submissionStatus", "companyId", "result", "failedReason", "clientSubmissionId", "metadata",
}  # fmt: skip
JOB_SNAPSHOT_KEYS = CONTRACT_KEYS - {"eventId", "eventType", "occurredAt"}
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    api: LiveApi
    runtime: WorkerServices


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3) -> Iterator[Stack]:
    """The API with a real queue, and the worker's runtime on the same data dir and bucket."""
    settings = make_settings(
        tmp_path_factory.mktemp("webhooks"),
        webhook_allow_private=True,
        webhook_retry_delays=f"{RETRY_DELAY},{RETRY_DELAY}",
        webhook_timeout_seconds=ATTEMPT_TIMEOUT,
        ocr_warmup=False,
        rate_limit_read=100_000,
    )
    api, server = start_live_api(settings, embedded_s3, queue=Queue(settings))
    runtime = build_worker(settings, api.storage)
    yield Stack(api, runtime)
    server.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[LiveApi]:
    """The live API; the queue starts and ends each test empty."""
    stack.runtime.queue.huey.flush()
    yield stack.api
    stack.runtime.queue.huey.flush()


@pytest.fixture
def runtime(stack: Stack, api: LiveApi) -> WorkerServices:
    return stack.runtime


def run_one_task(runtime: WorkerServices) -> bool:
    """Run the next due task as the consumer would; False when none is due."""
    huey = runtime.queue.huey
    for task in huey.read_schedule():
        huey.enqueue(task)
    task = huey.dequeue()
    if task is None:
        return False
    if huey.ready_to_run(task):
        task.execute()  # Exceptions surface in the test instead of Huey's log.
    else:
        huey.add_schedule(task)
    return True


def run_until(
    runtime: WorkerServices, condition: Callable[[], object], timeout: float = 30
) -> None:
    """Run queued and scheduled tasks until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        if not run_one_task(runtime):
            time.sleep(0.02)


def run_until_idle(runtime: WorkerServices, timeout: float = 30) -> None:
    """Run tasks until nothing is queued or scheduled any more."""
    huey = runtime.queue.huey
    run_until(runtime, lambda: huey.pending_count() == 0 and huey.scheduled_count() == 0, timeout)


# ---------------------------------------------------------------- outbox and signatures


def outbox(api: LiveApi, session_id: str) -> list[dict[str, Any]]:
    rows = api.db.execute(
        "SELECT * FROM webhook_events WHERE session_id = ? ORDER BY created_at, id",
        [session_id],
    ).fetchall()
    return [dict(row) for row in rows]


def event_row(api: LiveApi, event_id: str) -> dict[str, Any]:
    row = api.db.execute("SELECT * FROM webhook_events WHERE id = ?", [event_id]).fetchone()
    assert row is not None
    return dict(row)


def row_is(api: LiveApi, session_id: str, **expected: object) -> Callable[[], bool]:
    """A condition: the session has exactly one outbox row so far, with these column values."""

    def check() -> bool:
        rows = outbox(api, session_id)
        return len(rows) == 1 and all(rows[0][k] == v for k, v in expected.items())

    return check


def signing_secret(api_key: str) -> str:
    """The contract's signing key: the lowercase hex SHA-256 of the plaintext API key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def sha256_signature_valid(api_key: str, request: RecordedRequest) -> bool:
    digest = hmac.new(signing_secret(api_key).encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["x-webhook-signature"], f"sha256={digest}")


def standard_verify(api_key: str, request: RecordedRequest) -> Any:
    """Verify with the ``standardwebhooks`` package; the payload, or WebhookVerificationError."""
    secret = "whsec_" + base64.b64encode(signing_secret(api_key).encode()).decode()
    return Webhook(secret).verify(request.body, request.headers)


def payload(request: RecordedRequest) -> dict[str, Any]:
    return json.loads(request.body)


def completed_session(
    api: LiveApi, runtime: WorkerServices, tenant: Tenant, receiver: WebhookReceiver, image: bytes
) -> dict[str, Any]:
    """A processed session whose completion event was delivered (receiver answering 200)."""
    session = submit_files(api, tenant, SLUG, [image], webhookUrl=receiver.url)
    run_until(runtime, row_is(api, session["sessionId"], status="delivered"))
    return session


# ---------------------------------------------------------------- one completed session


def test_a_completed_session_is_delivered_once_signed_with_the_creating_key(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant, other = api.tenant(), api.tenant()
    session = submit_files(
        api,
        tenant,
        SLUG,
        [jpeg(seed=101)],
        webhookUrl=webhook_receiver.url,
        clientSubmissionId="visit-101",
        metadata={"store": "S-042", "visit": 3},
    )
    session_id = session["sessionId"]
    assert get_job(api, tenant, session_id).json()["webhookDeliveryStatus"] == "pending"
    sent_after = int(time.time())

    run_until(runtime, row_is(api, session_id, status="delivered"))
    run_until_idle(runtime)
    sweep(runtime)  # the upkeep finds nothing lost, so nothing is sent again
    run_until_idle(runtime)

    [request] = webhook_receiver.requests
    body = payload(request)
    job = get_job(api, tenant, session_id).json()
    [row] = outbox(api, session_id)
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "steve-webhook/1.0"
    assert request.headers["x-webhook-event"] == "session.completed"
    assert request.headers["x-webhook-id"] == request.headers["webhook-id"] == row["id"]
    assert request.headers["x-webhook-timestamp"] == request.headers["webhook-timestamp"]
    assert sent_after <= int(request.headers["x-webhook-timestamp"]) <= int(time.time())

    assert set(body) == CONTRACT_KEYS
    assert body["eventId"] == row["id"]
    assert body["eventId"].startswith("evt_")
    assert body["eventType"] == "session.completed"
    assert ISO_MS.fullmatch(body["occurredAt"])
    assert {key: body[key] for key in JOB_SNAPSHOT_KEYS} == {
        key: job[key] for key in JOB_SNAPSHOT_KEYS
    }
    assert body["sessionId"] == session_id
    assert body["submissionId"] == session["submissionId"]
    assert body["workflow"] == {"slug": SLUG, "version": 2}
    assert body["companyId"] == tenant.company["id"]
    assert (body["state"], body["submissionStatus"]) == ("completed", "approved")
    assert body["result"]["fraudStatus"] == "clean"
    assert body["result"]["extractedData"]["compliant"] is True
    assert body["failedReason"] is None
    assert body["clientSubmissionId"] == "visit-101"
    assert body["metadata"] == {"store": "S-042", "visit": 3}

    assert sha256_signature_valid(tenant.key, request)
    assert standard_verify(tenant.key, request) == body
    assert not sha256_signature_valid(other.key, request)
    with pytest.raises(WebhookVerificationError):
        standard_verify(other.key, request)

    assert job["webhookDeliveryStatus"] == "delivered"
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)
    assert row["url"] == webhook_receiver.url
    assert row["delivered_at"] is not None


def test_without_a_webhook_url_nothing_is_written_and_the_status_is_null(
    api: LiveApi, runtime: WorkerServices
) -> None:
    tenant = api.tenant()
    session = submit_files(api, tenant, SLUG, [jpeg(seed=102)])
    run_until_idle(runtime)

    job = get_job(api, tenant, session["sessionId"]).json()
    assert (job["state"], job["webhookDeliveryStatus"]) == ("completed", None)
    assert outbox(api, session["sessionId"]) == []


def test_a_failed_session_sends_session_failed_with_its_reason(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    session = submit_files(
        api, tenant, SLUG, [make_corrupt_jpeg()], webhookUrl=webhook_receiver.url
    )
    run_until(runtime, row_is(api, session["sessionId"], status="delivered"))

    [request] = webhook_receiver.requests
    body = payload(request)
    job = get_job(api, tenant, session["sessionId"]).json()
    assert request.headers["x-webhook-event"] == "session.failed"
    assert set(body) == CONTRACT_KEYS
    assert (body["eventType"], body["state"], body["submissionStatus"]) == (
        "session.failed",
        "failed",
        "failed",
    )
    assert body["result"] is None
    assert body["failedReason"] == job["failedReason"]
    assert body["failedReason"].startswith("file 0 (photo): ")
    assert sha256_signature_valid(tenant.key, request)
    assert job["webhookDeliveryStatus"] == "delivered"


def test_a_session_in_review_sends_session_review_required(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    completed_session(api, runtime, tenant, webhook_receiver, jpeg(seed=103, blur=6))

    [request] = webhook_receiver.requests
    body = payload(request)
    assert request.headers["x-webhook-event"] == body["eventType"] == "session.review_required"
    assert (body["state"], body["submissionStatus"]) == ("completed", "review")
    assert "compliance checks failed" in body["result"]["reviewReasons"]


# ---------------------------------------------------------------- the documented snippets


def docs_block(tag: str) -> str:
    """The fenced block of docs/webhooks.md whose info string is ``tag``."""
    blocks = re.findall(rf"^```{re.escape(tag)}\n(.*?)^```$", DOCS.read_text(), re.M | re.S)
    assert len(blocks) == 1, f"expected one ```{tag} block in {DOCS}"
    return blocks[0]


@pytest.fixture
def delivery(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> tuple[Tenant, RecordedRequest]:
    """A real signed delivery and the key of the tenant that created its session."""
    tenant = api.tenant()
    completed_session(api, runtime, tenant, webhook_receiver, jpeg(seed=104))
    [request] = webhook_receiver.requests
    return tenant, request


def test_the_documented_python_check_verifies_a_real_delivery(
    delivery: tuple[Tenant, RecordedRequest],
) -> None:
    tenant, request = delivery
    namespace: dict[str, Any] = {}
    exec(compile(docs_block("python verify"), str(DOCS), "exec"), namespace)
    verify = namespace["verify_webhook"]
    headers = request.headers
    stamp = int(headers["x-webhook-timestamp"])
    title_case = {"-".join(p.capitalize() for p in k.split("-")): v for k, v in headers.items()}

    assert verify(tenant.key, request.body, headers) is True
    assert verify(tenant.key, request.body, title_case) is True
    assert verify(tenant.key, request.body + b" ", headers) is False
    assert verify(tenant.key, request.body.replace(b'"approved"', b'"rejected"'), headers) is False
    assert verify("aok_" + "0" * 64, request.body, headers) is False
    assert verify(tenant.key, request.body, headers, now=stamp + 301) is False
    assert verify(tenant.key, request.body, headers, now=stamp + 300) is True
    replayed = {
        **headers,
        "webhook-timestamp": str(stamp + 60),
        "x-webhook-timestamp": str(stamp + 60),
    }
    assert verify(tenant.key, request.body, replayed, now=stamp + 60) is False
    no_signature = {k: v for k, v in headers.items() if k != "x-webhook-signature"}
    assert verify(tenant.key, request.body, no_signature) is False


def test_the_documented_standardwebhooks_receiver_verifies_a_real_delivery(
    delivery: tuple[Tenant, RecordedRequest],
) -> None:
    tenant, request = delivery
    namespace: dict[str, Any] = {}
    exec(compile(docs_block("python standardwebhooks"), str(DOCS), "exec"), namespace)
    receiver = namespace["standard_webhooks_receiver"]

    assert receiver(tenant.key).verify(request.body, request.headers) == payload(request)
    with pytest.raises(WebhookVerificationError):
        receiver(tenant.key).verify(request.body + b" ", request.headers)


def test_the_documented_node_check_verifies_a_real_delivery(
    delivery: tuple[Tenant, RecordedRequest], tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    tenant, request = delivery
    body_path = tmp_path / "body.json"
    body_path.write_bytes(request.body)
    harness = docs_block("js verify") + (
        "\nconst fs = require('node:fs');\n"
        "const [key, bodyPath, headersJson] = process.argv.slice(2);\n"
        "const body = fs.readFileSync(bodyPath);\n"
        "const headers = JSON.parse(headersJson);\n"
        "console.log(JSON.stringify([\n"
        "  verifyWebhook(key, body, headers),\n"
        "  verifyWebhook(key, Buffer.concat([body, Buffer.from(' ')]), headers),\n"
        "  verifyWebhook('aok_' + '0'.repeat(64), body, headers),\n"
        "]));\n"
    )
    script = tmp_path / "verify.js"
    script.write_text(harness)
    done = subprocess.run(
        [node, str(script), tenant.key, str(body_path), json.dumps(request.headers)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, False, False]


# ---------------------------------------------------------------- retries and failures


def test_500_500_200_is_three_attempts_with_one_id_then_delivered(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    webhook_receiver.script([500, ScriptedResponse(500, body=b"still down")])
    session = submit_files(api, tenant, SLUG, [jpeg(seed=105)], webhookUrl=webhook_receiver.url)
    session_id = session["sessionId"]

    run_until(runtime, row_is(api, session_id, attempts=1, status="pending"))
    [first] = outbox(api, session_id)
    assert (first["last_status_code"], first["last_error"]) == (500, "HTTP 500")
    assert get_job(api, tenant, session_id).json()["webhookDeliveryStatus"] == "pending"
    run_until(runtime, row_is(api, session_id, attempts=2, status="pending"))
    assert get_job(api, tenant, session_id).json()["webhookDeliveryStatus"] == "pending"

    run_until(runtime, row_is(api, session_id, status="delivered"))
    run_until_idle(runtime)

    requests = webhook_receiver.requests
    assert len(requests) == 3
    assert {r.headers["x-webhook-id"] for r in requests} == {first["id"]}
    assert {r.headers["webhook-id"] for r in requests} == {first["id"]}
    assert {r.body for r in requests} == {requests[0].body}
    stamps = [int(r.headers["x-webhook-timestamp"]) for r in requests]
    assert stamps == sorted(stamps)
    assert [r.headers["webhook-timestamp"] for r in requests] == [str(s) for s in stamps]
    gaps = [b.received_at - a.received_at for a, b in pairwise(requests)]
    assert all(gap >= RETRY_DELAY - 0.05 for gap in gaps), gaps  # the retries waited
    for request in requests:
        assert sha256_signature_valid(tenant.key, request)
        assert standard_verify(tenant.key, request) == payload(requests[0])
    [row] = outbox(api, session_id)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "delivered",
        3,
        200,
        None,
    )
    assert get_job(api, tenant, session_id).json()["webhookDeliveryStatus"] == "delivered"


def test_a_receiver_that_always_fails_ends_failed_after_three_attempts(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    webhook_receiver.script([503, 503, 503])  # a fourth attempt would get 200
    session = submit_files(api, tenant, SLUG, [jpeg(seed=106)], webhookUrl=webhook_receiver.url)
    session_id = session["sessionId"]

    run_until(runtime, row_is(api, session_id, status="failed"))
    run_until_idle(runtime)
    sweep(runtime)
    run_until_idle(runtime)

    requests = webhook_receiver.requests
    assert [r.headers["x-webhook-id"] for r in requests] == [requests[0].headers["webhook-id"]] * 3
    [row] = outbox(api, session_id)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "failed",
        3,
        503,
        "HTTP 503",
    )
    assert row["delivered_at"] is None
    assert get_job(api, tenant, session_id).json()["webhookDeliveryStatus"] == "failed"


def test_a_slow_receiver_is_a_failure_at_the_attempt_timeout(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    webhook_receiver.script([ScriptedResponse(200, delay=ATTEMPT_TIMEOUT * 5)])
    session = submit_files(api, tenant, SLUG, [jpeg(seed=107)], webhookUrl=webhook_receiver.url)
    session_id = session["sessionId"]

    run_until(runtime, row_is(api, session_id, attempts=1, status="pending"))
    [row] = outbox(api, session_id)
    assert (row["last_status_code"], row["last_error"]) == (None, "timed out after 1.0s")
    run_until(runtime, row_is(api, session_id, status="delivered"))

    requests = webhook_receiver.requests
    assert len(requests) == 2
    assert requests[0].headers["x-webhook-id"] == requests[1].headers["x-webhook-id"]
    assert outbox(api, session_id)[0]["attempts"] == 2


def test_a_redirect_is_a_failure_and_is_never_followed(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    elsewhere = webhook_receiver.url + "/moved"
    webhook_receiver.script(
        [ScriptedResponse(status, location=elsewhere) for status in (301, 302, 307)]
    )
    session = submit_files(api, tenant, SLUG, [jpeg(seed=108)], webhookUrl=webhook_receiver.url)
    session_id = session["sessionId"]

    run_until(runtime, row_is(api, session_id, status="failed"))
    run_until_idle(runtime)

    assert [(r.method, r.path) for r in webhook_receiver.requests] == [("POST", "/hook")] * 3
    [row] = outbox(api, session_id)
    assert (row["attempts"], row["last_status_code"], row["last_error"]) == (
        3,
        307,
        "redirect not followed",
    )
    assert get_job(api, tenant, session_id).json()["webhookDeliveryStatus"] == "failed"


def test_the_default_schedule_is_10_second_attempts_then_30_s_then_5_min(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    defaults = make_settings(tmp_path)
    assert defaults.webhook_timeout_seconds == 10.0
    assert defaults.retry_delays == [30.0, 300.0]
    assert defaults.webhook_test_timeout_seconds == 5.0
    assert defaults.webhook_allow_private is False
    # The defaults on this installation's data dir (private targets allowed for the receiver).
    settings = api.settings.model_copy(
        update={
            "webhook_retry_delays": defaults.webhook_retry_delays,
            "webhook_timeout_seconds": 10,
        }
    )
    slow = worker_services(settings, api.storage, queue=runtime.queue)
    tenant = api.tenant()
    webhook_receiver.script([500, 500, 500])
    session = submit_files(api, tenant, SLUG, [jpeg(seed=109)], webhookUrl=webhook_receiver.url)
    session_id = session["sessionId"]
    process_session(slow, session_id)
    runtime.queue.huey.flush()  # the attempts are run by hand below, at the times they are due
    [event] = outbox(api, session_id)

    for attempt, expected_delay in ((1, 30), (2, 300)):
        before = utcnow()
        deliver(slow, event["id"])
        row = event_row(api, event["id"])
        assert (row["attempts"], row["status"]) == (attempt, "pending")
        due_in = parse_iso(row["next_attempt_at"]) - before
        assert (
            timedelta(seconds=expected_delay - 1) < due_in < timedelta(seconds=expected_delay + 1)
        )
        huey = runtime.queue.huey
        [retry] = huey.pending() + huey.scheduled()
        assert retry.args == (event["id"],)
        eta_in = retry.eta - before.replace(tzinfo=None)  # Huey keeps naive UTC times
        assert (
            timedelta(seconds=expected_delay - 1) < eta_in < timedelta(seconds=expected_delay + 1)
        )
        huey.flush()
        deliver(slow, event["id"])  # not due yet: no attempt
        assert event_row(api, event["id"])["attempts"] == attempt
        assert len(webhook_receiver.requests) == attempt
        # Skip the wait: make the retry due now.
        api.db.execute(
            "UPDATE webhook_events SET next_attempt_at = ? WHERE id = ?",
            [to_iso(utcnow()), event["id"]],
        )

    deliver(slow, event["id"])
    row = event_row(api, event["id"])
    assert (row["attempts"], row["status"]) == (3, "failed")
    assert runtime.queue.pending_count() == 0
    assert len(webhook_receiver.requests) == 3


# ---------------------------------------------------------------- durability


def test_an_event_committed_without_its_enqueue_is_sent_by_the_sweep(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    session = submit_files(api, tenant, SLUG, [jpeg(seed=110)], webhookUrl=webhook_receiver.url)
    session_id = session["sessionId"]
    process_session(runtime, session_id)
    # The worker stops after the commit, before its enqueue reaches the queue.
    runtime.queue.huey.flush()
    assert row_is(api, session_id, status="pending", attempts=0)()
    assert get_job(api, tenant, session_id).json()["state"] == "completed"

    def swept_and_delivered() -> bool:
        sweep(runtime)
        return row_is(api, session_id, status="delivered")()

    run_until(runtime, swept_and_delivered, timeout=30)
    run_until_idle(runtime)
    assert len(webhook_receiver.requests) == 1
    assert webhook_receiver.requests[0].headers["x-webhook-event"] == "session.completed"


def test_a_queued_attempt_run_twice_sends_once(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    session = submit_files(api, tenant, SLUG, [jpeg(seed=111)], webhookUrl=webhook_receiver.url)
    process_session(runtime, session["sessionId"])
    [event] = outbox(api, session["sessionId"])
    runtime.queue.enqueue_delivery(event["id"])  # a duplicate, as a re-dispatch could make

    run_until_idle(runtime)

    assert len(webhook_receiver.requests) == 1
    assert event_row(api, event["id"])["attempts"] == 1


# ---------------------------------------------------------------- address rules at each attempt

# Every target here is on this machine, so a regression cannot send traffic anywhere else
# (10.0.0.5 and 169.254.169.254 are refused at acceptance in test_routes.py). A resolver is
# always given, so no name is ever looked up in the real DNS.
REFUSED_AT_SEND = [
    ("http://127.0.0.1:{port}/hook", None, "webhookUrl must use https"),
    ("https://127.0.0.1:{port}/hook", None, "webhookUrl host is not a public address (127.0.0.1)"),
    ("https://[::1]:{port}/hook", None, "webhookUrl host is not a public address (::1)"),
    ("https://foo.internal:{port}/hook", None, "must be public (foo.internal is a local name)"),
    (
        "https://[::ffff:127.0.0.1]:{port}/hook",
        None,
        "webhookUrl host is not a public address (::ffff:7f00:1)",
    ),
    ("https://hooks.example.com:{port}/hook", ["127.0.0.1"], "address not allowed: 127.0.0.1"),
    ("https://hooks.example.com:{port}/hook", ["::1"], "address not allowed: ::1"),
    (
        "https://hooks.example.com:{port}/hook",
        ["::ffff:127.0.0.1"],
        "address not allowed: ::ffff:7f00:1",
    ),
]


@pytest.mark.parametrize(("url", "addresses", "error"), REFUSED_AT_SEND)
def test_the_defaults_refuse_private_targets_when_sending(
    webhook_receiver: WebhookReceiver, url: str, addresses: list[str] | None, error: str
) -> None:
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        assert addresses is not None, f"{host} should be refused without a lookup"
        return addresses

    body = b'{"eventId":"evt_1"}'
    headers = signature_headers(
        secret_hex="ab" * 32, event_id="evt_1", event_type="t", body=body, timestamp=1
    )
    result = send_webhook(
        url.format(port=webhook_receiver.port),
        body,
        headers,
        timeout=ATTEMPT_TIMEOUT,
        allow_private=False,
        resolver=resolver,
    )

    assert (result.success, result.status_code) == (False, None)
    assert result.error is not None and error in result.error
    assert looked_up == (["hooks.example.com"] if addresses else [])
    assert webhook_receiver.connections == 0


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    """Checked without connecting: every address must pass, not only the first."""
    with pytest.raises(UrlRejected, match=r"address not allowed: 10\.0\.0\.5"):
        resolve_checked(
            "hooks.example.com",
            443,
            allow_private=False,
            resolver=lambda host, port: ["93.184.215.14", "10.0.0.5"],
        )
    assert resolve_checked(
        "hooks.example.com",
        443,
        allow_private=False,
        resolver=lambda host, port: ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    ) == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]


def test_each_attempt_checks_the_url_rules_again(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    """An event accepted while private targets were allowed is refused once they are not."""
    tenant = api.tenant()
    session = submit_files(api, tenant, SLUG, [jpeg(seed=112)], webhookUrl=webhook_receiver.url)
    process_session(runtime, session["sessionId"])
    runtime.queue.huey.flush()
    [event] = outbox(api, session["sessionId"])
    strict = worker_services(
        api.settings.model_copy(update={"webhook_allow_private": False}),
        api.storage,
        queue=runtime.queue,
    )

    deliver(strict, event["id"])

    row = event_row(api, event["id"])
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, None)
    assert row["last_error"] == "webhookUrl must use https"
    assert webhook_receiver.connections == 0


# ---------------------------------------------------------------- review transitions


def review_session(
    api: LiveApi, runtime: WorkerServices, tenant: Tenant, receiver: WebhookReceiver, seed: int
) -> dict[str, Any]:
    """A session in ``review`` (blurred photo) whose completion event was delivered."""
    session = completed_session(api, runtime, tenant, receiver, jpeg(seed=seed, blur=6))
    assert len(receiver.requests) == 1
    return session


@pytest.mark.parametrize(
    ("action", "body", "event_type", "status", "extra"),
    [
        ("approve", {"note": "fine after all"}, "submission.approved", "approved", {}),
        (
            "reject",
            {"reason": "the shelf is not visible"},
            "submission.rejected",
            "rejected",
            {"reason": "the shelf is not visible"},
        ),
        (
            "cancel",
            {"reason": "visit recorded twice"},
            "submission.cancelled",
            "cancelled",
            {"reason": "visit recorded twice"},
        ),
        ("cancel", None, "submission.cancelled", "cancelled", {"reason": None}),
    ],
)
def test_each_review_transition_sends_exactly_one_event(
    api: LiveApi,
    runtime: WorkerServices,
    webhook_receiver: WebhookReceiver,
    action: str,
    body: dict[str, str] | None,
    event_type: str,
    status: str,
    extra: dict[str, Any],
) -> None:
    tenant = api.tenant()
    session = review_session(api, runtime, tenant, webhook_receiver, seed=113)
    path = f"/api/v1/submissions/{session['submissionId']}/{action}"

    with api.client(tenant) as client:
        response = client.post(path, json=body) if body is not None else client.post(path)
        assert response.status_code == 200, response.text
        run_until_idle(runtime)
        again = client.post(path, json=body) if body is not None else client.post(path)
    assert again.status_code == 409
    run_until_idle(runtime)

    first, request = webhook_receiver.requests
    sent = payload(request)
    job = get_job(api, tenant, session["sessionId"]).json()
    assert request.headers["x-webhook-event"] == event_type
    assert request.headers["x-webhook-id"] != first.headers["x-webhook-id"]
    assert set(sent) == CONTRACT_KEYS | set(extra)
    assert {key: sent[key] for key in extra} == extra
    assert (sent["eventType"], sent["state"], sent["submissionStatus"]) == (
        event_type,
        "completed",
        status,
    )
    assert {key: sent[key] for key in JOB_SNAPSHOT_KEYS} == {
        key: job[key] for key in JOB_SNAPSHOT_KEYS
    }
    assert sha256_signature_valid(tenant.key, request)
    assert standard_verify(tenant.key, request) == sent
    rows = outbox(api, session["sessionId"])
    assert [(r["event_type"], r["status"]) for r in rows] == [
        ("session.review_required", "delivered"),
        (event_type, "delivered"),
    ]


def test_resolving_a_fraud_match_sends_it_in_the_event(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    photo = jpeg(seed=114)
    completed_session(api, runtime, tenant, webhook_receiver, photo)
    duplicate = completed_session(api, runtime, tenant, webhook_receiver, photo)
    submission_id = duplicate["submissionId"]
    assert payload(webhook_receiver.requests[1])["result"]["fraudStatus"] == "blocked"

    with api.client(tenant) as client:
        [match] = client.get(f"/api/v1/submissions/{submission_id}/fraud-matches").json()["data"]
        path = f"/api/v1/submissions/{submission_id}/fraud-matches/{match['id']}/resolve"
        body = {"resolution": "false_positive", "note": "same shelf, another day"}
        resolved = client.post(path, json=body)
        assert resolved.status_code == 200, resolved.text
        run_until_idle(runtime)
        assert client.post(path, json=body).status_code == 409
    run_until_idle(runtime)

    assert len(webhook_receiver.requests) == 3
    request = webhook_receiver.requests[2]
    sent = payload(request)
    assert request.headers["x-webhook-event"] == "submission.fraud_match_resolved"
    assert set(sent) == CONTRACT_KEYS | {"fraudMatch"}
    assert sent["fraudMatch"] == resolved.json()
    assert sent["fraudMatch"]["id"] == match["id"]
    assert (sent["fraudMatch"]["status"], sent["fraudMatch"]["resolution"]) == (
        "resolved",
        "false_positive",
    )
    assert sent["fraudMatch"]["note"] == "same shelf, another day"
    assert (sent["submissionId"], sent["submissionStatus"]) == (submission_id, "review")
    assert sha256_signature_valid(tenant.key, request)


def test_a_cancel_before_processing_is_sent_then_the_completion(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    session = submit_files(api, tenant, SLUG, [jpeg(seed=115)], webhookUrl=webhook_receiver.url)
    with api.client(tenant) as client:
        cancel = f"/api/v1/submissions/{session['submissionId']}/cancel"
        response = client.post(cancel, json={"reason": "sent by mistake"})
    assert response.status_code == 200, response.text

    run_until_idle(runtime)  # processing runs after the cancel, then the delivery

    cancelled, completed = webhook_receiver.requests
    sent = payload(cancelled)
    assert cancelled.headers["x-webhook-event"] == "submission.cancelled"
    assert (sent["state"], sent["submissionStatus"], sent["reason"]) == (
        "submitted",
        "cancelled",
        "sent by mistake",
    )
    assert completed.headers["x-webhook-event"] == "session.completed"
    assert (payload(completed)["state"], payload(completed)["submissionStatus"]) == (
        "completed",
        "cancelled",
    )
    assert [r["event_type"] for r in outbox(api, session["sessionId"])] == [
        "submission.cancelled",
        "session.completed",
    ]
    job = get_job(api, tenant, session["sessionId"]).json()
    assert (job["state"], job["webhookDeliveryStatus"]) == ("completed", "delivered")


def test_the_job_view_follows_the_completion_event_not_later_ones(
    api: LiveApi, runtime: WorkerServices, webhook_receiver: WebhookReceiver
) -> None:
    tenant = api.tenant()
    session = review_session(api, runtime, tenant, webhook_receiver, seed=116)
    webhook_receiver.script([500, 500, 500])
    with api.client(tenant) as client:
        approve = f"/api/v1/submissions/{session['submissionId']}/approve"
        assert client.post(approve).status_code == 200

    run_until_idle(runtime)

    rows = outbox(api, session["sessionId"])
    assert [(r["event_type"], r["status"]) for r in rows] == [
        ("session.review_required", "delivered"),
        ("submission.approved", "failed"),
    ]
    assert get_job(api, tenant, session["sessionId"]).json()["webhookDeliveryStatus"] == (
        "delivered"
    )
