"""``steve-lite submit``, ``jobs`` and ``submissions`` as subprocesses against a real
``steve-lite serve`` and ``steve-lite worker`` sharing a data dir and an S3 bucket."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from steve_lite.client import SteveClient
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.pages import render_page
from tests.support.cli import run_cli, run_json
from tests.support.processes import ServerProcess, s3_env
from tests.support.worker import JOB_KEYS, wait_worker_ready


@dataclass
class Deployment:
    data_dir: Path
    url: str
    key: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``steve-lite ARGS`` as an integrator runs it: only STEVE_URL and STEVE_API_KEY."""
        return run_cli(
            self.data_dir, *args, check=False, STEVE_URL=self.url, STEVE_API_KEY=self.key
        )


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("submit-cli") / "data"
    run_json(data_dir, "companies", "create", "CLI", "--slug", "cli")
    run_cli(data_dir, "workflows", "assign", "document-ocr", "--company", "cli")
    key = run_json(data_dir, "keys", "create", "--company", "cli")["key"]
    env = s3_env(embedded_s3)
    server = ServerProcess(data_dir, "serve", **env).wait_ready()
    worker = ServerProcess(
        data_dir, "worker", STEVE_WORKERS="1", STEVE_WORKER_POLL_SECONDS="0.05", **env
    )
    try:
        wait_worker_ready(worker, threads=1)
        yield Deployment(data_dir, server.url, key)
    finally:
        worker.stop()
        server.stop()


def test_submit_wait_json_prints_only_the_final_job_view(
    deployment: Deployment, tmp_path: Path
) -> None:
    page = tmp_path / "page.png"
    page.write_bytes(render_page(["INVOICE 20417", "Total due 42.00 EUR"]))

    submitted = deployment.run(
        "submit", "--workflow", "document-ocr", str(page), "--wait", "--json",
        "--metadata", "order=A-17", "--metadata", "channel=cli",
    )  # fmt: skip

    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)  # one JSON object and nothing else
    assert set(job) == JOB_KEYS
    assert job["state"] == "completed"
    assert job["workflow"]["slug"] == "document-ocr"
    assert job["metadata"] == {"order": "A-17", "channel": "cli"}
    assert "20417" in job["result"]["extractedData"]["text"]

    shown = deployment.run("jobs", job["sessionId"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout) == job

    listed = deployment.run("submissions", "list", "--json")
    assert listed.returncode == 0
    assert job["submissionId"] in [item["id"] for item in json.loads(listed.stdout)["data"]]

    readable = deployment.run("jobs", job["sessionId"])
    assert readable.returncode == 0
    assert job["sessionId"] in readable.stdout and "completed" in readable.stdout
    assert "20417" in readable.stdout  # the extracted text, in the summary

    detail = deployment.run("submissions", "show", job["submissionId"])
    assert detail.returncode == 0 and "page" in detail.stdout


def test_submit_refuses_a_text_file_with_a_readable_error(
    deployment: Deployment, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\n")

    failed = deployment.run("submit", "--workflow", "document-ocr", str(notes), "--json")

    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "validation-error 422" in failed.stderr
    assert "contentTypes[0]: notes.txt:" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_job_that_fails_exits_non_zero(deployment: Deployment, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(render_page(["cut short"])[:2000])  # PNG magic, truncated pixels

    failed = deployment.run("submit", "-w", "document-ocr", str(broken), "--wait", "--json")

    assert failed.returncode == 1
    job = json.loads(failed.stdout)
    assert job["state"] == "failed" and job["failedReason"]

    readable = deployment.run("jobs", job["sessionId"])
    assert readable.returncode == 1 and "failed" in readable.stdout


def test_submit_without_wait_then_jobs_wait(deployment: Deployment, tmp_path: Path) -> None:
    page = tmp_path / "page.png"
    page.write_bytes(render_page(["RECEIPT 551"]))
    submitted = deployment.run("submit", "-w", "document-ocr", str(page), "--json")
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert set(job) == JOB_KEYS and job["state"] in ("submitted", "completed")

    waited = deployment.run("jobs", job["sessionId"], "--wait", "--json")
    assert waited.returncode == 0 and json.loads(waited.stdout)["state"] == "completed"


def test_review_commands(deployment: Deployment) -> None:
    with SteveClient(deployment.url, deployment.key) as steve:
        session = steve.create_session("document-ocr", ["image/png"])  # left in `created`
    submission_id = session["submissionId"]

    cancelled = deployment.run("submissions", "cancel", submission_id, "--reason", "t", "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["submissionStatus"] == "cancelled"

    shown = deployment.run("submissions", "show", submission_id)
    assert shown.returncode == 0 and "cancelled" in shown.stdout

    refused = deployment.run("submissions", "approve", submission_id)
    assert refused.returncode == 1 and "conflict 409" in refused.stderr
    assert "request id: req_" in refused.stderr


def test_a_missing_key_is_a_usage_error(tmp_path: Path) -> None:
    missing = run_cli(tmp_path, "submissions", "list", check=False)
    assert missing.returncode == 2 and "--api-key" in missing.stderr


def test_submit_sends_a_heic_photo_as_image_heic(deployment: Deployment, tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0042.HEIC"
    photo.write_bytes(render_page(["RECEIPT 8841", "Paid 17.50 EUR"], fmt="HEIF"))

    submitted = deployment.run(
        "submit", "--workflow", "document-ocr", str(photo), "--wait", "--json"
    )  # fmt: skip

    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["state"] == "completed"
    assert "8841" in job["result"]["extractedData"]["text"]
    detail = deployment.run("submissions", "show", job["submissionId"], "--json")
    assert [f["contentType"] for f in json.loads(detail.stdout)["files"]] == ["image/heic"]
