"""A cluster on this machine: PostgreSQL and Redis shared by separate ``steve-lite`` processes.

1. Session creates per second, ``steve-lite serve`` on PostgreSQL against ``steve-lite serve``
   on SQLite, in the same run: ``--rounds`` rounds of ``--duration`` seconds each, alternating
   SQLite, PostgreSQL; ``--concurrency`` requests in flight from one asyncio client; medians and
   the ratio PostgreSQL / SQLite.
2. Pages per second with one and with two ``steve-lite worker`` processes (``STEVE_WORKERS=1``
   each, data dirs of their own, each pinned to a core of its own as if on a one-core machine of
   its own) sharing PostgreSQL, Redis and the embedded S3 server:
   ``--sessions`` sessions of ``--pages`` rendered pages are submitted first, then the workers
   start; pages / (last processed_at - first processing_started). On two cores the second
   worker should add close to a core's worth (ratio near 2).

The PostgreSQL server is ``STEVE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), the Redis ``STEVE_TEST_REDIS_URL``; the
run's database and queue keys are dropped at the end. Exit code 0 when every request succeeded
and every session completed, 1 otherwise.

    nice -n 10 .venv/bin/python -m bench.cluster [--duration 10] [--rounds 2] [--sessions 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import (
    STEVE_LITE,
    create_company_key,
    load_note,
    print_table,
    start_steve,
    steve_cli,
    steve_env,
)
from steve_lite.clock import parse_iso
from steve_lite.postgres import PostgresDatabase
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.pages import render_page
from tests.support.databases import drop_run_databases, empty_database
from tests.support.processes import Process
from tests.support.redis import TEST_REDIS_URL, drop_run_keys, queue_name
from tests.support.uploads import create_body, put_file
from tests.support.worker import wait_worker_ready

SLUG = "document-ocr"


async def creates_per_second(
    url: str, key: str, seconds: float, concurrency: int
) -> tuple[float, int]:
    """Session creates answered 201 per second, and how many answers were not 201."""
    done, failed = 0, 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

        async def loop() -> None:
            nonlocal done, failed
            while time.monotonic() < deadline:
                response = await client.post(
                    f"/api/v1/workflows/{SLUG}/sessions", json=create_body(5, "image/png")
                )
                if response.status_code == 201:
                    done += 1
                else:
                    failed += 1

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return done / elapsed, failed


def submit_document(url: str, key: str, pages: list[bytes]) -> str:
    """A session of ``pages`` uploaded and submitted; its id."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        response = http.post(f"/api/v1/workflows/{SLUG}/sessions", json=create_body(len(pages)))
        response.raise_for_status()
        session = response.json()
        for upload, data in zip(session["uploadUrls"], pages, strict=True):
            put_file(upload, data).raise_for_status()
        http.post(
            f"/api/v1/workflows/{SLUG}/sessions/{session['sessionId']}/submit"
        ).raise_for_status()
    return str(session["sessionId"])


def on_one_core(n: int) -> Callable[[], None]:
    """Pin a worker process (and its engine processes) to core ``n``: one machine of one core."""

    def pin() -> None:
        os.sched_setaffinity(0, {n % (os.cpu_count() or 1)})

    return pin


def pages_per_second(
    root: Path,
    env: dict[str, str],
    db: PostgresDatabase,
    url: str,
    key: str,
    workers: int,
    sessions: int,
    pages: int,
) -> tuple[float, int]:
    """Pages per second of ``workers`` worker processes on sessions submitted before they start;
    how many sessions did not complete."""
    document = [
        render_page(
            [f"Page {n + 1} of a benchmark document", "Lorem ipsum dolor sit amet"],
            width=736,
            height=736,
            fmt="JPEG",
        )
        for n in range(pages)
    ]
    ids = [submit_document(url, key, document) for _ in range(sessions)]
    started = [
        Process(
            f"worker-{workers}-{n}",
            [STEVE_LITE, "worker"],
            0,
            steve_env(root / f"w{workers}-{n}", STEVE_WORKERS="1", **env),
            root / f"worker-{workers}-{n}.log",
            preexec_fn=on_one_core(n),
        )
        for n in range(workers)
    ]
    try:
        for worker in started:
            wait_worker_ready(worker, 1, timeout=180)
        placeholders = ", ".join("?" for _ in ids)
        deadline = time.monotonic() + 60 * sessions * pages
        while time.monotonic() < deadline:
            (left,) = db.execute(
                "SELECT count(*) FROM sessions WHERE state = 'submitted' "
                f"AND id IN ({placeholders})",
                ids,
            ).fetchone()
            if left == 0:
                break
            time.sleep(0.5)
    finally:
        for worker in started:
            worker.stop()
    shares = [worker.output().count(" completed: ") for worker in started]
    print(f"  {workers} worker(s): sessions completed by each: {shares}")
    states = db.execute(f"SELECT state FROM sessions WHERE id IN ({placeholders})", ids)
    incomplete = sum(row[0] != "completed" for row in states)
    (first, last) = db.execute(
        "SELECT min(e.occurred_at), max(s.processed_at) FROM sessions s "
        "JOIN submissions sub ON sub.session_id = s.id JOIN submission_events e "
        "ON e.submission_id = sub.id AND e.type = 'processing_started' "
        f"WHERE s.id IN ({placeholders})",
        ids,
    ).fetchone()
    elapsed = (parse_iso(last) - parse_iso(first)).total_seconds()
    return sessions * pages / elapsed, incomplete


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--pages", type=int, default=4)
    args = parser.parse_args()
    print(load_note())
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as temp:
        root = Path(temp)
        s3 = EmbeddedS3(root / "s3", bucket="bench")
        s3.start()
        url = empty_database()
        storage = {
            "STEVE_S3_ENDPOINT": f"http://{s3.endpoint}", "STEVE_S3_ACCESS_KEY": s3.access_key,
            "STEVE_S3_SECRET_KEY": s3.secret_key, "STEVE_S3_BUCKET": "bench",
            "STEVE_S3_REGION": "us-east-1", "STEVE_S3_SECURE": "false",
            "STEVE_RATE_LIMIT_SESSION": "100000000", "STEVE_RATE_LIMIT_SUBMIT": "100000000",
            "STEVE_READY_REQUIRES_WORKER": "false",
        }  # fmt: skip
        s3.storage(bucket="bench").ensure_bucket()
        shared = {**storage, "STEVE_DATABASE_URL": url, "STEVE_QUEUE_URL": TEST_REDIS_URL,
                  "STEVE_QUEUE_NAME": queue_name()}  # fmt: skip
        apis = {
            "SQLite": (root / "sqlite", storage),
            "PostgreSQL": (root / "api-pg", shared),
        }
        servers, keys = {}, {}
        try:
            for name, (data_dir, env) in apis.items():
                steve_cli(data_dir, "migrate", env=env)
                keys[name] = create_company_key(
                    data_dir, f"bench-{uuid.uuid4().hex[:6]}", [SLUG], env=env
                )
                servers[name] = start_steve(data_dir, **env).wait_ready("/readyz")
            rates: dict[str, list[float]] = {name: [] for name in apis}
            for _ in range(args.rounds):
                for name in apis:
                    rate, bad = asyncio.run(
                        creates_per_second(
                            servers[name].url, keys[name], args.duration, args.concurrency
                        )
                    )
                    rates[name].append(rate)
                    failed += bad
            sqlite_rate, pg_rate = (statistics.median(rates[name]) for name in apis)
            print(
                f"\nsession creates ({args.concurrency} in flight, "
                f"{args.rounds} x {args.duration:g} s, medians)"
            )
            print_table(
                ["database", "creates/s"],
                [["SQLite", f"{sqlite_rate:.0f}"], ["PostgreSQL", f"{pg_rate:.0f}"],
                 ["ratio PostgreSQL / SQLite", f"{pg_rate / sqlite_rate:.2f}"]],
            )  # fmt: skip
            db = PostgresDatabase(url)
            figures = []
            for workers in (1, 2):
                rate, incomplete = pages_per_second(
                    root, shared, db, servers["PostgreSQL"].url, keys["PostgreSQL"], workers,
                    args.sessions, args.pages,
                )  # fmt: skip
                figures.append(rate)
                failed += incomplete
            print(
                "\npages per second on PostgreSQL and Redis "
                f"({args.sessions} sessions x {args.pages} pages)"
            )
            print_table(
                ["workers (STEVE_WORKERS=1 each)", "pages/s"],
                [["1", f"{figures[0]:.2f}"], ["2", f"{figures[1]:.2f}"],
                 ["ratio 2 / 1", f"{figures[1] / figures[0]:.2f}"]],
            )  # fmt: skip
        finally:
            for server in servers.values():
                server.stop()
            s3.stop()
            drop_run_databases()
            drop_run_keys()
    print(f"\n{load_note()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
