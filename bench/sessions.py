"""Upload sessions: create throughput next to a bare Litestar app, and submit latency.

Starts the real stack, ``steve-lite up`` with ``STEVE_RUN_WORKER=false`` (the API plus the embedded
SeaweedFS S3 server, no worker), on a temp data dir with a company and key made with the CLI, and a
bare Litestar app on uvicorn whose POST handler parses the request JSON and answers the JSON of one
real create answer (same size and shape, status 201).

1. Creates: ``POST /api/v1/workflows/document-ocr/sessions`` with ``fileCount`` 5 and a unique
   ``clientSubmissionId`` per request (a wrk Lua script: run prefix, wrk thread, counter), 32
   keep-alive connections, alternating bare, real, bare, real; medians and the ratio real/bare
   (target >= 0.30).
2. Submit latency: ``--sessions`` 5-file sessions, 5 small real PNG pages uploaded to each through
   the presigned URLs, then ``POST .../submit`` one at a time; p50 and p99 (target p50 < 50 ms).
   With no worker the sessions simply stay ``submitted``.

Exit code: 0 when every request succeeded (whatever the figures), 1 when any failed,
2 when wrk is missing.

    .venv/bin/python -m bench.sessions [--duration 10] [--rounds 2] [--sessions 100]
"""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from bench.common import (
    Process,
    WrkResult,
    create_company_key,
    load_note,
    machine_note,
    median_result,
    percentile,
    print_comparison,
    print_table,
    require_wrk,
    run_wrk,
    start_python,
    start_steve,
)

SLUG = "document-ocr"
PATH = f"/api/v1/workflows/{SLUG}/sessions"
FILES = 5
CONTENT_TYPE = "image/png"
RATE_LIMIT = "100000000"
CREATE_TARGET = 0.3
SUBMIT_P50_TARGET_MS = 50.0
WARMUP_SUBMITS = 5

# The baseline: one uvicorn process, no access log, no auth; argv = [port, json_file].
BARE_APP = """
import json, sys
from typing import Any
import uvicorn
from litestar import Litestar, Response, get, post

BODY = json.loads(open(sys.argv[2]).read())

@post("/api/v1/workflows/document-ocr/sessions", status_code=201)
async def create(data: dict[str, Any]) -> Response[Any]:
    if not data.get("clientSubmissionId"):
        return Response({"detail": "clientSubmissionId is required"}, status_code=422)
    return Response(BODY, status_code=201)

@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

uvicorn.run(
    Litestar([create, healthz]),
    host="127.0.0.1",
    port=int(sys.argv[1]),
    log_config=None,
    access_log=False,
    server_header=False,
)
"""

# wrk script: POST a 5-file create whose clientSubmissionId is unique per request:
# "<run prefix>-<wrk thread>-<counter>". The prefix comes from the command line (-- PREFIX).
CREATE_SCRIPT = """
local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

function init(args)
  prefix = args[1] or "bench"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(BODY_FORMAT, prefix, thread_no, counter)
  return wrk.format(nil, nil, nil, body)
end
"""


def create_body(client_submission_id: str) -> dict[str, Any]:
    return {
        "fileCount": FILES,
        "contentTypes": [CONTENT_TYPE] * FILES,
        "clientSubmissionId": client_submission_id,
    }


def write_script(directory: Path) -> Path:
    """The wrk Lua script with the request body template filled in."""
    template = json.dumps(create_body("%s-%d-%d"), separators=(",", ":"))
    lua = f"BODY_FORMAT = {json.dumps(template)}\n" + CREATE_SCRIPT
    path = directory / "create_session.lua"
    path.write_text(lua)
    return path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk measurement")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per server")
    parser.add_argument("--rounds", type=int, default=2, help="bare+real pairs to run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=100, help="submits to time")
    return parser.parse_args()


def post_create(client: httpx.Client, url: str, client_submission_id: str) -> dict[str, Any]:
    response = client.post(url + PATH, json=create_body(client_submission_id))
    if response.status_code != 201:
        raise RuntimeError(f"create {client_submission_id}: {response.status_code} {response.text}")
    return response.json()


# ---------------------------------------------------------------- creates


def count_sessions(data_dir: Path, prefix: str) -> int:
    """Sessions in the database whose clientSubmissionId starts with ``prefix-``."""
    with sqlite3.connect(f"file:{data_dir / 'steve.db'}?mode=ro", uri=True, timeout=30) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM sessions WHERE client_submission_id LIKE ?", [f"{prefix}-%"]
        ).fetchone()
    return int(row[0])


def measure_creates(
    args: argparse.Namespace, real: Process, bare: Process, key: str, script: Path, data_dir: Path
) -> tuple[dict[str, WrkResult], list[str]]:
    """Warm both up, then bare/real alternately; the medians, and any database mismatch."""
    servers = {"bare": bare, "real": real}
    headers = {"Authorization": f"Bearer {key}"}  # the bare app ignores it
    problems = []

    def load(name: str, seconds: float, prefix: str) -> WrkResult:
        result = run_wrk(
            servers[name].url + PATH,
            duration=seconds,
            connections=args.connections,
            threads=args.threads,
            headers=headers,
            script=script,
            script_args=[prefix],
        )
        if name == "real":
            stored = count_sessions(data_dir, prefix)
            if stored < result.requests - result.failed:
                problems.append(f"{prefix}: wrk counted {result.requests} answers, {stored} stored")
        return result

    for name in servers:
        print(f"warming up {name} ({args.warmup:g} s)...", flush=True)
        load(name, args.warmup, f"warm-{name}")
    runs: dict[str, list[WrkResult]] = {name: [] for name in servers}
    for round_no in range(1, args.rounds + 1):
        for name in servers:
            result = load(name, args.duration, f"r{round_no}-{name}")
            runs[name].append(result)
            print(
                f"round {round_no} {name}: {result.requests_per_sec:,.0f} creates/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                f"failed {result.failed}; {load_note()}",
                flush=True,
            )
    return {name: median_result(results) for name, results in runs.items()}, problems


# ---------------------------------------------------------------- submits


def small_png(number: int) -> bytes:
    """A small real PNG page with a line of text, different for every ``number``."""
    image = Image.new("RGB", (320, 120), (255, 255, 255))
    ImageDraw.Draw(image).text((12, 50), f"bench page {number}", fill=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def prepare_sessions(client: httpx.Client, url: str, count: int) -> list[str]:
    """Create ``count`` sessions and upload 5 files to each; their ids."""
    session_ids = []
    with httpx.Client(timeout=30) as uploader:
        for number in range(count):
            answer = post_create(client, url, f"submit-{number}")
            for slot in answer["uploadUrls"]:
                response = uploader.put(
                    slot["uploadUrl"],
                    content=small_png(number * FILES + slot["fileIndex"]),
                    headers=slot["headers"],
                )
                if response.status_code != 200:
                    raise RuntimeError(f"upload: {response.status_code} {response.text}")
            session_ids.append(answer["sessionId"])
    return session_ids


def time_submits(client: httpx.Client, url: str, session_ids: list[str]) -> list[float]:
    """``POST .../submit`` one after the other; milliseconds each."""
    timings = []
    for session_id in session_ids:
        started = time.perf_counter()
        response = client.post(f"{url}{PATH}/{session_id}/submit")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or response.json()["state"] != "submitted":
            raise RuntimeError(f"submit {session_id}: {response.status_code} {response.text}")
        timings.append(elapsed)
    return timings


def measure_submits(args: argparse.Namespace, real: Process, key: str) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        total = WARMUP_SUBMITS + args.sessions
        print(f"\ncreating {total} sessions and uploading {total * FILES} PNG files...", flush=True)
        session_ids = prepare_sessions(client, real.url, total)
        print(f"timing {args.sessions} submits one at a time ({load_note()})...", flush=True)
        time_submits(client, real.url, session_ids[:WARMUP_SUBMITS])
        return time_submits(client, real.url, session_ids[WARMUP_SUBMITS:])


# ---------------------------------------------------------------- report


def report(
    args: argparse.Namespace,
    creates: dict[str, WrkResult],
    problems: list[str],
    submits: list[float],
    body_bytes: int,
) -> int:
    labels = {"bare": "bare Litestar (parse JSON, canned answer)", "real": "steve-lite (API key)"}
    print()
    print(
        f"POST {PATH} (fileCount {FILES}, unique clientSubmissionId), "
        f"{args.connections} keep-alive connections, wrk -t{args.threads}, "
        f"median of {args.rounds} x {args.duration:g} s; answer body {body_bytes} bytes"
    )
    print_comparison(creates, labels, "creates/s", CREATE_TARGET)

    p50, p99 = percentile(submits, 0.5), percentile(submits, 0.99)
    print(
        f"\nPOST {PATH}/{{id}}/submit, {FILES} uploaded PNG files per session, one request at a "
        f"time on one keep-alive connection, {len(submits)} sessions "
        f"(after {WARMUP_SUBMITS} warm-up submits)"
    )
    print_table(
        ["submit latency", "p50 ms", "p99 ms", "mean ms", "min ms", "max ms"],
        [
            [
                "steve-lite + embedded SeaweedFS",
                f"{p50:.1f}",
                f"{p99:.1f}",
                f"{statistics.fmean(submits):.1f}",
                f"{min(submits):.1f}",
                f"{max(submits):.1f}",
            ]
        ],
    )
    verdict = "met" if p50 < SUBMIT_P50_TARGET_MS else "NOT met"
    print(f"\nsubmit p50 = {p50:.1f} ms (target < {SUBMIT_P50_TARGET_MS:.0f} ms: {verdict})")
    if len(submits) < 100:
        print(f"note: with {len(submits)} samples the p99 is close to the maximum")
    print(machine_note())
    print(
        "note: the machine is shared with other engineers' jobs right now; the run is kept "
        f"modest ({args.rounds} x {args.duration:g} s per server, {len(submits)} submits)"
    )
    print(f"note: {load_note()} at the end of the run")
    print(
        f"note: steve-lite ran as `steve-lite up` with STEVE_RUN_WORKER=false (API + embedded S3, "
        f"no worker) and STEVE_RATE_LIMIT_SESSION/_SUBMIT/_READ={RATE_LIMIT}, so nothing is "
        "rate-limited; submitted sessions stay `submitted`"
    )
    failed = {name: r.failed for name, r in creates.items() if r.failed}
    if failed or problems:
        print(f"\nFAILED: error answers {failed}, database checks {problems}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    args = parse_args()
    require_wrk()
    print(f"start: {load_note()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="steve-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        key = create_company_key(data_dir, "bench", [SLUG])
        env = {
            "STEVE_RUN_WORKER": "false",
            "STEVE_READY_REQUIRES_WORKER": "false",
            "STEVE_RATE_LIMIT_SESSION": RATE_LIMIT,
            "STEVE_RATE_LIMIT_SUBMIT": RATE_LIMIT,
            "STEVE_RATE_LIMIT_READ": RATE_LIMIT,
        }
        with start_steve(data_dir, command="up", **env) as real:
            real.wait_ready("/readyz")
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
                body = json.dumps(post_create(client, real.url, "sample-answer")).encode()
            body_file = Path(tmp) / "create-answer.json"
            body_file.write_bytes(body)
            script = write_script(Path(tmp))
            with start_python("bare-litestar", BARE_APP, [str(body_file)], Path(tmp)) as bare:
                bare.wait_ready()
                check = httpx.post(bare.url + PATH, json=create_body("check"), timeout=5)
                if check.status_code != 201 or check.json() != json.loads(body):
                    raise RuntimeError("the bare app does not answer the same JSON")
                print(f"real pid {real.pid} on {real.url}, bare pid {bare.pid} on {bare.url}")
                print(f"create answer: {len(body)} bytes", flush=True)
                creates, problems = measure_creates(args, real, bare, key, script, data_dir)
            submits = measure_submits(args, real, key)
    return report(args, creates, problems, submits, len(body))


if __name__ == "__main__":
    sys.exit(main())
