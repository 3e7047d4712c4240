"""Processing: service throughput next to the bare OCR engine, receipt overhead, worker memory.

On the same generated page images, in one run:

1. Throughput. The pages are split into ``--rounds`` equal parts (2 by default: 100 + 100). For
   each part, alternately in the order direct/service then service/direct (so that a change in
   the machine's load hits both sides alike):
   - direct engine: one process per core, each with ``OcrEngine(intra_op_threads=1)``, warmed up
     with one page at start, reads the pages (PNG decode included); pages/s from handing out the
     first page to receiving the last;
   - whole service: ``steve-lite up`` (API, embedded SeaweedFS, worker with ``STEVE_WORKERS`` =
     cores, each thread's engine warmed up with one page) on a temp data dir; a client thread
     creates ``document-ocr`` sessions of ``--pages-per-session`` pages, uploads the pages through
     the presigned URLs and submits each; pages/s from the first create to the last session's
     ``processed_at``.
   Ratio service/direct (target >= 0.85). CPU seconds per page are printed too (direct: the
   engine processes; service: worker + API + SeaweedFS processes): on a machine shared with other
   jobs they say more than wall-clock time.
2. Worker memory: the worker process (``steve-lite worker``, child of ``up``) is sampled from
   ``/proc/PID/status`` (VmRSS, VmHWM) every 0.1 s during each service part and once idle after
   it: after the first 100 and after 200 pages by default, and the growth between them.
3. One-page receipt: per run, a generated receipt photo is read by an engine in this process
   (the intra-op threads of a worker thread) and then sent through the service (create, upload;
   then submit and poll the database every 5 ms until ``completed``); overhead = submit-to-
   completed minus the engine's time for that photo, median over ``--receipt-runs``
   (target < 300 ms).

A page costs about 1 s of CPU on one core here, so the default run takes about 4 minutes on 2
otherwise idle cores; ``--pages`` scales it (the memory figures want 200).

Exit code: 0 when everything was processed (whatever the figures), 1 when anything failed.

    .venv/bin/python bench/processing.py [--pages 200] [--rounds 2] [--receipt-runs 7]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from common import (
    Server,
    create_company_key,
    find_child,
    load_note,
    memory_mb,
    print_table,
    start_steve,
    tree_cpu_seconds,
    tree_memory_mb,
)
from PIL import Image

from steve_lite.processing.ocr import OcrEngine
from steve_lite.processing.ocr_pool import OcrPool
from steve_lite.settings import Settings
from steve_lite.worker import ocr_pool_for
from tests.factories.pages import render_page
from tests.factories.receipts import random_receipt_spec, render_receipt

THROUGHPUT_TARGET = 0.85
OVERHEAD_TARGET_MS = 300.0
RATE_LIMIT = "100000000"
PAGE_SIZE = (827, 1169)  # A4 at 100 dpi
WORDS = [
    "invoice",
    "order",
    "total",
    "amount",
    "delivery",
    "customer",
    "account",
    "payment",
    "period",
    "service",
    "product",
    "quantity",
    "price",
    "discount",
    "reference",
    "contract",
    "address",
    "number",
    "date",
    "balance",
    "tax",
    "net",
    "gross",
    "shipping",
    "terms",
    "support",
    "warranty",
    "report",
    "summary",
    "annual",
    "review",
    "project",
    "budget",
]

PAGES: list[bytes] = []  # the page images; filled before the direct-engine processes are forked


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="pages through each side")
    parser.add_argument("--rounds", type=int, default=2, help="parts the pages are split into")
    parser.add_argument("--pages-per-session", type=int, default=4)
    parser.add_argument("--receipt-runs", type=int, default=7)
    parser.add_argument(
        "--big-pages", type=int, default=20, help="pages of the 12-megapixel session (0: skip)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="STEVE_WORKERS")
    parser.add_argument(
        "--poll-seconds", type=float, default=0.05, help="STEVE_WORKER_POLL_SECONDS"
    )
    args = parser.parse_args()
    if args.pages < args.rounds or args.rounds < 1:
        parser.error("--pages must be at least --rounds, and --rounds at least 1")
    return args


def render_one(seed: int) -> bytes:
    """A short letter: a title and 5..8 lines of words, different for every seed (PNG, A4 at
    100 dpi). Recognition costs about 70 ms of CPU per line here, detection about 0.45 s per
    page, so a page costs about 1 s of CPU on one core."""
    rng = random.Random(seed)
    lines = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 5))).capitalize()
        + f" {rng.randint(1, 9999)}"
        for _ in range(rng.randint(5, 8))
    ]
    lines.insert(0, f"Document {seed}")
    width, height = PAGE_SIZE
    return render_page(lines, width=width, height=height)


def render_pages(count: int, processes: int) -> list[bytes]:
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.map(render_one, range(count))


def parse_ts(value: str) -> float:
    """A wire timestamp (``...T10:05:30.123Z``) as seconds since the epoch."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class Part:
    """One side's figures for one part of the pages."""

    pages: int
    seconds: float
    cpu: float


def totals(parts: list[Part]) -> Part:
    return Part(
        pages=sum(p.pages for p in parts),
        seconds=sum(p.seconds for p in parts),
        cpu=sum(p.cpu for p in parts),
    )


# ---------------------------------------------------------------- direct engine


def direct_worker(warmup: bytes, ready: Any, tasks: Any, results: Any) -> None:
    """One process: build an engine, read one warm-up page, then read pages until ``None``."""
    engine = OcrEngine(intra_op_threads=1)
    engine.read(Image.open(io.BytesIO(warmup)))
    ready.put(os.getpid())
    while (index := tasks.get()) is not None:
        cpu = time.process_time()
        page = engine.read(Image.open(io.BytesIO(PAGES[index])))
        results.put((index, time.process_time() - cpu, len(page.lines)))


class DirectEngines:
    """One engine process per core, kept alive between parts (forked: they share PAGES)."""

    def __init__(self, processes: int, warmup: bytes) -> None:
        context = multiprocessing.get_context("fork")
        ready = context.Queue()
        self.tasks: Any = context.Queue()
        self.results: Any = context.Queue()
        self.processes = [
            context.Process(
                target=direct_worker, args=(warmup, ready, self.tasks, self.results), daemon=True
            )
            for _ in range(processes)
        ]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            ready.get(timeout=600)

    def run(self, indices: list[int]) -> Part:
        started = time.perf_counter()
        for index in indices:
            self.tasks.put(index)
        done = [self.results.get(timeout=600) for _ in indices]
        seconds = time.perf_counter() - started
        if sorted(item[0] for item in done) != sorted(indices):
            raise RuntimeError("the direct engines did not read every page")
        return Part(pages=len(done), seconds=seconds, cpu=sum(item[1] for item in done))

    def memory(self) -> list[dict[str, float]]:
        """VmRSS and VmHWM of each engine process (MiB)."""
        return [memory_mb(process.pid) for process in self.processes if process.pid]

    def close(self) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.exitcode != 0:
                raise RuntimeError(f"direct engine process exited with {process.exitcode}")


# ---------------------------------------------------------------- service helpers


class Api:
    """The few calls the benchmark makes, on keep-alive connections."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)
        self.uploader = httpx.Client(timeout=60)

    def create_upload(self, slug: str, client_id: str, files: list[tuple[bytes, str]]) -> str:
        """Create a session for ``files`` (data, content type) and upload them; its id."""
        body = {
            "fileCount": len(files),
            "contentTypes": [content_type for _, content_type in files],
            "clientSubmissionId": client_id,
        }
        response = self.client.post(f"{self.url}/api/v1/workflows/{slug}/sessions", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"create: {response.status_code} {response.text}")
        answer = response.json()
        for slot, (data, _) in zip(answer["uploadUrls"], files, strict=True):
            put = self.uploader.put(slot["uploadUrl"], content=data, headers=slot["headers"])
            if put.status_code != 200:
                raise RuntimeError(f"upload: {put.status_code} {put.text}")
        return str(answer["sessionId"])

    def submit(self, slug: str, session_id: str) -> None:
        response = self.client.post(
            f"{self.url}/api/v1/workflows/{slug}/sessions/{session_id}/submit"
        )
        if response.status_code != 200:
            raise RuntimeError(f"submit: {response.status_code} {response.text}")

    def job(self, session_id: str) -> dict[str, Any]:
        response = self.client.get(f"{self.url}/api/v1/jobs/{session_id}")
        if response.status_code != 200:
            raise RuntimeError(f"job: {response.status_code} {response.text}")
        return dict(response.json())

    def close(self) -> None:
        self.client.close()
        self.uploader.close()


@dataclass
class Service:
    """The running stack: its processes and a read-only view of its database."""

    server: Server
    api: Api
    data_dir: Path
    worker_pid: int
    weed_pid: int

    def db(self) -> sqlite3.Connection:
        """A read-only connection (WAL: reads never block the worker)."""
        db = sqlite3.connect(f"file:{self.data_dir / 'steve.db'}?mode=ro", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def cpu_split(self) -> dict[str, float]:
        """CPU seconds used so far by the worker, the API (``up``) and SeaweedFS."""
        pids = {"worker": self.worker_pid, "API": self.server.pid, "SeaweedFS": self.weed_pid}
        return {name: tree_cpu_seconds(pid) for name, pid in pids.items()}

    def cpu(self) -> float:
        """CPU seconds used so far by the worker, the API and SeaweedFS together."""
        return sum(self.cpu_split().values())

    def wait_finished(self, session_ids: list[str], timeout: float = 600) -> None:
        marks = ",".join("?" * len(session_ids))
        deadline = time.monotonic() + timeout
        with self.db() as db:
            while time.monotonic() < deadline:
                row = db.execute(
                    f"SELECT COUNT(*) FROM sessions WHERE id IN ({marks}) AND state IN "
                    "('completed', 'failed')",
                    session_ids,
                ).fetchone()
                if row[0] == len(session_ids):
                    return
                time.sleep(0.05)
        raise RuntimeError(f"sessions not finished in {timeout:g} s")


def is_worker(command_line: str) -> bool:
    """The worker ``up`` starts: ``python -m steve_lite worker``
    (whichever way the runner spells it), the last argument being ``worker``."""
    return "steve_lite" in command_line and command_line.split()[-1] == "worker"


def wait_log(server: Server, text: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while server.output().count(text) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} not logged {count} times:\n{server.output()[-3000:]}")
        if server.process.poll() is not None:
            raise RuntimeError(f"steve-lite exited:\n{server.output()[-3000:]}")
        time.sleep(0.1)


def warm_up_worker(service: Service, warmups: list[bytes]) -> None:
    """One single-page session per worker thread, submitted together, so that every thread has
    read a page before the timed parts."""
    session_ids = [
        service.api.create_upload("document-ocr", f"warmup-{number}", [(data, "image/png")])
        for number, data in enumerate(warmups)
    ]
    for session_id in session_ids:
        service.api.submit("document-ocr", session_id)
    service.wait_finished(session_ids)


# ---------------------------------------------------------------- service throughput


@dataclass
class Memory:
    """The worker's memory around one service part (MiB)."""

    pages_so_far: int
    peak_rss: float
    idle_rss: float
    hwm: float


@dataclass
class ServicePart:
    part: Part
    client_seconds: float
    memory: Memory
    cpu_split: dict[str, float]
    failed: list[str] = field(default_factory=list)


def run_service(
    service: Service, indices: list[int], per_session: int, label: str, pages_before: int
) -> ServicePart:
    """Stream sessions into the service from a client thread while sampling progress and RSS."""
    chunks = [indices[i : i + per_session] for i in range(0, len(indices), per_session)]
    session_ids: list[str] = []
    client_error: list[BaseException] = []
    client_done = threading.Event()
    client_seconds = [0.0]
    api = service.api

    def client() -> None:
        started = time.perf_counter()
        try:
            for number, chunk in enumerate(chunks):
                files = [(PAGES[index], "image/png") for index in chunk]
                session_id = api.create_upload("document-ocr", f"{label}-{number}", files)
                api.submit("document-ocr", session_id)
                session_ids.append(session_id)
        except BaseException as exc:  # reported by the main thread
            client_error.append(exc)
        finally:
            client_seconds[0] = time.perf_counter() - started
            client_done.set()

    db = service.db()
    peak_rss = 0.0
    cpu_before = service.cpu_split()
    started_wall = time.time()
    thread = threading.Thread(target=client, name="bench-client", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120 + 60 * len(indices)
    while True:
        if client_error:
            raise RuntimeError(f"client failed: {client_error[0]!r}") from client_error[0]
        done = db.execute(
            "SELECT COALESCE(SUM(file_count), 0) FROM sessions WHERE client_submission_id "
            "LIKE ? AND state IN ('completed', 'failed')",
            [f"{label}-%"],
        ).fetchone()[0]
        peak_rss = max(peak_rss, tree_memory_mb(service.worker_pid)["VmRSS"])
        if client_done.is_set() and done >= len(indices):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not finish the pages in time")
        time.sleep(0.1)
    cpu_split = {name: value - cpu_before[name] for name, value in service.cpu_split().items()}
    thread.join()
    marks = ",".join("?" * len(session_ids))
    rows = db.execute(
        f"SELECT id, state, failed_reason, processed_at FROM sessions WHERE id IN ({marks})",
        session_ids,
    ).fetchall()
    db.close()
    finished = max(parse_ts(row["processed_at"]) for row in rows)
    failed = [f"{row['id']}: {row['failed_reason']}" for row in rows if row["state"] != "completed"]
    for session_id, chunk in zip(session_ids, chunks, strict=True):
        job = api.job(session_id)  # the API's view agrees with the database
        pages = (job.get("result") or {}).get("pages") or []
        if job["state"] != "completed" or len(pages) != len(chunk):
            failed.append(f"{session_id}: job view state {job['state']}, {len(pages)} pages")
    time.sleep(0.5)
    idle = tree_memory_mb(service.worker_pid)
    return ServicePart(
        part=Part(pages=len(indices), seconds=finished - started_wall, cpu=sum(cpu_split.values())),
        client_seconds=client_seconds[0],
        cpu_split=cpu_split,
        memory=Memory(
            pages_so_far=pages_before + len(indices),
            peak_rss=peak_rss,
            idle_rss=idle["VmRSS"],
            hwm=idle["VmHWM"],
        ),
        failed=failed,
    )


# ---------------------------------------------------------------- one big session


PHOTO_SIZE = (3000, 4000)  # 12 megapixels, portrait, as a phone takes a page


def render_photo_page(seed: int) -> bytes:
    """A 12-megapixel JPEG of a page of text, as a phone photographs a document."""
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) for _ in range(14)]
    page = Image.open(io.BytesIO(render_page(lines, width=1240, height=1754)))
    photo = page.convert("RGB").resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def engine_seconds_per_page(photos: list[bytes], samples: int = 3) -> float:
    """Wall seconds one OCR engine process with one intra-op thread takes per page, as the
    worker feeds it (scaled and tiled to the OCR limits), measured before the service starts."""
    pool = ocr_pool_for(Settings(workers=os.cpu_count() or 1))
    single = OcrPool(1, replace(pool.options, intra_op_threads=1), pool.limits, 600)
    try:
        single.start()
        images = [Image.open(io.BytesIO(data)).convert("RGB") for data in photos[:samples]]
        single.read_page(images[0])  # the first read is slower
        started = time.perf_counter()
        for image in images:
            single.read_page(image)
        return (time.perf_counter() - started) / len(images)
    finally:
        single.close()


@dataclass
class BigSession:
    pages: int
    seconds: float
    ideal_seconds: float
    peak_rss: float
    peak_main_rss: float
    idle_rss: float
    state: str


def run_big_session(service: Service, photos: list[bytes], per_page: float) -> BigSession:
    """One session of every photo on the idle worker: submit-to-processed time and the peak RSS
    of the worker with its engine processes, sampled every 0.1 s."""
    session_id = service.api.create_upload(
        "document-ocr", "big-session", [(data, "image/jpeg") for data in photos]
    )
    peak = peak_main = 0.0
    with service.db() as db:
        started = time.time()
        service.api.submit("document-ocr", session_id)
        deadline = time.monotonic() + 60 * len(photos)
        while time.monotonic() < deadline:
            peak = max(peak, tree_memory_mb(service.worker_pid)["VmRSS"])
            peak_main = max(peak_main, memory_mb(service.worker_pid)["VmRSS"])
            row = db.execute(
                "SELECT state, processed_at FROM sessions WHERE id = ?", [session_id]
            ).fetchone()
            if row["state"] in ("completed", "failed"):
                break
            time.sleep(0.1)
    time.sleep(0.5)
    return BigSession(
        pages=len(photos),
        seconds=parse_ts(row["processed_at"]) - started,
        ideal_seconds=len(photos) * per_page / (os.cpu_count() or 1),
        peak_rss=peak,
        peak_main_rss=peak_main,
        idle_rss=tree_memory_mb(service.worker_pid)["VmRSS"],
        state=row["state"],
    )


def report_big_session(big: BigSession, per_page: float) -> None:
    print(
        f"\none session of {big.pages} pages of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG photos on the "
        f"idle worker ({big.state}): {big.seconds:.1f} s from submit to processed; pages x engine "
        f"time / cores = {big.pages} x {per_page:.2f} s / {os.cpu_count()} = "
        f"{big.ideal_seconds:.1f} s; ratio ideal / actual = {big.ideal_seconds / big.seconds:.2f}"
    )
    print(
        f"worker with its OCR engine processes during that session: peak VmRSS "
        f"{big.peak_rss:.0f} MiB (bound 1536 MiB; the worker process alone "
        f"{big.peak_main_rss:.0f} MiB), {big.idle_rss:.0f} MiB after it"
    )


# ---------------------------------------------------------------- receipt overhead


@dataclass
class ReceiptRun:
    seed: int
    engine_ms: float
    engine_cpu_ms: float
    total_ms: float
    service_cpu_ms: float
    submit_ms: float
    pickup_ms: float
    processing_ms: float
    state: str

    @property
    def overhead_ms(self) -> float:
        return self.total_ms - self.engine_ms


def run_receipts(service: Service, runs: int, workers: int) -> tuple[list[ReceiptRun], float]:
    """Per run: the engine's own time on a receipt photo, then submit-to-completed for it.

    Also returns the idle CPU use of the service processes (ms per second) for reference."""
    engine = OcrEngine(intra_op_threads=max(1, (os.cpu_count() or 1) // workers))
    photos = {seed: render_receipt(random_receipt_spec(seed)) for seed in range(runs)}
    for _ in range(2):
        engine.read(Image.open(io.BytesIO(photos[0])))
    idle_before, idle_started = service.cpu(), time.perf_counter()
    time.sleep(2)
    idle_ms_per_s = (service.cpu() - idle_before) * 1000 / (time.perf_counter() - idle_started)
    db = service.db()
    results = []
    for seed, photo in photos.items():
        image = Image.open(io.BytesIO(photo))
        image.load()
        started, cpu = time.perf_counter(), time.process_time()
        engine.read(image)
        engine_ms = (time.perf_counter() - started) * 1000
        engine_cpu_ms = (time.process_time() - cpu) * 1000

        slug = "receipt-ocr"
        session_id = service.api.create_upload(slug, f"receipt-{seed}", [(photo, "image/jpeg")])
        cpu_before = service.cpu()
        started = time.perf_counter()
        service.api.submit(slug, session_id)
        submit_ms = (time.perf_counter() - started) * 1000
        while True:
            row = db.execute(
                "SELECT s.state, s.submitted_at, s.processed_at, e.occurred_at AS started_at "
                "FROM sessions s JOIN submissions sub ON sub.session_id = s.id "
                "LEFT JOIN submission_events e ON e.submission_id = sub.id "
                "AND e.type = 'processing_started' WHERE s.id = ?",
                [session_id],
            ).fetchone()
            if row["state"] in ("completed", "failed"):
                break
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"receipt session {session_id} not finished in 300 s")
            time.sleep(0.005)
        total_ms = (time.perf_counter() - started) * 1000
        service_cpu_ms = (service.cpu() - cpu_before) * 1000
        submitted, began = parse_ts(row["submitted_at"]), parse_ts(row["started_at"])
        results.append(
            ReceiptRun(
                seed=seed,
                engine_ms=engine_ms,
                engine_cpu_ms=engine_cpu_ms,
                total_ms=total_ms,
                service_cpu_ms=service_cpu_ms,
                submit_ms=submit_ms,
                pickup_ms=(began - submitted) * 1000,
                processing_ms=(parse_ts(row["processed_at"]) - began) * 1000,
                state=row["state"],
            )
        )
        print(
            f"receipt {seed}: engine {engine_ms:.0f} ms, submit-to-completed {total_ms:.0f} ms; "
            f"{load_note()}",
            flush=True,
        )
    db.close()
    return results, idle_ms_per_s


# ---------------------------------------------------------------- report


def report_throughput(
    args: argparse.Namespace, direct: list[Part], served: list[ServicePart]
) -> None:
    cores = os.cpu_count() or 1
    print()
    print(
        f"{args.pages} generated pages (PNG, {PAGE_SIZE[0]}x{PAGE_SIZE[1]}, 6..9 lines each) in "
        f"{args.rounds} part(s); {cores} engine process(es) vs {args.workers} worker thread(s), "
        f"1 intra-op thread each; sessions of {args.pages_per_session} pages"
    )
    rows = []
    for number, (d, s) in enumerate(zip(direct, served, strict=True), start=1):
        rows.append(figure_row(f"part {number}: engine directly", d))
        rows.append(figure_row(f"part {number}: whole service", s.part, d))
    rows.append(figure_row("all: engine directly", totals(direct)))
    rows.append(figure_row("all: whole service", totals([s.part for s in served]), totals(direct)))
    print_table(
        ["pass", "pages", "seconds", "pages/s", "CPU s/page", "cores busy", "service/direct"], rows
    )
    print(
        f"(cores busy = CPU seconds / seconds: below {cores} means the side did not use all the "
        "cores: other jobs on the machine took them, or there were too few pages in flight to keep "
        "every OCR engine busy)"
    )
    ratio = totals([s.part for s in served]).pages / totals([s.part for s in served]).seconds
    ratio /= totals(direct).pages / totals(direct).seconds
    verdict = "met" if ratio >= THROUGHPUT_TARGET else "NOT met"
    print(f"\nratio service/direct = {ratio:.2f} (target >= {THROUGHPUT_TARGET:.2f}: {verdict})")
    direct_cpu = totals(direct).cpu / totals(direct).pages
    service_cpu = totals([s.part for s in served]).cpu / totals([s.part for s in served]).pages
    pages = totals([s.part for s in served]).pages
    split = ", ".join(
        f"{name} {sum(s.cpu_split[name] for s in served) / pages:.3f} s"
        for name in served[0].cpu_split
    )
    print(
        f"CPU per page: engine {direct_cpu:.3f} s, service {service_cpu:.3f} s ({split}); "
        f"ratio engine/service {direct_cpu / service_cpu:.2f}"
    )
    client = sum(s.client_seconds for s in served)
    print(
        f"the bench client spent {client:.1f} s in all creating, uploading and submitting "
        "(overlapping the processing; its own CPU is not counted above)"
    )


def figure_row(label: str, part: Part, versus: Part | None = None) -> list[str]:
    """A table row; ``versus``: the direct figure to give the pages/s ratio against."""
    rate = part.pages / part.seconds
    return [
        label,
        str(part.pages),
        f"{part.seconds:.1f}",
        f"{rate:.2f}",
        f"{part.cpu / part.pages:.2f}",
        f"{part.cpu / part.seconds:.2f}",
        f"{rate / (versus.pages / versus.seconds):.2f}" if versus else "",
    ]


def report_memory(
    before: dict[str, float], served: list[ServicePart], engine_memory: list[dict[str, float]]
) -> None:
    print("\nworker process memory (MiB): VmRSS idle after each part, peak VmRSS sampled every")
    print("0.1 s during it, VmHWM (the kernel's peak RSS since start)")
    rows = [["after warm-up", "0", f"{before['VmRSS']:.0f}", "", f"{before['VmHWM']:.0f}"]]
    rows += [
        [
            f"after part {number}",
            str(s.memory.pages_so_far),
            f"{s.memory.idle_rss:.0f}",
            f"{s.memory.peak_rss:.0f}",
            f"{s.memory.hwm:.0f}",
        ]
        for number, s in enumerate(served, start=1)
    ]
    print_table(["moment", "pages", "VmRSS idle", "peak VmRSS", "VmHWM"], rows)
    if len(served) >= 2:
        first, last = served[0].memory, served[-1].memory
        print(
            f"growth from {first.pages_so_far} to {last.pages_so_far} pages: idle RSS "
            f"{last.idle_rss - first.idle_rss:+.0f} MiB, peak RSS "
            f"{last.peak_rss - first.peak_rss:+.0f} MiB, VmHWM {last.hwm - first.hwm:+.0f} MiB"
        )
    figures = ", ".join(f"{m['VmRSS']:.0f} / {m['VmHWM']:.0f}" for m in engine_memory)
    print(
        f"for reference, the direct engine processes (one engine each, no service code) after "
        f"all pages, VmRSS / VmHWM: {figures} MiB"
    )


def report_receipts(receipts: list[ReceiptRun], idle_ms_per_s: float) -> None:
    print(f"\none-page receipt photo, {len(receipts)} runs (a different receipt each run)")
    print_table(
        [
            "seed",
            "engine ms",
            "submit-to-completed ms",
            "overhead ms",
            "submit HTTP ms",
            "queue pickup ms",
            "processing ms",
            "engine CPU ms",
            "service CPU ms",
        ],
        [
            [
                str(run.seed),
                f"{run.engine_ms:.0f}",
                f"{run.total_ms:.0f}",
                f"{run.overhead_ms:.0f}",
                f"{run.submit_ms:.0f}",
                f"{run.pickup_ms:.0f}",
                f"{run.processing_ms:.0f}",
                f"{run.engine_cpu_ms:.0f}",
                f"{run.service_cpu_ms:.0f}",
            ]
            for run in receipts
        ],
    )
    overhead = statistics.median(run.overhead_ms for run in receipts)
    verdict = "met" if overhead < OVERHEAD_TARGET_MS else "NOT met"
    print(
        f"\nmedian overhead (submit-to-completed minus engine time) = {overhead:.0f} ms "
        f"(target < {OVERHEAD_TARGET_MS:.0f} ms: {verdict}); median submit-to-completed "
        f"{statistics.median(r.total_ms for r in receipts):.0f} ms, median engine "
        f"{statistics.median(r.engine_ms for r in receipts):.0f} ms"
    )
    cpu_overhead = statistics.median(r.service_cpu_ms - r.engine_cpu_ms for r in receipts)
    print(
        f"median CPU overhead (service CPU minus engine CPU) = {cpu_overhead:.0f} ms; the "
        f"service processes use {idle_ms_per_s:.0f} ms of CPU per second when idle (polling)"
    )
    print(
        "  queue pickup = submitted_at to the processing_started event; processing = that event "
        "to processed_at (download, decode, hash, OCR, extraction, fraud checks, store); server "
        "timestamps have millisecond resolution; CPU figures have 10 ms resolution"
    )


def main() -> int:
    args = parse_args()
    cores = os.cpu_count() or 1
    loads = {"start": load_note()}
    print(f"start: {loads['start']}", flush=True)
    print(f"rendering {args.pages} pages...", flush=True)
    warmups = [render_one(-1 - number) for number in range(max(cores, args.workers))]
    PAGES.extend(render_pages(args.pages, cores))
    size = -(-args.pages // args.rounds)
    parts = [
        list(range(start, min(start + size, args.pages))) for start in range(0, args.pages, size)
    ]

    photos = [render_photo_page(seed) for seed in range(args.big_pages)]
    per_page = engine_seconds_per_page(photos) if photos else 0.0
    print(f"starting {cores} direct engine processes...", flush=True)
    engines = DirectEngines(cores, warmups[0])
    direct: list[Part] = []
    served: list[ServicePart] = []
    with tempfile.TemporaryDirectory(prefix="steve-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        key = create_company_key(data_dir, "bench", ["document-ocr", "receipt-ocr"])
        env = {
            "STEVE_WORKERS": str(args.workers),
            "STEVE_WORKER_POLL_SECONDS": str(args.poll_seconds),
            "STEVE_RATE_LIMIT_SESSION": RATE_LIMIT,
            "STEVE_RATE_LIMIT_SUBMIT": RATE_LIMIT,
            "STEVE_RATE_LIMIT_READ": RATE_LIMIT,
        }
        with start_steve(data_dir, command="up", **env) as server:
            server.wait_ready("/readyz")
            service = Service(
                server=server,
                api=Api(server.url, key),
                data_dir=data_dir,
                worker_pid=find_child(server.pid, is_worker),
                weed_pid=find_child(server.pid, "weed"),
            )
            try:
                wait_log(server, "OCR engine loaded", args.workers)
                print(
                    f"service up (pid {server.pid}, worker {service.worker_pid}, SeaweedFS "
                    f"{service.weed_pid}); warming up the worker...",
                    flush=True,
                )
                warm_up_worker(service, warmups[: args.workers])
                before = tree_memory_mb(service.worker_pid)
                pages_done = 0
                for number, indices in enumerate(parts, start=1):
                    order = ("direct", "service") if number % 2 else ("service", "direct")
                    for side in order:
                        loads[f"part {number} {side}, before"] = load_note()
                        if side == "direct":
                            direct.append(engines.run(indices))
                            figure = direct[-1]
                        else:
                            served.append(
                                run_service(
                                    service,
                                    indices,
                                    args.pages_per_session,
                                    f"part{number}",
                                    pages_done,
                                )
                            )
                            figure = served[-1].part
                        print(
                            f"part {number} {side}: {figure.pages} pages in {figure.seconds:.1f} s "
                            f"({figure.pages / figure.seconds:.2f} pages/s); {load_note()}",
                            flush=True,
                        )
                    pages_done += len(indices)
                engine_memory = engines.memory()
                engines.close()
                loads["receipt runs, before"] = load_note()
                receipts, idle_ms_per_s = run_receipts(service, args.receipt_runs, args.workers)
                big = run_big_session(service, photos, per_page) if photos else None
            finally:
                service.api.close()
    loads["end"] = load_note()

    report_throughput(args, direct, served)
    report_memory(before, served, engine_memory)
    report_receipts(receipts, idle_ms_per_s)
    if big is not None:
        report_big_session(big, per_page)
    print()
    for moment, note in loads.items():
        print(f"{moment}: {note}")
    print(
        f"note: {cores} CPUs shared with other engineers' jobs right now; the run is kept modest "
        f"({args.pages} pages per side, {len(receipts)} receipts); compare ratios and CPU figures"
    )
    print(
        f"note: `steve-lite up` ran with STEVE_WORKERS={args.workers}, "
        f"STEVE_WORKER_POLL_SECONDS={args.poll_seconds:g} and rate limits of {RATE_LIMIT} "
        "(nothing is rate-limited); every engine read one page before timing"
    )
    failed = [item for s in served for item in s.failed]
    failed += [f"receipt {r.seed}: {r.state}" for r in receipts if r.state != "completed"]
    if big is not None and big.state != "completed":
        failed.append(f"big session: {big.state}")
    if failed:
        print(f"\nFAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
