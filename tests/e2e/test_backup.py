"""``steve-lite backup`` while ``steve-lite up`` takes creates and submits, then ``restore`` into a
fresh data directory and ``up`` on it: every acknowledged session, its submission, its events and
its files come back, through the API and the restored embedded S3 server."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from steve_lite import db as database
from steve_lite.db import Database
from steve_lite.storage.embedded import EmbeddedS3
from tests.support.cli import run_cli, run_json
from tests.support.processes import ServerProcess, s3_env
from tests.support.uploads import create_body, jpeg, put_file

UP_ENV = {
    "STEVE_WORKERS": "1",
    "STEVE_OCR_WARMUP": "false",  # compliance-vm needs no OCR engine
    "STEVE_WORKER_POLL_SECONDS": "0.05",
    "STEVE_RATE_LIMIT_SESSION": "100000",
    "STEVE_RATE_LIMIT_SUBMIT": "100000",
    "STEVE_RATE_LIMIT_READ": "100000",
}
SLUG = "compliance-vm"
LOAD_THREADS = 2


@dataclass
class Load:
    """Integrators creating, uploading and submitting sessions until told to stop."""

    url: str
    key: str
    stop: threading.Event = field(default_factory=threading.Event)
    created: dict[str, float] = field(default_factory=dict)  # session id: time of the 201
    submitted: dict[str, float] = field(default_factory=dict)  # session id: time of the 200
    uploads: dict[str, bytes] = field(default_factory=dict)  # session id: the file
    errors: list[str] = field(default_factory=list)

    def run(self, seed: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            while not self.stop.is_set():
                seed += LOAD_THREADS
                created = client.post(f"/api/v1/workflows/{SLUG}/sessions", json=create_body(1))
                if created.status_code != 201:
                    self.errors.append(created.text)
                    return
                session = created.json()
                session_id = session["sessionId"]
                self.created[session_id] = time.time()
                data = jpeg(seed=seed)
                if put_file(session["uploadUrls"][0], data).status_code != 200:
                    self.errors.append(f"upload of {session_id} failed")
                    return
                self.uploads[session_id] = data
                submit = client.post(f"/api/v1/workflows/{SLUG}/sessions/{session_id}/submit")
                if submit.status_code != 200:
                    self.errors.append(submit.text)
                    return
                self.submitted[session_id] = time.time()

    def acknowledged_before(self, moment: float) -> tuple[set[str], set[str]]:
        """Sessions created, and sessions submitted, whose answer came before ``moment``."""
        created = {s for s, at in dict(self.created).items() if at < moment}
        submitted = {s for s, at in dict(self.submitted).items() if at < moment}
        return created, submitted


def run_env_json(data_dir: Path, env: dict[str, str], *args: str) -> Any:
    """``run_json`` with extra ``STEVE_*`` settings."""
    return json.loads(run_cli(data_dir, *args, "--json", **env).stdout)


def make_key(data_dir: Path) -> str:
    run_json(data_dir, "companies", "create", "Backup", "--slug", "backup")
    run_cli(data_dir, "workflows", "assign", SLUG, "--company", "backup")
    return run_json(data_dir, "keys", "create", "--company", "backup")["key"]


def events_by_submission(db: Database) -> dict[str, list[str]]:
    events: dict[str, list[str]] = {}
    for submission_id, event_id in db.execute(
        "SELECT submission_id, id FROM submission_events ORDER BY seq"
    ):
        events.setdefault(submission_id, []).append(event_id)
    return events


@pytest.mark.timeout(300)
def test_backup_during_load_restores_every_committed_session_event_and_object(
    tmp_path: Path,
) -> None:
    source_dir, backup_dir, restored_dir = (tmp_path / name for name in ("source", "backup", "new"))
    key = make_key(source_dir)
    source = ServerProcess(source_dir, "up", **UP_ENV).wait_ready("/readyz")
    load = Load(source.url, key)
    threads = [threading.Thread(target=load.run, args=(seed,)) for seed in range(LOAD_THREADS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(load.submitted) < 6 and time.monotonic() < deadline and not load.errors:
            time.sleep(0.05)
        backup_started = time.time()
        summary = run_json(source_dir, "backup", str(backup_dir))
        time.sleep(1)  # more load after the backup: it must not matter
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(30)
        source.stop(signal.SIGTERM, timeout=90)  # up lets running tasks finish (30 s)
    assert not load.errors, load.errors
    created, submitted = load.acknowledged_before(backup_started)
    assert len(submitted) >= 6
    assert summary["sessions"] >= len(created)

    restored = run_json(restored_dir, "restore", str(backup_dir))
    assert restored["sessions"] == summary["sessions"]
    assert restored["objects"] == summary["objects"] >= len(submitted)

    # The restored database: every acknowledged session with its submission, and for every
    # submission a gap-free prefix of the events the source database ended with.
    original = database.connect(source_dir / "steve.db")
    copy = database.connect(restored_dir / "steve.db")
    sessions = {row[0]: row[1] for row in copy.execute("SELECT id, state FROM sessions")}
    assert created <= set(sessions)
    assert all(sessions[s] in ("submitted", "completed") for s in submitted)
    submission_of = dict(copy.execute("SELECT session_id, id FROM submissions").fetchall())
    assert set(submission_of) == set(sessions)
    source_events, copied_events = events_by_submission(original), events_by_submission(copy)
    for submission_id, events in copied_events.items():
        assert events == source_events[submission_id][: len(events)]
    for session_id in submitted:
        assert len(copied_events[submission_of[session_id]]) >= 2  # created, submitted

    # The restored installation serves them, files included.
    server = ServerProcess(restored_dir, "up", **UP_ENV).wait_ready("/readyz")
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for session_id in created:
                assert client.get(f"/api/v1/jobs/{session_id}").status_code == 200
            for session_id in submitted:
                detail = client.get(f"/api/v1/submissions/{submission_of[session_id]}")
                assert detail.status_code == 200, detail.text
                [file] = detail.json()["files"]
                download = httpx.get(file["downloadUrl"], timeout=30)
                assert download.status_code == 200
                expected = hashlib.sha256(load.uploads[session_id]).hexdigest()
                assert hashlib.sha256(download.content).hexdigest() == expected
    finally:
        assert server.stop(signal.SIGTERM, timeout=90) == 0  # tasks may still be running
    assert "Traceback" not in server.output()


def test_restore_refuses_a_data_directory_in_use(tmp_path: Path) -> None:
    make_key(tmp_path / "source")
    run_json(tmp_path / "source", "backup", str(tmp_path / "backup"), "--no-objects")
    make_key(tmp_path / "other")
    refused = run_cli(tmp_path / "other", "restore", str(tmp_path / "backup"), check=False)
    assert refused.returncode != 0
    assert "is not an empty directory" in refused.stderr
    again = run_cli(tmp_path / "source", "backup", str(tmp_path / "backup"), check=False)
    assert again.returncode != 0 and "is not an empty directory" in again.stderr


def test_objects_on_external_storage_are_copied_only_when_asked_and_restore_elsewhere(
    tmp_path: Path, embedded_s3: EmbeddedS3
) -> None:
    source_dir = tmp_path / "source"
    key = make_key(source_dir)
    source_env = s3_env(embedded_s3)
    server = ServerProcess(source_dir, **source_env, STEVE_READY_REQUIRES_WORKER="false")
    server.wait_ready("/readyz")
    load = Load(server.url, key)
    thread = threading.Thread(target=load.run, args=(7,))
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while len(load.submitted) < 2 and time.monotonic() < deadline and not load.errors:
            time.sleep(0.05)
        load.stop.set()  # the session in progress is still submitted
        thread.join(30)
        assert not load.errors, load.errors
        databases_only = run_env_json(source_dir, source_env, "backup", str(tmp_path / "db"))
        with_objects = run_env_json(
            source_dir, source_env, "backup", str(tmp_path / "full"), "--objects"
        )
    finally:
        server.stop(signal.SIGTERM)
    assert databases_only["objects"] == 0
    assert with_objects["objects"] == len(load.uploads) >= 2

    target_env = s3_env(embedded_s3)  # another bucket: a move to other storage
    restored = run_env_json(tmp_path / "target", target_env, "restore", str(tmp_path / "full"))
    assert restored["objects"] == with_objects["objects"]
    target = embedded_s3.storage(bucket=target_env["STEVE_S3_BUCKET"])
    copy = database.connect(tmp_path / "target" / "steve.db")
    for session_id, data in load.uploads.items():
        [object_key] = [
            row[0]
            for row in copy.execute(
                "SELECT COALESCE(sealed_key, object_key) FROM session_files WHERE session_id = ?",
                [session_id],
            )
        ]
        assert target.download(object_key, max_bytes=len(data)) == data
