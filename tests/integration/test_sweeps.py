"""The worker's periodic upkeep (``steve_lite.sweeps``) on a real database, S3 bucket and queue.

Sessions are made through live API servers that share one data dir and bucket but differ in
their TTL or lease settings; the sweep functions are then called directly with a
:class:`~steve_lite.services.WorkerServices` like the worker's.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from steve_lite.clock import parse_iso, to_iso, utcnow
from steve_lite.queue import Queue
from steve_lite.services import WorkerServices
from steve_lite.sessions import store
from steve_lite.sweeps import (
    claim_period,
    expire_stale_sessions,
    purge_uploads,
    requeue_stale_submissions,
)
from steve_lite.wiring import worker_services
from tests.factories.photos import make_photo
from tests.support.api import LiveApi, Tenant, make_settings, open_database, start_live_api
from tests.support.servers import ThreadedServer
from tests.support.sessions import get_job, open_session
from tests.support.uploads import put_file


@dataclass
class Installation:
    """Two API servers on one data dir and bucket: ``short`` and ``long`` differ in one setting."""

    short: LiveApi
    long: LiveApi
    runtime: WorkerServices
    servers: list[ThreadedServer]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def installation(tmp_path: Path, embedded_s3: Any, setting: str) -> Installation:
    short_settings = make_settings(tmp_path, **{setting: 1})
    short, first = start_live_api(short_settings, embedded_s3)
    long_settings = make_settings(tmp_path, **{setting: 3600})
    long, second = start_live_api(long_settings, embedded_s3, bucket=short.storage.bucket)
    worker_settings = make_settings(tmp_path)  # the worker's own: default TTL and lease (300 s)
    runtime = worker_services(worker_settings, short.storage)
    return Installation(short=short, long=long, runtime=runtime, servers=[first, second])


@pytest.fixture
def ttl_pair(tmp_path: Path, embedded_s3: Any) -> Iterator[Installation]:
    pair = installation(tmp_path, embedded_s3, "session_ttl_seconds")
    yield pair
    pair.stop()


@pytest.fixture
def lease_pair(tmp_path: Path, embedded_s3: Any) -> Iterator[Installation]:
    pair = installation(tmp_path, embedded_s3, "processing_lease_seconds")
    yield pair
    pair.stop()


def session_row(api: LiveApi, session_id: str) -> dict[str, Any]:
    row = api.db.execute(
        "SELECT s.state, s.lease_until, s.objects_purged_at, sub.id AS submission_id, "
        "sub.status, sub.cancel_reason FROM sessions s "
        "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
        [session_id],
    ).fetchone()
    return dict(row)


def object_keys(api: LiveApi, session_id: str) -> list[str]:
    return [
        row[0]
        for row in api.db.execute(
            "SELECT object_key FROM session_files WHERE session_id = ? ORDER BY file_index",
            [session_id],
        )
    ]


def submit(api: LiveApi, tenant: Tenant, session: dict[str, Any]) -> None:
    put_file(session["uploadUrls"][0], make_photo(seed=61))
    with api.client(tenant) as client:
        response = client.post(
            f"/api/v1/workflows/compliance-vm/sessions/{session['sessionId']}/submit"
        )
    assert response.status_code == 200, response.text


def test_expiry_sweep_cancels_stale_sessions_and_deletes_their_objects(
    ttl_pair: Installation,
) -> None:
    short, long, runtime = ttl_pair.short, ttl_pair.long, ttl_pair.runtime
    tenant = short.tenant()
    uploaded = open_session(short, tenant, "compliance-vm", 2)
    empty = open_session(short, tenant, "compliance-vm", 1)
    fresh = open_session(long, tenant, "compliance-vm", 1)
    uploaded_keys = object_keys(short, uploaded["sessionId"])
    (fresh_key,) = object_keys(short, fresh["sessionId"])
    for key, seed in ((uploaded_keys[0], 62), (fresh_key, 63)):
        # signed here with a long expiry: the session's own upload URL lives 1 s at most
        url = short.storage.presign_put(key, timedelta(minutes=5))
        assert httpx.put(url, content=make_photo(seed=seed)).status_code == 200
    assert short.storage.read_head(uploaded_keys[0]) is not None
    deadline = max(parse_iso(s["expiresAt"]) for s in (uploaded, empty))
    while utcnow() <= deadline:
        time.sleep(0.05)

    assert expire_stale_sessions(runtime) == 2
    assert purge_uploads(runtime) == 2

    for session in (uploaded, empty):
        row = session_row(short, session["sessionId"])
        assert (row["state"], row["status"], row["cancel_reason"]) == (
            "expired",
            "cancelled",
            "session expired",
        )
        assert row["objects_purged_at"] is not None
        events = short.db.execute(
            "SELECT type, data FROM submission_events WHERE submission_id = ? ORDER BY seq",
            [row["submission_id"]],
        ).fetchall()
        assert [(e["type"], json.loads(e["data"])) for e in events] == [
            ("created", {"sessionId": session["sessionId"]}),
            ("cancelled", {"reason": "session expired"}),
        ]
        job = get_job(short, tenant, session["sessionId"]).json()
        assert (job["state"], job["submissionStatus"]) == ("expired", "cancelled")
    assert [short.storage.read_head(key) for key in uploaded_keys] == [None, None]

    untouched = session_row(short, fresh["sessionId"])
    assert (untouched["state"], untouched["status"]) == ("pending", "created")
    assert short.storage.read_head(fresh_key) is not None

    assert expire_stale_sessions(runtime) == 0  # already done: nothing twice
    assert purge_uploads(runtime) == 0


def test_sessions_left_submitted_past_their_lease_are_requeued(lease_pair: Installation) -> None:
    short, long, runtime = lease_pair.short, lease_pair.long, lease_pair.runtime
    tenant = short.tenant()
    lapsed = open_session(short, tenant, "compliance-vm", 1)
    submit(short, tenant, lapsed)  # no queue on these servers: as if the enqueue was lost
    leased = open_session(long, tenant, "compliance-vm", 1)
    submit(long, tenant, leased)
    lease_end = parse_iso(session_row(short, lapsed["sessionId"])["lease_until"])
    while utcnow() <= lease_end:
        time.sleep(0.05)
    # Two sweeps (of two workers, on two machines) that read the lapsed lease at once: one takes it.
    racing = [make_settings(short.settings.data_dir) for _ in range(2)]
    now, renewal = utcnow(), utcnow() + timedelta(seconds=60)
    taken = [
        store.take_lapsed_lease(open_database(s), lapsed["sessionId"], now, renewal) for s in racing
    ]
    assert taken == [True, False]
    short.db.execute(
        "UPDATE sessions SET lease_until = ? WHERE id = ?", [to_iso(lease_end), lapsed["sessionId"]]
    )
    held_until = session_row(long, leased["sessionId"])["lease_until"]
    queue = runtime.queue
    assert queue.pending_count() == 0

    assert requeue_stale_submissions(runtime) == 1

    reader = Queue(runtime.settings)  # what a worker would read from the queue file
    (task,) = reader.huey.pending()
    assert (task.name, task.args) == ("process_session", (lapsed["sessionId"],))
    assert reader.pending_count() == 1
    renewed = parse_iso(session_row(short, lapsed["sessionId"])["lease_until"])
    assert renewed > utcnow()  # a new lease, so the next sweep does not queue it again
    assert session_row(short, lapsed["sessionId"])["state"] == "submitted"
    assert session_row(long, leased["sessionId"])["lease_until"] == held_until
    assert requeue_stale_submissions(runtime) == 0
    assert reader.pending_count() == 1


def test_purge_deletes_upload_originals_once_their_urls_expired_and_keeps_sealed_copies(
    ttl_pair: Installation,
) -> None:
    short, long, runtime = ttl_pair.short, ttl_pair.long, ttl_pair.runtime
    tenant = short.tenant()
    session = open_session(long, tenant, "compliance-vm", 1)
    submit(long, tenant, session)
    row = short.db.execute(
        "SELECT object_key, sealed_key FROM session_files WHERE session_id = ?",
        [session["sessionId"]],
    ).fetchone()
    upload, sealed = row["object_key"], row["sealed_key"]
    assert sealed == f"sealed/{upload}"
    assert purge_uploads(runtime) == 0  # its upload URL may still be valid
    # An hour later (the session's TTL): no upload URL of it is valid any more.
    past = to_iso(utcnow() - timedelta(seconds=1))
    short.db.execute(
        "UPDATE sessions SET expires_at = ? WHERE id = ?", [past, session["sessionId"]]
    )

    assert purge_uploads(runtime) == 1

    assert short.storage.read_head(upload) is None
    assert short.storage.read_head(sealed) is not None
    assert session_row(short, session["sessionId"])["state"] == "submitted"
    assert purge_uploads(runtime) == 0


def test_the_sweep_is_claimed_once_per_period_whichever_worker_asks(tmp_path: Path) -> None:
    workers = [open_database(make_settings(tmp_path)) for _ in range(3)]  # three connections
    assert [claim_period(db, "sweep", 1) for db in workers] == [True, False, False]
    assert claim_period(workers[0], "expiry", 1)  # another periodic job has its own claim
    time.sleep(0.85)  # a claim lasts 80 % of the period
    assert [claim_period(db, "sweep", 1) for db in reversed(workers)] == [True, False, False]
    (holder,) = workers[0].execute("SELECT holder FROM periodic_claims WHERE name = 'sweep'")
    assert holder[0].endswith(f":{os.getpid()}")
