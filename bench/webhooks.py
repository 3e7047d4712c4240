"""Webhook delivery speed: commit-to-receipt latency, and deliveries per second.

Starts ``steve-lite up`` (API, worker, embedded S3 server) in a temp data dir with
``STEVE_WEBHOOK_ALLOW_PRIVATE=1`` and a healthy receiver on 127.0.0.1 that answers 200 at once.

1. Latency: ``--sessions`` compliance-vm sessions, one at a time: create (with the receiver as
   ``webhookUrl``), upload one photo, submit, wait for the webhook. For each, the time from the
   session's completion commit (its ``processedAt``, the timestamp written in the transaction
   that also writes the outbox row) to the moment the receiver read the request. Prints p50 and
   p99 (target: p50 under 500 ms).
2. Throughput: ``--events`` outbox rows written at once with ``record_event`` on one real
   session, then queued for delivery as the pipeline does; prints deliveries per second from the
   first enqueue until every row is ``delivered`` in the database.

Everything runs on this machine, so the load generator, the receiver and the worker share its
CPUs.

    .venv/bin/python -m bench.webhooks [--sessions 40] [--events 1000]

Exit code 0 when every webhook arrived exactly once, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    HOST,
    Process,
    create_company_key,
    load_note,
    percentile,
    print_table,
    start_steve,
)
from steve_lite import db as database
from steve_lite.db import transaction
from steve_lite.queue import Queue
from steve_lite.settings import Settings
from steve_lite.webhooks.outbox import record_event
from tests.factories.photos import make_photo
from tests.fixtures.receiver import WebhookReceiver

SLUG = "compliance-vm"
TARGET_P50_MS = 500.0
HIGH_LIMIT = "1000000"


def start_up(data_dir: Path) -> Process:
    """``steve-lite up`` on a free port, private webhook targets allowed, no OCR warm-up."""
    return start_steve(
        data_dir,
        command="up",
        STEVE_WEBHOOK_ALLOW_PRIVATE="1",
        STEVE_OCR_WARMUP="false",  # compliance-vm does not use the OCR engine
        STEVE_RATE_LIMIT_SESSION=HIGH_LIMIT,
        STEVE_RATE_LIMIT_SUBMIT=HIGH_LIMIT,
        STEVE_RATE_LIMIT_READ=HIGH_LIMIT,
    )


def wall_clock(received_at: float, offset: float) -> float:
    """The receiver records ``time.monotonic()``; ``offset`` turns it into Unix time."""
    return received_at + offset


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done in {timeout} s")
        time.sleep(0.005)


def run_session(
    client: httpx.Client, receiver: WebhookReceiver, photo: bytes, index: int
) -> dict[str, Any]:
    """Create, upload, submit; wait for the completion webhook; the job view."""
    created = client.post(
        f"/api/v1/workflows/{SLUG}/sessions",
        json={
            "fileCount": 1,
            "contentTypes": ["image/jpeg"],
            "clientSubmissionId": f"bench-{index}",
            "webhookUrl": receiver.url,
        },
    )
    created.raise_for_status()
    session = created.json()
    upload = session["uploadUrls"][0]
    httpx.put(upload["uploadUrl"], content=photo, headers=upload["headers"]).raise_for_status()
    before = len(receiver.requests)
    client.post(
        f"/api/v1/workflows/{SLUG}/sessions/{session['sessionId']}/submit"
    ).raise_for_status()
    wait_until(lambda: len(receiver.requests) > before, 60, f"webhook of session {index}")
    return client.get(f"/api/v1/jobs/{session['sessionId']}").json()


def measure_latency(
    client: httpx.Client, receiver: WebhookReceiver, sessions: int, offset: float
) -> tuple[list[float], str]:
    """Commit-to-receipt latencies in ms, and the id of the last session."""
    photos = [make_photo(640, 480, seed=1000 + i) for i in range(sessions)]
    run_session(client, receiver, make_photo(640, 480, seed=999), -1)  # warm-up, not counted
    latencies = []
    session_id = ""
    for index, photo in enumerate(photos):
        job = run_session(client, receiver, photo, index)
        request = receiver.requests[-1]
        event = json.loads(request.body)
        assert event["sessionId"] == job["sessionId"], "webhooks arrived out of order"
        received = wall_clock(request.received_at, offset)
        latencies.append((received - epoch(job["processedAt"])) * 1000)
        session_id = job["sessionId"]
    return latencies, session_id


def measure_throughput(
    data_dir: Path, receiver: WebhookReceiver, session_id: str, events: int
) -> dict[str, float]:
    """Write ``events`` outbox rows at once, queue them, time until all are delivered."""
    settings = Settings(data_dir=data_dir)
    db = database.connect(settings.database_path)
    queue = Queue(settings)
    with transaction(db):
        ids = [record_event(db, session_id, "session.completed") for _ in range(events)]
    event_ids = [event_id for event_id in ids if event_id is not None]
    assert len(event_ids) == events

    def delivered() -> int:
        return int(
            db.execute(
                "SELECT COUNT(*) FROM webhook_events WHERE session_id = ? AND status = 'delivered'",
                [session_id],
            ).fetchone()[0]
        )

    already = len(receiver.requests)
    started = time.monotonic()
    for event_id in event_ids:
        queue.enqueue_delivery(event_id)
    enqueued = time.monotonic()
    wait_until(lambda: len(receiver.requests) - already >= events, 600, "receipts")
    received = time.monotonic()
    wait_until(lambda: delivered() == events + 1, 120, "delivered rows")  # + the session's own
    finished = time.monotonic()
    duplicates = len(receiver.requests) - already - events
    return {
        "enqueue_s": enqueued - started,
        "receive_s": received - started,
        "total_s": finished - started,
        "duplicates": float(duplicates),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="steve-bench-webhooks-") as tmp:
        data_dir = Path(tmp) / "data"
        key = create_company_key(data_dir, "bench", [SLUG])
        receiver = WebhookReceiver()
        offset = time.time() - time.monotonic()
        server = start_up(data_dir)
        try:
            server.wait_ready("/readyz", timeout=120)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                latencies, session_id = measure_latency(client, receiver, args.sessions, offset)
            throughput = measure_throughput(data_dir, receiver, session_id, args.events)
        except Exception:
            print(server.output()[-4000:], file=sys.stderr)
            raise
        finally:
            server.stop(timeout=40)
            receiver.stop()

    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    rate = args.events / throughput["total_s"]
    print(f"webhooks to a local receiver ({HOST}); steve-lite up, default worker threads")
    print(load_note())
    print()
    print_table(
        ["commit to receipt", "sessions", "p50 ms", "p99 ms", "min ms", "max ms", "mean ms"],
        [
            [
                "completion webhook",
                str(len(latencies)),
                f"{p50:.1f}",
                f"{p99:.1f}",
                f"{min(latencies):.1f}",
                f"{max(latencies):.1f}",
                f"{statistics.fmean(latencies):.1f}",
            ]
        ],
    )
    verdict = "met" if p50 < TARGET_P50_MS else "NOT met"
    print(f"target p50 < {TARGET_P50_MS:.0f} ms: {verdict}")
    print()
    print_table(
        ["queued events", "events", "enqueue s", "all received s", "all delivered s", "per s"],
        [
            [
                "deliveries",
                str(args.events),
                f"{throughput['enqueue_s']:.2f}",
                f"{throughput['receive_s']:.2f}",
                f"{throughput['total_s']:.2f}",
                f"{rate:.0f}",
            ]
        ],
    )
    print(f"duplicate deliveries: {int(throughput['duplicates'])}")
    return 0 if throughput["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
