"""A session whose processing keeps raising an unexpected error ends ``failed`` (issue 13).

The error is injected into a real ``steve-lite worker`` from outside the package: a
``sitecustomize`` module on its ``PYTHONPATH`` makes reading the files raise, as a bug or a
``MemoryError`` would. The whole path is checked: bounded attempts, the session and submission
``failed`` with a reason that carries no stack trace, the ``session.failed`` webhook, and no
re-queue by the sweep afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.sweeps import requeue_stale_submissions
from tests.factories.receipts import random_receipt_spec, render_receipt
from tests.fixtures.receiver import WebhookReceiver
from tests.support.processing import runtime_for
from tests.support.worker import (
    event_types,
    start_stack,
    submit_files,
    wait_for_job,
    wait_worker_ready,
)

INJECTION = """
import steve_lite.processing.pipeline as pipeline

def read_files(*args, **kwargs):
    raise MemoryError("injected by the test")

pipeline.read_files = read_files
"""


def test_a_session_that_keeps_failing_ends_failed_after_bounded_attempts(
    tmp_path: Path, embedded_s3: EmbeddedS3, webhook_receiver: WebhookReceiver
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(INJECTION)
    stack = start_stack(tmp_path / "data", embedded_s3, webhook_allow_private=True)
    try:
        worker = stack.start_worker(
            ready=False,
            PYTHONPATH=str(hooks),
            STEVE_WEBHOOK_ALLOW_PRIVATE="true",
            STEVE_OCR_WARMUP="false",  # the injected error comes before any OCR
        )
        wait_worker_ready(worker, threads=0)
        api, tenant = stack.api, stack.api.tenant()
        receipt = render_receipt(random_receipt_spec(3))
        session = submit_files(
            api, tenant, "receipt-ocr", [receipt], webhookUrl=webhook_receiver.url
        )

        job = wait_for_job(api, tenant, session["sessionId"], timeout=300, worker=worker)
        webhook_receiver.wait_for(1, timeout=60)
    finally:
        stack.stop()

    assert (job["state"], job["submissionStatus"]) == ("failed", "failed")
    assert job["failedReason"] == (
        "processing failed for an internal reason after 3 attempts; "
        "the operator's logs have the details"
    )
    db = stack.api.db
    row = db.execute(
        "SELECT processing_attempts FROM sessions WHERE id = ?", [session["sessionId"]]
    ).fetchone()
    assert row[0] == 3
    assert event_types(db, session["submissionId"]).count("processing_failed") == 1
    (delivery,) = webhook_receiver.requests
    assert json.loads(delivery.body)["eventType"] == "session.failed"
    assert worker.output().count("MemoryError: injected by the test") == 3  # logged, not sent
    db.execute("UPDATE sessions SET lease_until = NULL WHERE id = ?", [session["sessionId"]])
    assert requeue_stale_submissions(runtime_for(api)) == 0  # finished: never re-queued
