"""Running the pieces: the API, the worker, the embedded S3 server, or all of them (``up``)."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from steve_lite import db as database
from steve_lite.heartbeat import Heartbeat, forget_process
from steve_lite.lifetime import die_with_parent_hook
from steve_lite.queue import Queue
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.storage.setup import SupervisedS3, storage_for
from steve_lite.supervisor import Supervisor
from steve_lite.wiring import build_api, build_worker

logger = logging.getLogger("steve_lite.runner")
worker_logger = logging.getLogger("steve_lite.worker")  # the worker process logs as before
WORKER_STOP_SECONDS = 30


class ApiServer(uvicorn.Server):
    """uvicorn that stops gracefully on SIGINT/SIGTERM and then returns, exit code 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        handlers = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


def warn_if_private_webhooks(settings: Settings) -> None:
    if settings.webhook_allow_private:
        logger.warning(
            "STEVE_WEBHOOK_ALLOW_PRIVATE is ON: webhooks may target http:// and private, "
            "loopback and link-local addresses. Use this for local development only."
        )


GC_FIRST_GENERATION_THRESHOLD = 10_000  # allocations between young collections (default 700)


def serve_api(settings: Settings, storage: ObjectStorage) -> None:
    """Serve the API with uvicorn until Ctrl-C or SIGTERM."""
    warn_if_private_webhooks(settings)
    app = build_api(settings, storage, queue=Queue(settings))
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    tune_garbage_collection()
    logger.info("serving the API on http://%s:%s", settings.host, settings.port)
    ApiServer(config).run()
    logger.info("API stopped")


def tune_garbage_collection() -> None:
    """Keep the cyclic collector off the objects built at start-up and run it less often.

    Measured with ``bench/sessions.py``: collections took about 5 % of the API's time under
    load, mostly full collections that walked the application's own (immortal) objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION_THRESHOLD, 20, 20)


def run_worker(settings: Settings, storage: ObjectStorage) -> None:
    """``steve-lite worker``: run the consumer until SIGINT (finish running tasks) or SIGTERM
    (stop now; unfinished sessions are re-queued by the sweep once their lease ends)."""
    services = build_worker(settings, storage)
    if settings.ocr_warmup:
        services.ocr.start()
    consumer = services.queue.consumer(
        workers=settings.workers,
        worker_type="thread",
        initial_delay=min(0.05, settings.worker_poll_seconds),
        backoff=1.15,
        max_delay=settings.worker_poll_seconds,
        scheduler_interval=1,
        periodic=True,
        check_worker_health=True,
    )
    heartbeat = Heartbeat(settings)
    heartbeat.start()
    worker_logger.info(
        "worker started: %s thread(s), queue %s", settings.workers, services.queue.location
    )
    try:
        consumer.run()
    finally:
        heartbeat.stop()
    for _, thread in consumer.worker_threads:
        thread.join(timeout=0.5)  # idle threads notice the stop flag within a poll interval
    busy = any(thread.is_alive() for _, thread in consumer.worker_threads)
    if busy:
        # SIGTERM leaves tasks running in daemon threads, waiting on engine processes. Their
        # sessions keep a lease and are re-queued by the sweep, so leave now without the
        # interpreter's teardown, as a clean exit; the engine processes die with this one.
        worker_logger.info("worker stopped")
        logging.shutdown()
        os._exit(0)
    services.close()
    worker_logger.info("worker stopped")


class WorkerProcess:
    """``steve-lite worker`` as a child process (its own signal handling, its own GIL), started
    again with a backoff when it dies.

    It runs in its own session, like the embedded S3 server: Ctrl-C in a terminal reaches only
    this process, which stops the worker with one SIGINT (a second one would cut its graceful
    stop short). It gets SIGTERM if this process dies. When it dies, its heartbeat row goes at
    once, so that ``/readyz`` answers 503 until the new worker beats.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.process = self._spawn()
        self._supervisor = Supervisor(
            "worker", start=self._restart, wait=lambda: self.process.wait(), on_exit=self._died
        )
        self._supervisor.watch()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "steve_lite", "worker"],
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),
        )

    def _restart(self) -> None:
        self.process = self._spawn()

    def _died(self, code: int) -> None:
        db = database.open_database(self._settings)
        try:
            forget_process(db, self.process.pid)
        finally:
            db.close()

    def stop(self) -> None:
        """SIGINT lets running tasks finish; SIGKILL after a grace period."""
        self._supervisor.stop()
        with self._supervisor.lock:
            process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("the worker did not stop in %s s; killing it", WORKER_STOP_SECONDS)
                process.kill()
                process.wait()


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def run_all(settings: Settings) -> None:
    """Everything ``steve-lite up`` runs, stopped together on Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    embedded = SupervisedS3(settings) if settings.embedded_s3 else None
    try:
        storage = storage_for(settings, embedded.server if embedded else None)
        storage.ensure_bucket()
        worker = WorkerProcess(settings) if settings.run_worker else None
        try:
            serve_api(settings, storage)
        finally:
            if worker is not None:
                worker.stop()
    finally:
        if embedded is not None:
            embedded.stop()
        logger.info("steve-lite stopped")


def run_embedded_s3(settings: Settings) -> None:
    """``steve-lite s3``: only the embedded S3 server, until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    embedded = SupervisedS3(settings)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        embedded.stop()
