"""Crashes and concurrency with real processes: nothing half-written, nothing lost, nothing twice.

- The API killed (SIGKILL) during a burst of creates: every session that exists has its
  submission, its ``created`` event and all its file slots; every 201 was committed; a client
  retrying with the same ``clientSubmissionId`` gets exactly one session.
- The worker killed during processing, and during a webhook delivery: after a restart every
  session ends once (one outcome event, one result, one completion event in the outbox,
  delivered; a delivery cut off mid-attempt is sent again with the same ``X-Webhook-Id``).
- Two API processes and one worker on one database under mixed load: no 5xx and no "database
  is locked" reaches a client or a log.
- The object storage server killed and restarted during uploads: ``/readyz`` says so, submit
  answers 503 ``service-unavailable`` and leaves the session pending, and everything works
  again once it is back.
- Secrets in logs: a whole flow at ``DEBUG`` (create, upload, submit, process, signed webhook,
  review, webhook probe), then the API and worker logs are searched for the key, its hash, the
  storage secret, URL signatures and webhook signatures.

Marker ``harden``: ``just harden`` runs these (a few minutes on two cores), not ``just test``.
Figures go to the JUnit report as properties.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from steve_lite.db import Database
from steve_lite.security.api_keys import hash_key
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.pages import render_page
from tests.factories.photos import make_photo
from tests.fixtures.receiver import ScriptedResponse, WebhookReceiver
from tests.support.api import Tenant, make_settings, make_tenant, open_database
from tests.support.processes import ServerProcess, s3_env
from tests.support.sessions import create_session, upload_and_submit
from tests.support.uploads import create_body, put_file
from tests.support.waiting import wait_until
from tests.support.worker import wait_worker_ready

pytestmark = pytest.mark.harden

Record = Callable[[str, object], None]
RATE_LIMITS = {
    f"STEVE_RATE_LIMIT_{bucket}": "1000000"
    for bucket in ("READ", "SESSION", "SUBMIT", "WEBHOOK_TEST", "REVIEW")
}
WORKER_ENV = {
    "STEVE_WORKERS": "2",
    "STEVE_WORKER_POLL_SECONDS": "0.05",
    "STEVE_OCR_WARMUP": "false",  # built on first use: most sessions here need no OCR
    "STEVE_PROCESSING_LEASE_SECONDS": "3",
    "STEVE_WEBHOOK_ALLOW_PRIVATE": "true",
}
FINAL = ("completed", "failed")
LOG_LEVEL = os.environ.get("STEVE_LOG_LEVEL", "INFO")  # bench/harden.py runs these at DEBUG
COMPLETION_EVENTS = ("session.completed", "session.review_required", "session.failed")
OUTCOME_EVENTS = ("processing_completed", "processing_failed")


# ---------------------------------------------------------------- helpers


@dataclass
class Site:
    """A data dir, its storage bucket, one tenant and the processes started on it."""

    data_dir: Path
    env: dict[str, str]
    tenant: Tenant
    processes: list[ServerProcess] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return open_database(make_settings(self.data_dir))

    def start(self, command: str = "serve", **env: str) -> ServerProcess:
        env = {"STEVE_LOG_LEVEL": LOG_LEVEL, **self.env, **env}
        process = ServerProcess(self.data_dir, command, **env)
        self.processes.append(process)
        if command == "serve":
            process.wait_ready()
        else:
            wait_worker_ready(process, threads=0)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop(signal.SIGKILL if process.process.poll() is None else signal.SIGTERM)


@pytest.fixture
def site(tmp_path: Path, embedded_s3: EmbeddedS3) -> Iterator[Site]:
    data_dir = tmp_path / "data"
    tenant = make_tenant(open_database(make_settings(data_dir)))
    env = {**s3_env(embedded_s3), **RATE_LIMITS, "STEVE_WEBHOOK_ALLOW_PRIVATE": "true"}
    site = Site(data_dir=data_dir, env=env, tenant=tenant)
    yield site
    site.stop_all()


def kill(process: ServerProcess) -> None:
    process.process.send_signal(signal.SIGKILL)
    assert process.process.wait(timeout=10) == -signal.SIGKILL


def client(server: ServerProcess, tenant: Tenant) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=tenant.headers, timeout=30)


def photo(seed: int) -> bytes:
    return make_photo(320, 240, seed=seed)


def submit_session(
    http: httpx.Client,
    slug: str,
    files: list[bytes],
    **extra: Any,
) -> dict[str, Any]:
    session = create_session(http, slug, len(files), **extra)
    upload_and_submit(http, slug, session, files)
    return session


def states(db: Database, session_ids: list[str]) -> Counter[str]:
    marks = ",".join("?" for _ in session_ids)
    rows = db.execute(f"SELECT state FROM sessions WHERE id IN ({marks})", session_ids)
    return Counter(row[0] for row in rows)


def check_finished_once(db: Database, session_ids: list[str]) -> None:
    """One outcome event, one result, one completion event in the outbox, delivered."""
    for session_id in session_ids:
        row = db.execute(
            "SELECT s.state, sub.id, sub.result FROM sessions s "
            "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
            [session_id],
        ).fetchone()
        assert row["state"] in FINAL, dict(row)
        assert row["result"] is not None or row["state"] == "failed"
        outcomes = db.execute(
            "SELECT type FROM submission_events WHERE submission_id = ? AND type IN (?, ?)",
            [row["id"], *OUTCOME_EVENTS],
        ).fetchall()
        assert len(outcomes) == 1, (session_id, outcomes)
        started = db.execute(
            "SELECT count(*) FROM submission_events WHERE submission_id = ? "
            "AND type = 'processing_started'",
            [row["id"]],
        ).fetchone()[0]
        assert started == 1, (session_id, started)
        completions = db.execute(
            "SELECT event_type, status FROM webhook_events WHERE session_id = ? "
            "AND event_type IN (?, ?, ?)",
            [session_id, *COMPLETION_EVENTS],
        ).fetchall()
        assert [c["status"] for c in completions] == ["delivered"], (session_id, completions)


def deliveries_by_session(receiver: WebhookReceiver) -> dict[str, set[str]]:
    """Completion event ids received per session (a redelivery repeats an id)."""
    found: dict[str, set[str]] = {}
    for request in receiver.requests:
        body = json.loads(request.body)
        if body.get("eventType") in COMPLETION_EVENTS:
            found.setdefault(body["sessionId"], set()).add(request.headers["x-webhook-id"])
    return found


# ---------------------------------------------------------------- the API killed mid-burst


def test_api_killed_during_a_burst_of_creates_leaves_no_half_written_session(
    site: Site, record_property: Record
) -> None:
    server = site.start()
    outcomes: dict[str, str] = {}  # clientSubmissionId -> "201" / "error: ..." / status
    bodies: dict[str, dict[str, Any]] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def burst(worker: int) -> None:
        rng = random.Random(worker)
        with client(server, site.tenant) as http:
            for _ in range(400):  # bounded; the kill ends it long before
                if stop.is_set():
                    return
                count = rng.randint(1, 3)
                body = create_body(count, clientSubmissionId=f"burst-{uuid.uuid4().hex}")
                with lock:
                    bodies[body["clientSubmissionId"]] = body
                try:
                    response = http.post("/api/v1/compliance/sessions", json=body)
                    outcome = str(response.status_code)
                except httpx.TransportError as exc:
                    outcome = f"error: {type(exc).__name__}"
                with lock:
                    outcomes[body["clientSubmissionId"]] = outcome
                if outcome.startswith("error"):
                    return

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(burst, n) for n in range(8)]

        def answered() -> int:
            with lock:
                return sum(outcome == "201" for outcome in outcomes.values())

        wait_until(lambda: answered() >= 40, 60, "40 creates", server)
        kill(server)
        stop.set()
        for future in futures:
            future.result(timeout=60)

    created = [cid for cid, outcome in outcomes.items() if outcome == "201"]
    cut = [cid for cid, outcome in outcomes.items() if outcome.startswith("error")]
    assert len(created) + len(cut) == len(outcomes), Counter(outcomes.values())  # no 5xx
    db = site.db
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert_no_half_written_session(db)
    stored = {
        row[0]: row[1]
        for row in db.execute(
            "SELECT client_submission_id, id FROM sessions WHERE company_id = ?",
            [site.tenant.company["id"]],
        )
    }
    assert set(created) <= set(stored)  # every 201 had been committed

    # The client retries what the kill cut off, with the same idempotency keys.
    server = site.start()
    retried = Counter[int]()
    with client(server, site.tenant) as http:
        for cid in cut:
            response = http.post("/api/v1/compliance/sessions", json=bodies[cid])
            retried[response.status_code] += 1
            assert response.status_code in (200, 201), response.text
            if response.status_code == 200:
                assert response.json()["sessionId"] == stored[cid]  # committed before the kill
    db = site.db
    assert_no_half_written_session(db)
    sessions = db.execute(
        "SELECT client_submission_id, count(*) FROM sessions WHERE company_id = ? "
        "GROUP BY client_submission_id",
        [site.tenant.company["id"]],
    ).fetchall()
    assert {row[0] for row in sessions} == set(created) | set(cut)
    assert all(row[1] == 1 for row in sessions)
    record_property("api_kill_creates_answered", len(created))
    record_property("api_kill_requests_cut", len(cut))
    record_property("api_kill_retries", json.dumps(dict(retried)))
    print(f"\nAPI killed after {len(created)} creates; {len(cut)} cut off; retries {dict(retried)}")


def assert_no_half_written_session(db: Database) -> None:
    """Sessions, submissions, file slots and ``created`` events exist together or not at all."""
    without_submission = db.execute(
        "SELECT s.id FROM sessions s LEFT JOIN submissions sub ON sub.session_id = s.id "
        "GROUP BY s.id HAVING count(sub.id) != 1"
    ).fetchall()
    assert not without_submission
    slots = db.execute(
        "SELECT s.id, s.file_count, count(f.file_index) FROM sessions s "
        "LEFT JOIN session_files f ON f.session_id = s.id GROUP BY s.id "
        "HAVING count(f.file_index) != s.file_count"
    ).fetchall()
    assert not slots, [tuple(row) for row in slots]
    orphans = db.execute(
        "SELECT sub.id FROM submissions sub LEFT JOIN sessions s ON s.id = sub.session_id "
        "WHERE s.id IS NULL"
    ).fetchall()
    assert not orphans
    no_event = db.execute(
        "SELECT sub.id FROM submissions sub WHERE NOT EXISTS (SELECT 1 FROM submission_events e "
        "WHERE e.submission_id = sub.id AND e.type = 'created')"
    ).fetchall()
    assert not no_event


# ---------------------------------------------------------------- the worker killed


def document(pages: int) -> list[bytes]:
    return [
        render_page(
            [f"Page {n + 1}", "Lorem ipsum dolor sit amet"], width=700, height=260, fmt="JPEG"
        )
        for n in range(pages)
    ]


def test_worker_killed_during_processing_finishes_everything_once(
    site: Site, record_property: Record
) -> None:
    receiver = WebhookReceiver()
    server = site.start()
    worker = site.start("worker", **WORKER_ENV)
    try:
        session_ids = []
        with client(server, site.tenant) as http:
            for seed in range(6):
                session = submit_session(
                    http, "compliance-vm", [photo(300 + seed)], webhookUrl=receiver.url
                )
                session_ids.append(session["sessionId"])
            for _ in range(2):
                session = submit_session(http, "document-ocr", document(4), webhookUrl=receiver.url)
                session_ids.append(session["sessionId"])
        db = site.db
        wait_until(
            lambda: states(db, session_ids)["submitted"] <= len(session_ids) - 2,
            120,
            "the first sessions to finish",
            worker,
            interval=0.02,
        )
        kill(worker)
        at_kill = states(db, session_ids)
        assert at_kill["submitted"] >= 1, at_kill  # killed with work in hand

        second = site.start("worker", **WORKER_ENV)
        wait_until(lambda: set(states(db, session_ids)) <= set(FINAL), 240, "all sessions", second)
        wait_until(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM webhook_events WHERE status != 'delivered'"
                ).fetchone()[0]
                == 0
            ),
            180,
            "every webhook delivered",
            second,
        )
        check_finished_once(db, session_ids)
        received = deliveries_by_session(receiver)
        assert set(received) == set(session_ids)
        assert all(len(ids) == 1 for ids in received.values()), received
        redeliveries = len(receiver.requests) - len(session_ids)
        assert "Traceback" not in second.output()
    finally:
        receiver.stop()
    record_property("worker_kill_sessions", len(session_ids))
    record_property("worker_kill_unfinished_at_kill", at_kill["submitted"])
    record_property("worker_kill_redeliveries", redeliveries)
    print(f"\nworker killed with {at_kill['submitted']} of {len(session_ids)} sessions unfinished")


def test_worker_killed_during_a_webhook_delivery_delivers_it_after_a_restart(
    site: Site, record_property: Record
) -> None:
    """The kill lands while the receiver holds the POST open: the attempt is never recorded;
    the sweep sends the event again once its in-flight window has passed."""
    receiver = WebhookReceiver()
    receiver.script([ScriptedResponse(delay=20)])  # holds the first attempt open
    env = {**WORKER_ENV, "STEVE_WEBHOOK_TIMEOUT_SECONDS": "5"}
    server = site.start()
    worker = site.start("worker", **env)
    try:
        with client(server, site.tenant) as http:
            session = submit_session(http, "compliance-vm", [photo(401)], webhookUrl=receiver.url)
        receiver.wait_for(1, timeout=60)
        kill(worker)
        killed_at = time.monotonic()
        db = site.db
        event = dict(
            db.execute(
                "SELECT * FROM webhook_events WHERE session_id = ?", [session["sessionId"]]
            ).fetchone()
        )
        assert (event["status"], event["attempts"]) == ("pending", 1), event

        second = site.start("worker", **env)
        wait_until(
            lambda: (
                db.execute(
                    "SELECT status FROM webhook_events WHERE id = ?", [event["id"]]
                ).fetchone()[0]
                == "delivered"
            ),
            200,
            "the redelivery",
            second,
            interval=0.5,
        )
        waited = time.monotonic() - killed_at
        requests = receiver.requests
        assert [r.headers["x-webhook-id"] for r in requests] == [event["id"], event["id"]]
        assert requests[0].body == requests[1].body
        check_finished_once(db, [session["sessionId"]])
    finally:
        receiver.stop()
    record_property("delivery_kill_redelivered_after_seconds", round(waited, 1))
    print(f"\ndelivery cut by the kill was sent again {waited:.0f} s later, same X-Webhook-Id")


# ---------------------------------------------------------------- two APIs, one worker


def test_two_apis_and_a_worker_on_one_database_under_load(
    site: Site, record_property: Record
) -> None:
    apis = [site.start(), site.start()]
    worker = site.start("worker", **WORKER_ENV)
    statuses: Counter[str] = Counter()
    locked: list[str] = []
    submitted: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 25

    def traffic(number: int) -> None:
        rng = random.Random(number)
        clients = [client(api, site.tenant) for api in apis]
        try:
            for step in range(10_000):  # bounded; the deadline ends it
                if time.monotonic() > deadline:
                    return
                http = clients[step % 2]
                action = rng.choice(["submit", "poll", "list", "list", "discover", "create"])
                try:
                    results = run_action(http, action, rng, submitted, lock)
                except httpx.TransportError as exc:
                    results = [(f"{action} transport {type(exc).__name__}", "")]
                with lock:
                    for label, text in results:
                        statuses[label] += 1
                        if "database is locked" in text:
                            locked.append(text[:300])
        finally:
            for http in clients:
                http.close()

    with ThreadPoolExecutor(6) as pool:
        for future in [pool.submit(traffic, n) for n in range(6)]:
            future.result(timeout=120)

    db = site.db
    wait_until(lambda: set(states(db, submitted)) <= set(FINAL), 240, "processing", worker)
    logs = "".join(process.output() for process in site.processes)
    errors = {label: n for label, n in statuses.items() if not re.search(r" (2\d\d)$", label)}
    record_property("two_apis_requests", sum(statuses.values()))
    record_property("two_apis_sessions_submitted", len(submitted))
    record_property("two_apis_non_2xx", json.dumps(errors))
    print(f"\n2 APIs + 1 worker: {sum(statuses.values())} requests, {len(submitted)} sessions")
    assert not locked, locked
    assert "database is locked" not in logs
    assert "Traceback" not in logs
    assert not errors, errors
    assert submitted


def run_action(
    http: httpx.Client,
    action: str,
    rng: random.Random,
    submitted: list[str],
    lock: threading.Lock,
) -> list[tuple[str, str]]:
    """One step of mixed traffic; (label with status, body text) per request made."""
    if action == "discover":
        response = http.get("/api/v1/workflows")
        return [(f"discover {response.status_code}", response.text)]
    if action == "list":
        response = http.get("/api/v1/submissions", params={"limit": 20})
        return [(f"list {response.status_code}", response.text)]
    if action == "poll":
        with lock:
            session_id = rng.choice(submitted) if submitted else None
        if session_id is None:
            return []
        response = http.get(f"/api/v1/jobs/{session_id}")
        return [(f"poll {response.status_code}", response.text)]
    created = http.post("/api/v1/compliance/sessions", json=create_body(1))
    results = [(f"create {created.status_code}", created.text)]
    if action == "create" or created.status_code != 201:
        return results
    session = created.json()
    put = put_file(session["uploadUrls"][0], photo(rng.randrange(10_000)))
    results.append((f"upload {put.status_code}", ""))
    submit = http.post(f"/api/v1/compliance/sessions/{session['sessionId']}/submit")
    results.append((f"submit {submit.status_code}", submit.text))
    if submit.status_code == 200:
        with lock:
            submitted.append(session["sessionId"])
    return results


# ---------------------------------------------------------------- object storage down


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[EmbeddedS3]:
    """An embedded S3 server of this test alone (the session's one must stay up)."""
    server = EmbeddedS3(tmp_path / "s3", bucket="crash-tests")
    server.start()
    yield server
    server.stop()


def test_storage_killed_and_restarted_during_uploads(
    tmp_path: Path, own_s3: EmbeddedS3, record_property: Record
) -> None:
    data_dir = tmp_path / "data"
    tenant = make_tenant(open_database(make_settings(data_dir)))
    site = Site(data_dir=data_dir, env={**s3_env(own_s3), **RATE_LIMITS}, tenant=tenant)
    try:
        server = site.start()
        with client(server, tenant) as http:
            sessions = [
                http.post("/api/v1/compliance/sessions", json=create_body(1)).json()
                for _ in range(3)
            ]
            assert put_file(sessions[0]["uploadUrls"][0], photo(501)).status_code == 200
            assert http.get("/readyz").status_code == 200

            assert own_s3.pid is not None
            os.kill(own_s3.pid, signal.SIGKILL)
            wait_until(lambda: not own_s3.is_running(), 10, "the storage server to die")

            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": True, "storage": False}
            with pytest.raises(httpx.TransportError):  # the uploader sees it at once
                put_file(sessions[1]["uploadUrls"][0], photo(502))
            submit = http.post(f"/api/v1/compliance/sessions/{sessions[0]['sessionId']}/submit")
            assert submit.status_code == 503, submit.text
            assert submit.headers["content-type"] == "application/problem+json"
            assert submit.json()["type"].endswith("/service-unavailable")
            assert "Retry-After" in submit.headers
            job = http.get(f"/api/v1/jobs/{sessions[0]['sessionId']}").json()
            assert job["state"] == "pending"  # nothing changed
            fresh = http.post("/api/v1/compliance/sessions", json=create_body(1))
            assert fresh.status_code == 201  # presigning needs no storage round trip

            restarted_at = time.monotonic()
            own_s3.start()
            wait_until(lambda: http.get("/readyz").status_code == 200, 60, "readyz after restart")
            back_after = time.monotonic() - restarted_at
            assert put_file(sessions[1]["uploadUrls"][0], photo(502)).status_code == 200
            answers = {}
            for session in sessions[:2]:
                submit = http.post(f"/api/v1/compliance/sessions/{session['sessionId']}/submit")
                answers[session["sessionId"]] = submit.status_code
            assert list(answers.values()) == [200, 200], answers  # the first upload survived
            missing = http.post(f"/api/v1/compliance/sessions/{sessions[2]['sessionId']}/submit")
            assert missing.status_code == 422 and missing.json()["type"].endswith("/files-missing")
        db = site.db
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert_no_half_written_session(db)
        output = server.output()
        assert "object storage failed" in output
        assert "Traceback" not in output
        assert own_s3.secret_key not in output
    finally:
        site.stop_all()
    record_property("storage_back_after_seconds", round(back_after, 1))
    print(f"\nstorage killed: readyz 503, submit 503; back and ready {back_after:.1f} s later")


# ---------------------------------------------------------------- secrets in logs


SIGNATURE = re.compile(r"X-Amz-Signature=([0-9a-f]{64})")


def test_debug_logs_hold_no_secrets(site: Site, record_property: Record) -> None:
    receiver = WebhookReceiver()
    debug = {"STEVE_LOG_LEVEL": "DEBUG"}
    server = site.start(**debug)
    worker = site.start("worker", **WORKER_ENV, **debug)
    secrets: dict[str, str] = {
        "api key": site.tenant.key,
        "api key hash (webhook signing key)": hash_key(site.tenant.key),
        "S3 secret key": site.env["STEVE_S3_SECRET_KEY"],
    }
    try:
        with client(server, site.tenant) as http:
            blurred = make_photo(320, 240, seed=77, blur=6)
            sessions = [
                submit_session(http, "compliance-vm", [blurred], webhookUrl=receiver.url)
                for _ in range(2)
            ]
            db = site.db
            ids = [s["sessionId"] for s in sessions]
            wait_until(lambda: set(states(db, ids)) <= set(FINAL), 120, "processing", worker)
            # Two worker threads: whichever of the two was checked last holds the match.
            details = [
                http.get(f"/api/v1/submissions/{s['submissionId']}").json() for s in sessions
            ]
            details.sort(key=lambda d: len(d["fraudMatches"]))
            first, second = (d["id"] for d in details)
            detail = details[1]
            match = detail["fraudMatches"][0]["id"]
            assert http.post(f"/api/v1/submissions/{first}/approve", json={}).status_code == 200
            resolve = f"/api/v1/submissions/{second}/fraud-matches/{match}/resolve"
            assert http.post(resolve, json={"resolution": "confirmed_fraud"}).status_code == 200
            reject = {"reason": "duplicate photo"}
            assert http.post(f"/api/v1/submissions/{second}/reject", json=reject).status_code == 200
            probe = http.post("/api/v1/webhooks/test", json={"webhookUrl": receiver.url})
            assert probe.json()["success"] is True
            http.get("/api/v1/jobs/" + ids[0])
            http.get("/api/v1/workflows/nope")  # an error path too
        receiver.wait_for(6, timeout=120)  # 2 completions, approve, resolve, reject, probe
        urls = [u["uploadUrl"] for s in sessions for u in s["uploadUrls"]]
        urls += [f["downloadUrl"] for f in detail["files"]]
        for number, url in enumerate(urls):
            found = SIGNATURE.search(url)
            assert found is not None
            secrets[f"URL signature {number}"] = found[1]
        signed = [r for r in receiver.requests if "x-webhook-signature" in r.headers]
        assert len(signed) == 5
        for number, request in enumerate(signed):
            secrets[f"X-Webhook-Signature {number}"] = request.headers[
                "x-webhook-signature"
            ].removeprefix("sha256=")
            secrets[f"webhook-signature {number}"] = request.headers[
                "webhook-signature"
            ].removeprefix("v1,")
    finally:
        receiver.stop()
    server.stop()
    worker.stop()
    logs = {process.log_path.name: process.output() for process in site.processes}
    assert sum(len(text) for text in logs.values()) > 10_000  # DEBUG really was on
    leaks = [
        f"{what} in {name}"
        for what, value in secrets.items()
        for name, text in logs.items()
        if value in text
    ]
    record_property("secrets_checked", len(secrets))
    record_property("secrets_log_bytes", sum(len(text) for text in logs.values()))
    record_property("secrets_leaks", len(leaks))
    print(f"\n{len(secrets)} secrets looked for in {sum(map(len, logs.values()))} bytes of logs")
    assert not leaks, leaks
