"""Mixed load against ``steve-lite up`` for a fixed time at a fixed concurrency.

Starts the whole stack with ``steve-lite up`` (API, worker, embedded S3 server) on a temp data
dir whose company and key are made with the CLI, and a webhook receiver on 127.0.0.1. Then
``--concurrency`` virtual users run for ``--duration`` seconds, each looping over the journeys
an integrator and a reviewer make:

- discovery: ``GET /workflows``, ``/workflows/{slug}``, ``/workflows/{slug}/versions/{n}``;
- a session: create (``compliance-vm``, one photo, with a ``webhookUrl``), upload the photo to
  the presigned URL, submit, then poll ``GET /jobs/{id}`` between other requests until the job
  is final; if the submission is in ``review``: detail, resolve its fraud matches, then approve
  or reject;
- an abandoned session now and then: create, then cancel its submission;
- ``GET /submissions`` lists.

Photos come from a small pool, so some are duplicates: fraud matches and reviews happen.

When the time is up the run drains (bounded by ``--drain``): every submitted session must end
``completed`` or ``failed`` with exactly one outcome and one result, and its completion webhook
must be delivered, received once (by event id), and every other outbox event delivered. The
API and worker logs (``--log-level``, default DEBUG) are then searched for the key, its
SHA-256 hex, the storage secret key and every URL and webhook signature seen during the run.

Prints requests per second, p50 and p99 per route, errors by status (429 apart) and the checks.

Exit code: 0 when no request failed (429 apart), every check held and no secret was found in
the logs; 1 otherwise.

    .venv/bin/python -m bench.load [--duration 30] [--concurrency 8] [--json figures.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Process,
    create_company_key,
    load_note,
    percentile,
    print_table,
    start_steve,
)
from steve_lite.security.api_keys import hash_key
from tests.factories.photos import make_photo
from tests.fixtures.receiver import WebhookReceiver

SLUG = "compliance-vm"
HIGH_LIMIT = "1000000"
PHOTOS = 200  # pool size: some duplicates make fraud matches and reviews
FINAL = ("completed", "failed")
COMPLETION = ("session.completed", "session.review_required", "session.failed")
SIGNATURE = re.compile(r"X-Amz-Signature=([0-9a-f]{64})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=8, help="virtual users")
    parser.add_argument("--drain", type=float, default=180, help="max seconds to settle after")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-level", default="DEBUG")
    parser.add_argument(
        "--contract-limits",
        action="store_true",
        help="keep the contract's rate limits (429s are then expected and counted apart)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (logs)")
    return parser.parse_args()


# ---------------------------------------------------------------- recording


@dataclass
class Stats:
    """Every request made: latency per route, statuses, and the run's sessions."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    transport_errors: Counter[str] = field(default_factory=Counter)
    submitted: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    reviewed: Counter[str] = field(default_factory=Counter)
    signatures: set[str] = field(default_factory=set)
    error_samples: list[str] = field(default_factory=list)

    def add(self, route: str, status: int, seconds: float, body: str = "") -> None:
        self.latencies[route].append(seconds * 1000)
        self.statuses[route][status] += 1
        if status >= 400 and status != 429 and len(self.error_samples) < 10:
            self.error_samples.append(f"{route} {status}: {body[:300]}")


class User:
    """One virtual user: its own client, random stream and session in progress."""

    def __init__(
        self, number: int, api: str, key: str, webhook: str, photos: list[bytes], stats: Stats
    ) -> None:
        self.rng = random.Random(number)
        self.number = number
        self.http = httpx.AsyncClient(
            base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        self.webhook = webhook
        self.photos = photos
        self.stats = stats
        self.session: dict[str, Any] | None = None
        self.count = 0

    async def request(
        self, route: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self.stats.transport_errors[f"{route}: {type(exc).__name__}"] += 1
            return None
        self.stats.add(route, response.status_code, time.perf_counter() - started, response.text)
        return response

    async def run(self, deadline: float) -> None:
        try:
            for _ in range(1_000_000):  # bounded; the deadline ends it
                if time.monotonic() > deadline:
                    return
                await self.step()
        finally:
            await self.http.aclose()

    async def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.25:
            await self.discover()
        elif roll < 0.35:
            await self.request("GET /submissions", "GET", "/api/v1/submissions?limit=20")
        elif self.session is None:
            if self.rng.random() < 0.1:
                await self.abandon()
            else:
                await self.start_session()
        else:
            await self.poll()

    async def discover(self) -> None:
        choice = self.rng.randrange(3)
        if choice == 0:
            await self.request("GET /workflows", "GET", "/api/v1/workflows")
        elif choice == 1:
            await self.request("GET /workflows/{slug}", "GET", f"/api/v1/workflows/{SLUG}")
        else:
            await self.request(
                "GET /workflows/{slug}/versions/{n}", "GET", f"/api/v1/workflows/{SLUG}/versions/1"
            )

    def create_body(self, webhook: bool = True) -> dict[str, Any]:
        self.count += 1
        body: dict[str, Any] = {
            "fileCount": 1,
            "contentTypes": ["image/jpeg"],
            "clientSubmissionId": f"load-{self.number}-{self.count}",
            "metadata": {"user": self.number, "n": self.count},
        }
        if webhook:
            body["webhookUrl"] = self.webhook
        return body

    async def create(self, webhook: bool = True) -> dict[str, Any] | None:
        route = "POST /workflows/{slug}/sessions"
        body = self.create_body(webhook)
        response = await self.request(
            route, "POST", f"/api/v1/workflows/{SLUG}/sessions", json=body
        )
        if response is None or response.status_code != 201:
            return None
        session: dict[str, Any] = response.json()
        for upload in session["uploadUrls"]:
            found = SIGNATURE.search(upload["uploadUrl"])
            if found:
                self.stats.signatures.add(found[1])
        return session

    async def start_session(self) -> None:
        session = await self.create()
        if session is None:
            return
        upload = session["uploadUrls"][0]
        photo = self.photos[self.rng.randrange(len(self.photos))]
        put = await self.request(
            "PUT upload (S3)", "PUT", upload["uploadUrl"], content=photo, headers=upload["headers"]
        )
        if put is None or put.status_code != 200:
            return
        submit = await self.request(
            "POST .../sessions/{id}/submit",
            "POST",
            f"/api/v1/workflows/{SLUG}/sessions/{session['sessionId']}/submit",
        )
        if submit is not None and submit.status_code == 200:
            self.stats.submitted.append(session["sessionId"])
            self.session = session

    async def abandon(self) -> None:
        session = await self.create(webhook=False)
        if session is None:
            return
        response = await self.request(
            "POST /submissions/{id}/cancel",
            "POST",
            f"/api/v1/submissions/{session['submissionId']}/cancel",
            json={"reason": "abandoned by the load test"},
        )
        if response is not None and response.status_code == 200:
            self.stats.abandoned.append(session["sessionId"])

    async def poll(self) -> None:
        assert self.session is not None
        response = await self.request(
            "GET /jobs/{id}", "GET", f"/api/v1/jobs/{self.session['sessionId']}"
        )
        if response is None or response.status_code != 200:
            return
        job = response.json()
        if job["state"] not in FINAL:
            return
        if job["submissionStatus"] == "review":
            await self.review(job["submissionId"])
        self.session = None

    async def review(self, submission_id: str) -> None:
        base = f"/api/v1/submissions/{submission_id}"
        detail = await self.request("GET /submissions/{id}", "GET", base)
        if detail is None or detail.status_code != 200:
            return
        for file in detail.json()["files"]:
            found = SIGNATURE.search(file["downloadUrl"])
            if found:
                self.stats.signatures.add(found[1])
        confirmed = False
        for match in detail.json()["fraudMatches"]:
            resolution = self.rng.choice(["false_positive", "confirmed_fraud"])
            confirmed |= resolution == "confirmed_fraud"
            await self.request(
                "POST .../fraud-matches/{id}/resolve",
                "POST",
                f"{base}/fraud-matches/{match['id']}/resolve",
                json={"resolution": resolution},
            )
        if confirmed or self.rng.random() < 0.3:
            action, body = "reject", {"reason": "rejected by the load test"}
        else:
            action, body = "approve", {"note": "approved by the load test"}
        response = await self.request(
            f"POST /submissions/{{id}}/{action}", "POST", f"{base}/{action}", json=body
        )
        if response is not None and response.status_code == 200:
            self.stats.reviewed[action] += 1


async def drive(args: argparse.Namespace, api: str, key: str, webhook: str, stats: Stats) -> float:
    photos = [make_photo(400, 300, seed=args.seed * 1000 + n) for n in range(PHOTOS)]
    users = [User(n, api, key, webhook, photos, stats) for n in range(args.concurrency)]
    started = time.monotonic()
    deadline = started + args.duration
    await asyncio.gather(*(user.run(deadline) for user in users))
    return time.monotonic() - started


# ---------------------------------------------------------------- checks after the run


def open_db(data_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{data_dir / 'steve.db'}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def drain(data_dir: Path, stats: Stats, timeout: float) -> float:
    """Wait until every submitted session is final and every outbox event settled."""
    started = time.monotonic()
    marks = ",".join("?" for _ in stats.submitted)
    with open_db(data_dir) as db:
        while time.monotonic() - started < timeout:
            open_sessions = db.execute(
                f"SELECT count(*) FROM sessions WHERE id IN ({marks}) AND state NOT IN (?, ?)",
                [*stats.submitted, *FINAL],
            ).fetchone()[0]
            pending = db.execute(
                "SELECT count(*) FROM webhook_events WHERE status = 'pending'"
            ).fetchone()[0]
            if open_sessions == 0 and pending == 0:
                break
            time.sleep(0.5)
    return time.monotonic() - started


def check_outcomes(data_dir: Path, stats: Stats, receiver: WebhookReceiver) -> dict[str, Any]:
    """Per submitted session: final, one outcome event, one result, its completion webhook
    delivered and received once; every outbox event delivered."""
    problems: list[str] = []
    received: dict[str, set[str]] = defaultdict(set)
    redeliveries = 0
    seen_ids: set[str] = set()
    for request in receiver.requests:
        body = json.loads(request.body)
        event_id = request.headers.get("x-webhook-id", "")
        if event_id in seen_ids:
            redeliveries += 1
        seen_ids.add(event_id)
        if "x-webhook-signature" in request.headers:
            stats.signatures.add(request.headers["x-webhook-signature"].removeprefix("sha256="))
            stats.signatures.add(request.headers["webhook-signature"].removeprefix("v1,"))
        if body.get("eventType") in COMPLETION:
            received[body["sessionId"]].add(event_id)
    states: Counter[str] = Counter()
    with open_db(data_dir) as db:
        for session_id in stats.submitted:
            row = db.execute(
                "SELECT s.state, sub.id, sub.status, sub.result FROM sessions s "
                "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
                [session_id],
            ).fetchone()
            states[row["state"]] += 1
            if row["state"] not in FINAL:
                problems.append(f"{session_id} is {row['state']}")
                continue
            outcomes = db.execute(
                "SELECT count(*) FROM submission_events WHERE submission_id = ? "
                "AND type IN ('processing_completed', 'processing_failed')",
                [row["id"]],
            ).fetchone()[0]
            if outcomes != 1:
                problems.append(f"{session_id} has {outcomes} outcome events")
            if row["state"] == "completed" and row["result"] is None:
                problems.append(f"{session_id} completed without a result")
            outbox = db.execute(
                "SELECT id, status FROM webhook_events WHERE session_id = ? "
                "AND event_type IN (?, ?, ?)",
                [session_id, *COMPLETION],
            ).fetchall()
            if [r["status"] for r in outbox] != ["delivered"]:
                problems.append(f"{session_id} completion outbox {[tuple(r) for r in outbox]}")
            elif received.get(session_id) != {outbox[0]["id"]}:
                problems.append(f"{session_id} received {received.get(session_id)}")
        undelivered = db.execute(
            "SELECT event_type, status, count(*) FROM webhook_events WHERE status != 'delivered' "
            "GROUP BY event_type, status"
        ).fetchall()
        outbox_total = db.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
    problems += [f"{r[2]} {r[0]} events {r[1]}" for r in undelivered]
    return {
        "sessions_submitted": len(stats.submitted),
        "session_states": dict(states),
        "webhook_events": outbox_total,
        "webhooks_received": len(receiver.requests),
        "webhook_redeliveries": redeliveries,
        "problems": problems,
    }


def check_logs(logs: list[Path], secrets: dict[str, str]) -> dict[str, Any]:
    text = {path.name: path.read_text(errors="replace") for path in logs if path.exists()}
    leaks = sorted(
        {
            f"{what} in {name}"
            for what, value in secrets.items()
            for name, t in text.items()
            if value in t
        }
    )
    plaintext_keys = sum(len(re.findall(r"aok_[0-9a-f]{64}", t)) for t in text.values())
    return {
        "log_bytes": sum(len(t) for t in text.values()),
        "secrets_checked": len(secrets),
        "leaks": leaks,
        "plaintext_keys_in_logs": plaintext_keys,
        "tracebacks": sum(t.count("Traceback") for t in text.values()),
        "database_locked": sum(t.count("database is locked") for t in text.values()),
    }


# ---------------------------------------------------------------- report


def route_rows(stats: Stats, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for route in sorted(stats.latencies):
        latencies = stats.latencies[route]
        statuses = stats.statuses[route]
        rows.append(
            {
                "route": route,
                "requests": len(latencies),
                "rps": len(latencies) / seconds,
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
                "errors": sum(n for s, n in statuses.items() if s >= 400 and s != 429),
                "rate_limited": statuses.get(429, 0),
            }
        )
    return rows


def report(figures: dict[str, Any]) -> None:
    print(
        f"steve-lite up under mixed load: {figures['concurrency']} users, "
        f"{figures['seconds']:.1f} s; {figures['load']}"
    )
    rows = figures["routes"]
    print_table(
        ["route", "requests", "req/s", "p50 ms", "p99 ms", "errors", "429"],
        [
            [r["route"], str(r["requests"]), f"{r['rps']:.1f}", f"{r['p50_ms']:.1f}",
             f"{r['p99_ms']:.1f}", str(r["errors"]), str(r["rate_limited"])]
            for r in rows
        ],
    )  # fmt: skip
    total = sum(r["requests"] for r in rows)
    print(f"total: {total} requests, {total / figures['seconds']:.1f} req/s")
    transport = figures["transport_errors"] or "none"
    print(
        f"errors by status (429 apart): {figures['errors_by_status'] or 'none'}; "
        f"429: {figures['rate_limited']}; transport errors: {transport}"
    )
    outcome = figures["outcome"]
    print(
        f"sessions: {outcome['sessions_submitted']} submitted, states {outcome['session_states']}, "
        f"{len(figures['abandoned'])} abandoned, reviews {figures['reviewed']}; drained in "
        f"{figures['drain_seconds']:.1f} s"
    )
    print(
        f"webhooks: {outcome['webhook_events']} events, {outcome['webhooks_received']} received, "
        f"{outcome['webhook_redeliveries']} redeliveries"
    )
    verdict = "every submitted session final, one result, its webhook delivered once"
    print(
        f"consistency: {'OK: ' + verdict if not outcome['problems'] else outcome['problems'][:10]}"
    )
    logs = figures["logs"]
    print(
        f"logs: {logs['log_bytes']} bytes searched for {logs['secrets_checked']} secrets: "
        f"{'none found' if not logs['leaks'] else logs['leaks']}; plaintext keys "
        f"{logs['plaintext_keys_in_logs']}, tracebacks {logs['tracebacks']}, "
        f"'database is locked' {logs['database_locked']}"
    )
    for sample in figures["error_samples"]:
        print(f"  error: {sample}")


def main() -> int:
    args = parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="steve-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    # The company is "demo", so `up` makes no demo key of its own (nor prints one).
    key = create_company_key(data_dir, "demo", [SLUG])
    limits = {} if args.contract_limits else {
        f"STEVE_RATE_LIMIT_{b}": HIGH_LIMIT for b in ("READ", "SESSION", "SUBMIT", "REVIEW")
    }  # fmt: skip
    receiver = WebhookReceiver()
    server: Process = start_steve(
        data_dir,
        command="up",
        STEVE_WEBHOOK_ALLOW_PRIVATE="true",
        STEVE_OCR_WARMUP="false",  # compliance-vm does not use the OCR engine
        STEVE_LOG_LEVEL=args.log_level,
        **limits,
    )
    stats = Stats()
    try:
        server.wait_ready("/readyz", timeout=120)
        seconds = asyncio.run(drive(args, server.url, key, receiver.url, stats))
        drain_seconds = drain(data_dir, stats, args.drain)
        outcome = check_outcomes(data_dir, stats, receiver)
    finally:
        code = server.stop(timeout=60)
        receiver.stop()
    credentials = json.loads((data_dir / "s3" / "s3-credentials.json").read_text())
    secrets = {
        "API key": key,
        "API key SHA-256": hash_key(key),
        "S3 secret": credentials["secretKey"],
    }
    secrets.update({f"signature {n}": s for n, s in enumerate(sorted(stats.signatures))})
    logs = check_logs([server.log_path, data_dir / "s3" / "weed.log"], secrets)
    errors: Counter[int] = Counter()
    for counter in stats.statuses.values():
        errors.update({s: n for s, n in counter.items() if s >= 400 and s != 429})
    figures = {
        "concurrency": args.concurrency,
        "seconds": seconds,
        "load": load_note(),
        "routes": route_rows(stats, seconds),
        "errors_by_status": dict(errors),
        "rate_limited": sum(c.get(429, 0) for c in stats.statuses.values()),
        "transport_errors": dict(stats.transport_errors),
        "abandoned": stats.abandoned,
        "reviewed": dict(stats.reviewed),
        "drain_seconds": drain_seconds,
        "outcome": outcome,
        "logs": logs,
        "exit_code": code,
        "error_samples": stats.error_samples,
        "workdir": str(workdir),
    }
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    failed = (
        errors
        or stats.transport_errors
        or outcome["problems"]
        or logs["leaks"]
        or logs["tracebacks"]
        or logs["database_locked"]
        or code != 0
        or not stats.submitted
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
