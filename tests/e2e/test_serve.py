"""``steve-lite serve`` as real processes on free ports, over TCP."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from steve_lite.storage.embedded import EmbeddedS3
from tests.support.cli import run_cli, run_json
from tests.support.processes import ServerProcess, s3_env
from tests.support.waiting import wait_until
from tests.support.worker import wait_worker_ready


def make_key(data_dir: Path) -> str:
    run_json(data_dir, "companies", "create", "E2E", "--slug", "e2e")
    run_cli(data_dir, "workflows", "assign", "document-ocr", "--company", "e2e")
    return run_json(data_dir, "keys", "create", "--company", "e2e")["key"]


def test_serve_answers_over_tcp_and_stops_on_sigterm(
    tmp_path: Path, embedded_s3: EmbeddedS3
) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir)
    env = s3_env(embedded_s3)
    server = ServerProcess(data_dir, **env).wait_ready()
    try:
        response = httpx.get(
            f"{server.url}/api/v1/workflows", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200
        assert [w["slug"] for w in response.json()["data"]] == ["document-ocr"]
        alone = httpx.get(f"{server.url}/readyz")
        assert alone.status_code == 503  # no worker has beaten: submissions would wait
        assert alone.json()["checks"] == {"database": True, "storage": True, "worker": False}
        worker = ServerProcess(data_dir, "worker", STEVE_OCR_WARMUP="false", **env)
        try:
            wait_worker_ready(worker, threads=0)  # its SIGTERM handler is in place
            wait_until(
                lambda: httpx.get(f"{server.url}/readyz").status_code == 200,
                60,
                "readyz once a worker beats",
                worker,
            )
        finally:
            worker.stop()
        wait_until(
            lambda: httpx.get(f"{server.url}/readyz").status_code == 503,
            10,
            "readyz once the worker stopped (it removes its heartbeat)",
        )
    finally:
        code = server.stop(signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in server.output()


def test_two_processes_share_one_rate_limit_bucket(tmp_path: Path, embedded_s3: EmbeddedS3) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir)
    env = {
        "STEVE_RATE_LIMIT_READ": "6",
        "STEVE_RATE_LIMIT_WINDOW_SECONDS": "3600",
        **s3_env(embedded_s3),
    }
    first = ServerProcess(data_dir, **env).wait_ready()
    second = ServerProcess(data_dir, **env).wait_ready()
    headers = {"Authorization": f"Bearer {key}"}
    try:
        statuses = []
        for i in range(8):
            server = first if i % 2 == 0 else second
            statuses.append(
                httpx.get(f"{server.url}/api/v1/workflows", headers=headers).status_code
            )
    finally:
        first.stop()
        second.stop()
    assert statuses == [200] * 6 + [429, 429]


def test_json_logs_carry_request_id_company_route_and_duration(
    tmp_path: Path, embedded_s3: EmbeddedS3
) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir)
    company_id = run_json(data_dir, "companies", "list", "--json")["data"][0]["id"]
    server = ServerProcess(data_dir, STEVE_LOG_FORMAT="json", **s3_env(embedded_s3)).wait_ready()
    try:
        headers = {"Authorization": f"Bearer {key}", "X-Request-Id": "trace-json-1"}
        assert httpx.get(f"{server.url}/api/v1/jobs/ses_nope", headers=headers).status_code == 404
    finally:
        assert server.stop(signal.SIGTERM) == 0
    lines = [line for line in server.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    [access] = [r for r in records if r.get("requestId") == "trace-json-1"]
    assert access["logger"] == "steve_lite.access"
    assert access["companyId"] == company_id
    assert (access["route"], access["method"], access["status"]) == (
        "/api/v1/jobs/{session_id}",
        "GET",
        404,
    )
    assert access["durationMs"] > 0
    assert {r["level"] for r in records} <= {"DEBUG", "INFO", "WARNING", "ERROR"}
    assert any(r["message"].startswith("serving the API") for r in records)


def test_text_logs_stay_human_readable(tmp_path: Path, embedded_s3: EmbeddedS3) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir)
    server = ServerProcess(data_dir, **s3_env(embedded_s3)).wait_ready()
    try:
        headers = {"Authorization": f"Bearer {key}", "X-Request-Id": "trace-text-1"}
        assert httpx.get(f"{server.url}/api/v1/workflows", headers=headers).status_code == 200
    finally:
        server.stop(signal.SIGTERM)
    output = server.output()
    assert " INFO steve_lite.runner [-] serving the API on http://" in output
    assert "{" not in output.splitlines()[0]
    assert "trace-text-1" not in output  # no access lines below DEBUG
