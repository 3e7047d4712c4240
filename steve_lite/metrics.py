"""Prometheus metrics: what the API and the worker count, and the text ``/metrics`` serves.

Two processes, one scrape target. The API counts requests and rate-limit refusals in its own
memory. The worker (another process, or several) counts processing, OCR, files, bytes and
webhook attempts in prometheus_client's multiprocess files under ``<data dir>/metrics``
(:func:`record_to_directory`, called once when a worker starts). ``GET /metrics`` on the API
serves its own metrics, the worker files summed over every worker process, and gauges read
from the databases at scrape time (queue depth, oldest waiting work, worker heartbeat age,
rows by state). Label values are bounded: route templates, known methods, status codes,
bucket names, workflow slugs (made by operators, never by callers) and fixed outcome words.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from steve_lite.clock import parse_iso, utcnow
from steve_lite.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
WORKER_FILE_PREFIX = "worker"
# Request latency: the API answers reads in about a millisecond, creates in a few.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Processing: seconds per session, up to 20 OCR pages of about a second each.
PROCESSING_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
OCR_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
# Webhook latency: from the event to its delivery, through retries (30 s, then 5 min).
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0)

API_REGISTRY = CollectorRegistry()
ProcessCollector(registry=API_REGISTRY)
PlatformCollector(registry=API_REGISTRY)
REQUEST_LABELS = ("route", "method", "status")
REQUESTS = Counter(
    "steve_http_requests",
    "HTTP requests answered, by route template, method and status.",
    REQUEST_LABELS,
    registry=API_REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "steve_http_request_duration_seconds",
    "Time from the request to the start of its response, by route template, method and status.",
    REQUEST_LABELS,
    buckets=REQUEST_BUCKETS,
    registry=API_REGISTRY,
)
RATE_LIMIT_REFUSALS = Counter(
    "steve_rate_limit_refusals",
    "Requests refused with 429, by rate-limit bucket.",
    ("bucket",),
    registry=API_REGISTRY,
)
_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(route: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answered request (``route`` is the matched template; None: no route)."""
    key = (route or UNMATCHED_ROUTE, method if method in METHODS else "other", status)
    children = _request_children.get(key)
    if children is None:
        labels = (key[0], key[1], str(status))
        children = (REQUESTS.labels(*labels), REQUEST_SECONDS.labels(*labels))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def rate_limit_refused(bucket: str) -> None:
    """Count one 429 in ``bucket``."""
    RATE_LIMIT_REFUSALS.labels(bucket).inc()


class WorkerMetrics:
    """The worker's metrics; built after :func:`record_to_directory` in a worker process."""

    def __init__(self) -> None:
        self.processing_seconds = Histogram(
            "steve_processing_duration_seconds",
            "Time to process one submitted session, by workflow and outcome "
            "(approved, review, failed).",
            ("workflow", "outcome"),
            buckets=PROCESSING_BUCKETS,
            registry=None,
        )
        self.ocr_page_seconds = Histogram(
            "steve_ocr_page_seconds",
            "OCR time of one page.",
            buckets=OCR_BUCKETS,
            registry=None,
        )
        self.files = Counter(
            "steve_processed_files",
            "Files downloaded and processed, by workflow.",
            ("workflow",),
            registry=None,
        )
        self.bytes = Counter(
            "steve_processed_bytes",
            "Bytes of the files downloaded and processed, by workflow.",
            ("workflow",),
            registry=None,
        )
        self.webhook_attempts = Counter(
            "steve_webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, retrying, failed: the last one).",
            ("outcome",),
            registry=None,
        )
        self.webhook_latency = Histogram(
            "steve_webhook_delivery_latency_seconds",
            "Time from an event to its successful delivery, retries included.",
            buckets=DELIVERY_BUCKETS,
            registry=None,
        )


_worker: WorkerMetrics | None = None


def worker_metrics() -> WorkerMetrics:
    """This process's worker metrics (in memory unless :func:`record_to_directory` ran)."""
    global _worker
    if _worker is None:
        _worker = WorkerMetrics()
    return _worker


def worker_metrics_dir(settings: Settings) -> Path:
    """Where worker processes keep their metrics files: ``<data dir>/metrics``."""
    return settings.data_dir / "metrics"


@cache
def host_name() -> str:
    """This host's name, safe in a file name."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())


def process_file_id() -> str:
    """``worker-<host>-<pid>``: unique among worker processes sharing one data dir, also across
    containers (which may all have the same pid) on one volume. prometheus_client asks for it
    on every write, to notice a fork."""
    return f"{WORKER_FILE_PREFIX}-{host_name()}-{os.getpid()}"


def record_to_directory(directory: Path) -> None:
    """Keep this process's worker metrics in multiprocess files under ``directory``, where the
    API reads them. Removes the files of dead worker processes of this host first."""
    global _worker
    directory.mkdir(parents=True, exist_ok=True)
    remove_dead_process_files(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue(process_file_id)
    _worker = None


def remove_dead_process_files(directory: Path) -> None:
    """Delete worker files of this host whose process is gone (a restarted worker starts its
    counters anew; Prometheus reads the drop as a counter reset)."""
    for path in directory.glob(f"*_{WORKER_FILE_PREFIX}-{host_name()}-*.db"):
        pid = path.stem.rsplit("-", 1)[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def session_processed(workflow: str, outcome: str, started: float) -> None:
    """Count one processed session and its duration since ``started`` (``perf_counter()``)."""
    metrics = worker_metrics()
    metrics.processing_seconds.labels(workflow, outcome).observe(time.perf_counter() - started)


def file_read(workflow: str, size_bytes: int) -> None:
    """Count one file downloaded and read (OCR or photo checks), and its bytes."""
    metrics = worker_metrics()
    metrics.files.labels(workflow).inc()
    metrics.bytes.labels(workflow).inc(size_bytes)


def time_ocr_page(read: Callable[[T], R], page: T) -> R:
    """``read(page)``, timed as the OCR of one page."""
    started = time.perf_counter()
    try:
        return read(page)
    finally:
        worker_metrics().ocr_page_seconds.observe(time.perf_counter() - started)


def webhook_attempted(event: Mapping[str, Any], delivered: bool, retry_in: float | None) -> None:
    """Count one attempt at delivering outbox row ``event``, and its latency once delivered."""
    metrics = worker_metrics()
    outcome = "delivered" if delivered else ("retrying" if retry_in is not None else "failed")
    metrics.webhook_attempts.labels(outcome).inc()
    if delivered:
        latency = (utcnow() - parse_iso(event["created_at"])).total_seconds()
        metrics.webhook_latency.observe(max(0.0, latency))


def exposition(*collectors: object, worker_directory: Path) -> bytes:
    """The Prometheus text of the API's metrics, the workers' files and ``collectors``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(API_REGISTRY)  # type: ignore[arg-type]
    for collector in collectors:
        registry.register(collector)  # type: ignore[arg-type]
    if worker_directory.is_dir():
        MultiProcessCollector(registry, path=str(worker_directory))
    return generate_latest(registry)
