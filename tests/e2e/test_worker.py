"""``steve-lite worker`` as a real process: killed mid-job, idle pickup, and shutdown signals."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from steve_lite.clock import parse_iso, utcnow
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.pages import render_page
from tests.factories.photos import make_photo
from tests.fixtures.receiver import WebhookReceiver
from tests.support.api import LiveApi
from tests.support.processes import ServerProcess
from tests.support.sessions import submit_files, wait_for_job
from tests.support.waiting import wait_until
from tests.support.worker import WorkerStack, event_types, start_stack, wait_for_event

LEASE_SECONDS = 3
COMPLETED_EVENTS = ["created", "submitted", "processing_started", "processing_completed"]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    """API and workers on one data dir; workers hold a processing lease of 3 s (renewed per file)
    and may post webhooks to the loopback receiver."""
    stack = start_stack(
        tmp_path_factory.mktemp("e2e-worker"),
        embedded_s3,
        webhook_allow_private=True,
        worker_env={
            "STEVE_PROCESSING_LEASE_SECONDS": str(LEASE_SECONDS),
            "STEVE_WEBHOOK_ALLOW_PRIVATE": "true",
        },
    )
    yield stack
    stack.stop()


def document(pages: int) -> list[bytes]:
    return [
        render_page(
            [f"Page {n + 1} of the long document", "Lorem ipsum dolor sit amet"],
            width=736,  # OCR scales a shorter side up to 736 px, which costs time
            height=736,
            fmt="JPEG",
        )
        for n in range(pages)
    ]


def session_state(api: LiveApi, session_id: str) -> dict[str, Any]:
    row = api.db.execute(
        "SELECT state, lease_until FROM sessions WHERE id = ?", [session_id]
    ).fetchone()
    return dict(row)


def stop_and_check_clean_exit(worker: ServerProcess, sig: int) -> None:
    assert worker.stop(sig, timeout=30) == 0, worker.output()
    output = worker.output()
    assert "Traceback" not in output, output
    assert "worker stopped" in output


def test_a_job_killed_half_way_finishes_exactly_once(
    stack: WorkerStack, webhook_receiver: WebhookReceiver
) -> None:
    api = stack.api
    tenant = api.tenant()
    first = stack.start_worker()
    session = submit_files(
        api, tenant, "document-ocr", document(20), webhookUrl=webhook_receiver.url
    )
    session_id, submission_id = session["sessionId"], session["submissionId"]
    wait_for_event(api.db, submission_id, "processing_started")

    def hashed() -> bool:  # every file downloaded and hashed: OCR of the 20 pages has begun
        row = api.db.execute(
            "SELECT count(*) FROM session_files WHERE session_id = ? AND phash IS NOT NULL",
            [session_id],
        ).fetchone()
        return row[0] == 20

    wait_until(hashed, 60, "hashing of the 20 pages")
    first.process.send_signal(signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL

    state = session_state(api, session_id)
    assert state["state"] == "submitted"  # killed half-way, not after the end
    assert event_types(api.db, submission_id) == ["created", "submitted", "processing_started"]
    lease_end = parse_iso(state["lease_until"])
    assert lease_end <= utcnow() + timedelta(seconds=LEASE_SECONDS)
    wait_until(lambda: utcnow() > lease_end, LEASE_SECONDS + 5, "the end of the lease")

    second = stack.start_worker()  # its sweep runs at start and re-queues the session
    job = wait_for_job(api, tenant, session_id, timeout=120, worker=second)
    assert (job["state"], job["submissionStatus"]) == ("completed", "approved"), job
    assert [page["pageIndex"] for page in job["result"]["extractedData"]["pages"]] == list(
        range(20)
    )
    assert "re-queued session " + session_id in second.output()
    assert event_types(api.db, submission_id) == COMPLETED_EVENTS
    result_rows = api.db.execute(
        "SELECT count(*) FROM submissions WHERE session_id = ? AND result IS NOT NULL",
        [session_id],
    ).fetchone()
    assert result_rows[0] == 1

    (delivered,) = webhook_receiver.wait_for(1, timeout=30)
    assert delivered.headers["x-webhook-event"] == "session.completed"
    wait_until(
        lambda: (
            api.db.execute(
                "SELECT status FROM webhook_events WHERE session_id = ?", [session_id]
            ).fetchone()[0]
            == "delivered"
        ),
        30,
        "the delivery being recorded",
    )
    outbox = api.db.execute(
        "SELECT event_type, status, attempts FROM webhook_events WHERE session_id = ?",
        [session_id],
    ).fetchall()
    assert [tuple(row) for row in outbox] == [("session.completed", "delivered", 1)]
    assert len(webhook_receiver.requests) == 1
    stop_and_check_clean_exit(second, signal.SIGTERM)


def test_an_idle_worker_picks_up_a_new_session(stack: WorkerStack) -> None:
    api = stack.api
    tenant = api.tenant()
    worker = stack.start_worker()
    time.sleep(1)  # let the consumer go idle: its polling backs off to the 0.05 s maximum
    session = submit_files(api, tenant, "compliance-vm", [make_photo(seed=71)])
    started = wait_for_event(api.db, session["submissionId"], "processing_started", timeout=30)
    submitted = api.db.execute(
        "SELECT submitted_at FROM sessions WHERE id = ?", [session["sessionId"]]
    ).fetchone()[0]
    delay = parse_iso(started["occurred_at"]) - parse_iso(submitted)
    print(f"\nidle worker picked the session up {delay.total_seconds():.3f} s after submit")
    job = wait_for_job(api, tenant, session["sessionId"], worker=worker)
    assert job["state"] == "completed"
    stop_and_check_clean_exit(worker, signal.SIGINT)


def test_sigint_lets_the_running_job_finish(stack: WorkerStack) -> None:
    api = stack.api
    tenant = api.tenant()
    worker = stack.start_worker()
    session = submit_files(api, tenant, "document-ocr", document(2))
    wait_for_event(api.db, session["submissionId"], "processing_started")
    stop_and_check_clean_exit(worker, signal.SIGINT)
    assert session_state(api, session["sessionId"])["state"] == "completed"
    assert event_types(api.db, session["submissionId"]) == COMPLETED_EVENTS


def test_sigterm_stops_at_once_and_the_job_is_finished_later(stack: WorkerStack) -> None:
    api = stack.api
    tenant = api.tenant()
    worker = stack.start_worker()
    session = submit_files(api, tenant, "document-ocr", document(3))
    session_id, submission_id = session["sessionId"], session["submissionId"]
    wait_for_event(api.db, submission_id, "processing_started")
    stop_and_check_clean_exit(worker, signal.SIGTERM)
    assert "terminate called" not in worker.output()
    state = session_state(api, session_id)
    assert state["state"] == "submitted"
    lease_end = parse_iso(state["lease_until"])
    wait_until(lambda: utcnow() > lease_end, LEASE_SECONDS + 5, "the end of the lease")
    again = stack.start_worker()
    job = wait_for_job(api, tenant, session_id, worker=again)
    assert (job["state"], job["submissionStatus"]) == ("completed", "approved")
    assert event_types(api.db, submission_id) == COMPLETED_EVENTS
    stop_and_check_clean_exit(again, signal.SIGTERM)


def test_a_worker_that_cannot_start_exits_with_a_message(tmp_path: Path) -> None:
    """No S3 endpoint and no embedded server running: a clear error, no traceback."""
    worker = ServerProcess(tmp_path / "data", "worker")
    try:
        code = worker.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.stop()
        raise
    output = worker.output()
    worker.stop()
    assert code != 0
    assert "no object storage" in output
    assert "Traceback" not in output
