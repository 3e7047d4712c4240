"""Read throughput: ``GET /api/v1/workflows`` on the real server vs a bare Litestar app.

Starts ``steve-lite serve`` (company, workflows and key made with the CLI in a temp data dir)
and a bare Litestar app on uvicorn that returns the same JSON with no auth, then loads each
with wrk (32 keep-alive connections), alternating bare, real, bare, real, and prints the
medians and the ratio real/bare (target >= 0.50).

Exit code: 0 when every request succeeded (whatever the ratio), 1 when any failed,
2 when wrk is missing.

    .venv/bin/python -m bench.api_read [--duration 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx

from bench.common import (
    Process,
    WrkResult,
    create_company_key,
    machine_note,
    median_result,
    print_comparison,
    require_wrk,
    run_wrk,
    start_python,
    start_steve,
    unused_storage_env,
)

PATH = "/api/v1/workflows"
WORKFLOWS = ["document-ocr", "receipt-ocr", "compliance-vm"]
RATE_LIMIT = "100000000"
TARGET = 0.5

# The baseline: one uvicorn process, no access log, no auth; argv = [port, json_file].
BARE_APP = """
import json, sys
from typing import Any
import uvicorn
from litestar import Litestar, get

BODY = json.loads(open(sys.argv[2]).read())

@get("/api/v1/workflows")
async def workflows() -> Any:
    return BODY

@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

uvicorn.run(
    Litestar([workflows, healthz]),
    host="127.0.0.1",
    port=int(sys.argv[1]),
    log_config=None,
    access_log=False,
    server_header=False,
)
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per server")
    parser.add_argument("--rounds", type=int, default=2, help="bare+real pairs to run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def fetch_body(server: Process, headers: dict[str, str]) -> bytes:
    """One GET of ``PATH``; raise unless it is a 200."""
    response = httpx.get(server.url + PATH, headers=headers, timeout=5)
    if response.status_code != 200:
        raise RuntimeError(f"{server.name} {PATH}: {response.status_code} {response.text}")
    return response.content


def measure(
    args: argparse.Namespace, real: Process, bare: Process, key: str
) -> dict[str, WrkResult]:
    """Warm both servers up, then run bare/real alternately and return each one's medians."""
    servers = {"bare": bare, "real": real}
    headers = {"Authorization": f"Bearer {key}"}  # the bare app ignores it

    def load(server: Process, seconds: float) -> WrkResult:
        return run_wrk(
            server.url + PATH,
            duration=seconds,
            connections=args.connections,
            threads=args.threads,
            headers=headers,
        )

    for name, server in servers.items():
        print(f"warming up {name} ({args.warmup:g} s)...", flush=True)
        load(server, args.warmup)
    runs: dict[str, list[WrkResult]] = {name: [] for name in servers}
    for round_no in range(1, args.rounds + 1):
        for name, server in servers.items():
            result = load(server, args.duration)
            runs[name].append(result)
            print(
                f"round {round_no} {name}: {result.requests_per_sec:,.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                f"failed {result.failed}",
                flush=True,
            )
    return {name: median_result(results) for name, results in runs.items()}


def report(args: argparse.Namespace, results: dict[str, WrkResult]) -> int:
    """Print the table and the ratio; return the exit code."""
    labels = {"bare": "bare Litestar (no auth)", "real": "steve-lite (API key)"}
    print()
    print(
        f"GET {PATH}, {args.connections} keep-alive connections, wrk -t{args.threads}, "
        f"median of {args.rounds} x {args.duration:g} s"
    )
    print_comparison(results, labels, "requests/s", TARGET)
    print(machine_note())
    print(f"note: steve-lite ran with STEVE_RATE_LIMIT_READ={RATE_LIMIT} so it is not rate-limited")
    print("note: no S3 server runs (STEVE_S3_ENDPOINT is a closed loopback port); this route")
    print("      never touches object storage")
    failed = {name: r.failed for name, r in results.items() if r.failed}
    if failed:
        print(f"\nFAILED: requests with an error status or socket error: {failed}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    args = parse_args()
    require_wrk()
    with tempfile.TemporaryDirectory(prefix="steve-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        key = create_company_key(data_dir, "bench", WORKFLOWS)
        headers = {"Authorization": f"Bearer {key}"}
        env = {"STEVE_RATE_LIMIT_READ": RATE_LIMIT, **unused_storage_env()}
        with start_steve(data_dir, **env) as real:
            real.wait_ready()
            body = fetch_body(real, headers)
            body_file = Path(tmp) / "workflows.json"
            body_file.write_bytes(body)
            with start_python("bare-litestar", BARE_APP, [str(body_file)], Path(tmp)) as bare:
                bare.wait_ready()
                if json.loads(fetch_body(bare, {})) != json.loads(body):
                    raise RuntimeError("the bare app does not return the same JSON")
                print(f"real pid {real.pid} on {real.url}, bare pid {bare.pid} on {bare.url}")
                print(f"response body: {len(body)} bytes", flush=True)
                results = measure(args, real, bare, key)
    return report(args, results)


if __name__ == "__main__":
    sys.exit(main())
