"""``steve-lite up`` as a real process: it starts its own embedded S3 server and worker, serves
the API, prints the demo key on the first run only, and stops everything on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from steve_lite import db as database
from steve_lite.db import Database
from tests.factories.receipts import random_receipt_spec, render_receipt
from tests.support.cli import STEVE_LITE, cli_env
from tests.support.servers import free_port
from tests.support.waiting import wait_until
from tests.support.worker import wait_for_event

KEY_PATTERN = re.compile(r"aok_[0-9a-f]{64}")
SYSTEM_WORKFLOWS = {"document-ocr", "receipt-ocr", "compliance-vm"}


@dataclass(frozen=True)
class Proc:
    """A process seen in /proc: its id, start time (to tell a reused id apart) and command."""

    pid: int
    start: int
    cmdline: str


def read_proc(pid: int) -> tuple[int, int, str, str] | None:
    """(parent pid, start time, state, command line) of a live process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[19]), fields[0], cmdline.strip()


def all_processes() -> dict[int, tuple[int, int, str, str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := read_proc(int(entry.name))) is not None:
            found[int(entry.name)] = info
    return found


def descendants(root: int) -> list[Proc]:
    table = all_processes()
    result, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start, _, cmdline) in table.items():
            if ppid == parent:
                result.append(Proc(pid, start, cmdline))
                frontier.append(pid)
    return result


def is_running(proc: Proc) -> bool:
    info = read_proc(proc.pid)
    return info is not None and info[1] == proc.start and info[2] != "Z"


class Up:
    """``steve-lite up`` on a free port with its own data dir; stdout and stderr kept apart."""

    def __init__(self, data_dir: Path, *, new_session: bool = False, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        run = uuid.uuid4().hex[:8]
        self.stdout_path = data_dir.parent / f"up-{run}.stdout"
        self.stderr_path = data_dir.parent / f"up-{run}.stderr"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [STEVE_LITE, "up"],
                env=cli_env(data_dir, STEVE_PORT=str(self.port), **env),  # no embedded S3 port
                stdout=out,
                stderr=err,
                start_new_session=new_session,  # its own process group, as in a terminal
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_ready(self, timeout: float = 90) -> None:
        """Until /readyz answers 200: database and the embedded S3 server reachable."""

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"up exited early:\n{self.stdout}\n{self.stderr}")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(ready, timeout, "up ready", interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{self.stderr}") from None

    def stop(self, timeout: float = 60, *, ctrl_c: bool = False) -> int:
        """SIGTERM; or with ``ctrl_c``, SIGINT to the process group, as a terminal sends it."""
        if self.process.poll() is None:
            if ctrl_c:
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def client(up: Up, key: str) -> httpx.Client:
    return httpx.Client(base_url=up.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def wait_until_gone(children: list[Proc], data_dir: Path, timeout: float = 30) -> None:
    """Until none of ``children`` runs and no process mentions the data dir."""
    left: list[Proc] = []

    def gone() -> bool:
        left[:] = [p for p in children if is_running(p)]
        left.extend(
            Proc(pid, start, cmdline)
            for pid, (_, start, state, cmdline) in all_processes().items()
            if str(data_dir) in cmdline and state != "Z"
        )
        return not left

    try:
        wait_until(gone, timeout, "children gone", interval=0.2)
    except AssertionError:
        raise AssertionError(f"processes left behind: {left}") from None


def start_receipt(up: Up, key: str, seed: int) -> dict[str, Any]:
    """Create a receipt-ocr session, upload a receipt of ``seed``, submit; the session."""
    with client(up, key) as api:
        created = api.post(
            "/api/v1/workflows/receipt-ocr/sessions",
            json={
                "fileCount": 1,
                "contentTypes": ["image/jpeg"],
                "clientSubmissionId": f"up-{seed}",
            },
        )
        assert created.status_code == 201, created.text
        session = created.json()
        upload = session["uploadUrls"][0]
        assert upload["uploadUrl"].startswith("http://127.0.0.1:")
        receipt = render_receipt(random_receipt_spec(seed))
        put = httpx.put(upload["uploadUrl"], content=receipt, headers=upload["headers"], timeout=30)
        assert put.status_code == 200, put.text
        path = f"/api/v1/workflows/receipt-ocr/sessions/{session['sessionId']}/submit"
        submitted = api.post(path)
        assert submitted.status_code == 200, submitted.text
    return session


def wait_for_processing(db: Database, submission_id: str, timeout: float = 60) -> None:
    wait_for_event(db, submission_id, "processing_started", timeout)


def receipt_flow(up: Up, key: str) -> None:
    spec = random_receipt_spec(5)
    session = start_receipt(up, key, seed=5)
    job: dict[str, Any] = {}
    with client(up, key) as api:

        def final() -> bool:
            job.update(api.get(f"/api/v1/jobs/{session['sessionId']}").json())
            return job["state"] in ("completed", "failed")

        wait_until(final, 120, "receipt job final", interval=0.5)
    assert (job["state"], job["submissionStatus"]) == ("completed", "approved"), (job, up.stderr)
    data = job["result"]["extractedData"]
    assert (data["totalAmount"], data["currency"]) == (spec.total, spec.currency)
    assert (data["purchaseDate"], data["receiptNumber"]) == (
        spec.date.isoformat(),
        spec.receipt_number,
    )


def test_up_runs_everything_and_stops_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Up(data_dir)
    try:
        first.wait_ready()
        keys = KEY_PATTERN.findall(first.stdout)
        assert len(keys) == 1, first.stdout
        assert "shown once" in first.stdout
        assert KEY_PATTERN.search(first.stderr) is None  # never in the logs
        (key,) = keys
        with client(first, key) as api:
            workflows = api.get("/api/v1/workflows")
        assert workflows.status_code == 200
        assert {w["slug"] for w in workflows.json()["data"]} == SYSTEM_WORKFLOWS
        receipt_flow(first, key)
        children = descendants(first.process.pid)
        commands = [p.cmdline for p in children]
        assert any("weed" in c and " mini" in c for c in commands), commands
        assert any(c.endswith("-m steve_lite worker") for c in commands), commands
    finally:
        code = first.stop()
    assert code == 0, first.stderr
    assert "Traceback" not in first.stderr, first.stderr
    wait_until_gone(children, data_dir)

    second = Up(data_dir, new_session=True)
    try:
        second.wait_ready()
        assert KEY_PATTERN.search(second.stdout) is None, second.stdout
        with client(second, key) as api:
            again = api.get("/api/v1/workflows")
        assert again.status_code == 200
        assert {w["slug"] for w in again.json()["data"]} == SYSTEM_WORKFLOWS
        session = start_receipt(second, key, seed=7)
        children = descendants(second.process.pid)
        db = database.connect(data_dir / "steve.db")
        wait_for_processing(db, session["submissionId"])
    finally:
        code = second.stop(ctrl_c=True)  # while the receipt is being read
    assert code == 0, second.stderr
    assert "Traceback" not in second.stderr, second.stderr
    wait_until_gone(children, data_dir)
    row = db.execute("SELECT state FROM sessions WHERE id = ?", [session["sessionId"]]).fetchone()
    assert row[0] == "completed"  # the worker got one SIGINT and finished the job first


def test_up_stopped_right_after_start_stops_cleanly(tmp_path: Path) -> None:
    """Stopped as soon as the API answers, ``up`` finds its worker still starting (importing,
    migrating): that must end quietly too."""
    data_dir = tmp_path / "data"
    up = Up(data_dir)
    try:
        up.wait_ready()
        children = descendants(up.process.pid)
    finally:
        code = up.stop()
    assert code == 0, up.stderr
    assert "Traceback" not in up.stderr, up.stderr
    wait_until_gone(children, data_dir)


def readyz(up: Up) -> int:
    try:
        return httpx.get(f"{up.url}/readyz", timeout=2).status_code
    except httpx.TransportError:
        return 0


def worker_of(up: Up) -> Proc:
    (worker,) = [p for p in descendants(up.process.pid) if p.cmdline.endswith("steve_lite worker")]
    return worker


def test_up_restarts_a_killed_worker_and_is_not_ready_meanwhile(tmp_path: Path) -> None:
    up = Up(tmp_path / "data")
    try:
        up.wait_ready()
        (key,) = KEY_PATTERN.findall(up.stdout)
        first = worker_of(up)
        os.kill(first.pid, signal.SIGKILL)

        wait_until(lambda: readyz(up) == 503, 10, "readyz 503 once the worker is dead")
        session = start_receipt(up, key, seed=11)  # submitted while no worker runs
        wait_until(lambda: readyz(up) == 200, 60, "readyz 200 once the new worker beats")
        second = worker_of(up)
        with client(up, key) as api:
            wait_until(
                lambda: (
                    api.get(f"/api/v1/jobs/{session['sessionId']}").json()["state"] == "completed"
                ),
                120,
                "the session submitted meanwhile completes",
            )
    finally:
        code = up.stop()
    assert second.pid != first.pid
    assert "the worker exited (killed by SIGKILL); starting it again in 1 s" in up.stderr
    assert code == 0, up.stderr


def test_up_starts_again_at_once_after_its_whole_group_was_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Up(data_dir, new_session=True)
    first.wait_ready()
    (key,) = KEY_PATTERN.findall(first.stdout)
    children = descendants(first.process.pid)
    os.killpg(
        first.process.pid, signal.SIGKILL
    )  # up only: its children run in sessions of their own
    first.process.wait()

    second = Up(data_dir)
    try:
        second.wait_ready()
        receipt_flow(second, key)
        assert not [p for p in children if is_running(p)]  # the old ones are gone
    finally:
        code = second.stop()
    assert code == 0, second.stderr


def test_json_logs_of_up_are_json_from_every_process(tmp_path: Path) -> None:
    """API, worker and OCR engine processes all log JSON lines on stderr; the demo key banner
    stays on stdout."""
    up = Up(tmp_path / "data", STEVE_LOG_FORMAT="json", STEVE_WORKERS="1")
    try:
        up.wait_ready()
        key = KEY_PATTERN.search(up.stdout)
        assert key is not None
        deadline = time.monotonic() + 60
        while "OCR engine loaded" not in up.stderr and time.monotonic() < deadline:
            time.sleep(0.2)
        with client(up, key.group()) as api:
            assert api.get("/api/v1/workflows").status_code == 200
    finally:
        assert up.stop() == 0
    records = [json.loads(line) for line in up.stderr.splitlines() if line.strip()]
    loggers = {record["logger"] for record in records}
    assert {"steve_lite.access", "steve_lite.worker", "steve_lite.ocr", "steve_lite.runner"} <= (
        loggers
    )
    access = [r for r in records if r["logger"] == "steve_lite.access"]
    assert [(r["route"], r["status"]) for r in access if r["route"].startswith("/api/")] == [
        ("/api/v1/workflows", 200)
    ]


def loose_paths(data_dir: Path, *, weed_running: bool = False) -> list[str]:
    """Paths under ``data_dir`` that are not 0700 directories or 0600 files. While ``weed``
    runs, its volume info files (*.vif, which it chmods 0644 itself) are left out: they sit in
    0700 directories, so no other user reaches them, and its stop makes them 0600."""
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        if weed_running and path.suffix == ".vif":
            continue
        mode = path.lstat().st_mode
        wanted = 0o700 if stat.S_ISDIR(mode) else 0o600 if stat.S_ISREG(mode) else None
        if wanted is not None and stat.S_IMODE(mode) != wanted:
            found.append(f"{path.relative_to(data_dir)} {stat.S_IMODE(mode):o}")
    return found


def test_up_keeps_every_file_private_and_fixes_an_older_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "s3").mkdir(parents=True)  # as an older version left it: 0755 and 0644
    data_dir.chmod(0o755)
    sqlite3.connect(data_dir / "steve.db").close()
    (data_dir / "steve.db").chmod(0o644)
    (data_dir / "s3" / "s3-credentials.json").write_text('{"accessKey": "A", "secretKey": "B"}')
    (data_dir / "s3" / "s3-credentials.json").chmod(0o644)
    assert loose_paths(data_dir)

    up = Up(data_dir)
    try:
        up.wait_ready()
        (key,) = KEY_PATTERN.findall(up.stdout)
        session = start_receipt(up, key, seed=9)  # writes the databases, the queue and S3 data
        db = database.connect(data_dir / "steve.db")
        wait_for_processing(db, session["submissionId"])
        written = {p.name for p in data_dir.rglob("*")}
        assert {"steve.db-wal", "steve.db-shm", "queue.db", "weed.log"} <= written, written
        assert len(list((data_dir / "s3").rglob("*"))) > 10  # the server's own files
        assert loose_paths(data_dir, weed_running=True) == []
    finally:
        assert up.stop() == 0, up.stderr
    assert loose_paths(data_dir) == []
    assert "was readable by other users: made 4 path(s) private" in up.stderr, up.stderr
    assert "s3/s3-credentials.json" in up.stderr
