"""The worker process: a runtime built once, and the Huey consumer that runs the tasks."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading

from sqlite_utils import Database

from steve_lite import db as database
from steve_lite.processing.ocr import OcrEngine
from steve_lite.queue import Queue
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectStorage

logger = logging.getLogger("steve_lite.worker")


class Runtime:
    """What tasks need, built once per process: settings, queue, storage, and per worker
    thread a database connection and an OCR engine (built on the thread's first use)."""

    def __init__(self, settings: Settings, storage: ObjectStorage, queue: Queue) -> None:
        self.settings = settings
        self.storage = storage
        self.queue = queue
        self._local = threading.local()

    @property
    def db(self) -> Database:
        """This thread's connection (SQLite connections are not shared between threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = database.connect(self.settings.database_path)
        return db

    @property
    def ocr(self) -> OcrEngine:
        """This worker thread's OCR engine: built once, reused by every task it runs."""
        engine = getattr(self._local, "ocr", None)
        if engine is None:
            threads = max(1, (os.cpu_count() or 1) // self.settings.workers)
            engine = self._local.ocr = OcrEngine(intra_op_threads=threads)
            logger.info("OCR engine loaded (%s intra-op threads)", threads)
        return engine


def release_freed_memory() -> None:
    """Give memory freed by a task back to the system (glibc keeps it in its arenas otherwise:
    measured with ``bench/processing.py``, the worker's RSS crept up page after page)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def register_handlers(runtime: Runtime) -> None:
    """Bind the queue's tasks to the services that do the work."""
    from steve_lite.processing.pipeline import process_session
    from steve_lite.sweeps import sweep
    from steve_lite.webhooks.delivery import deliver

    queue = runtime.queue

    def process(session_id: str) -> None:
        try:
            process_session(runtime, session_id)
        finally:
            release_freed_memory()

    queue.handle("process_session", process)
    queue.handle("deliver_webhook", lambda event_id: deliver(runtime, event_id))
    queue.handle("sweep", lambda: sweep(runtime))
    if runtime.settings.ocr_warmup:
        queue.huey.on_startup()(lambda: runtime.ocr)  # each worker thread loads its engine now


def run_worker(settings: Settings, storage: ObjectStorage) -> None:
    """Run the consumer until SIGINT (finish running tasks) or SIGTERM (stop now; unfinished
    sessions are re-queued by the sweep once their lease ends)."""
    queue = Queue(settings)
    runtime = Runtime(settings, storage, queue)
    register_handlers(runtime)
    consumer = queue.huey.create_consumer(
        workers=settings.workers,
        worker_type="thread",
        initial_delay=min(0.05, settings.worker_poll_seconds),
        backoff=1.15,
        max_delay=settings.worker_poll_seconds,
        scheduler_interval=1,
        periodic=True,
        check_worker_health=True,
    )
    logger.info("worker started: %s thread(s), queue %s", settings.workers, settings.queue_path)
    consumer.run()
    for _, thread in consumer.worker_threads:
        thread.join(timeout=0.5)  # idle threads notice the stop flag within a poll interval
    busy = any(thread.is_alive() for _, thread in consumer.worker_threads)
    logger.info("worker stopped")
    if busy:
        # SIGTERM leaves tasks running in daemon threads. Tearing the interpreter down under a
        # running onnxruntime session aborts the process ("terminate called without an active
        # exception", SIGABRT). Their sessions keep a lease and are re-queued by the sweep, so
        # leave now without the teardown, as a clean exit.
        logging.shutdown()
        os._exit(0)
