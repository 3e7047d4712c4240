"""The worker process: a runtime built once, and the Huey consumer that runs the tasks."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

from sqlite_utils import Database

from steve_lite import db as database
from steve_lite.heartbeat import Heartbeat
from steve_lite.memory import release_freed_memory
from steve_lite.processing.ocr_limits import OcrLimits
from steve_lite.processing.ocr_pool import EngineOptions, OcrPool
from steve_lite.queue import Queue
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectStorage

logger = logging.getLogger("steve_lite.worker")


def ocr_pool_for(settings: Settings) -> OcrPool:
    """``settings.workers`` OCR engine processes sharing the cores, within the OCR limits."""
    threads = max(1, (os.cpu_count() or 1) // settings.workers)
    options = EngineOptions(
        parent_pid=os.getpid(),
        intra_op_threads=threads,
        memory_limit_bytes=settings.ocr_engine_memory_mb * 1024 * 1024,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )
    limits = OcrLimits(
        min_side=settings.ocr_min_side_px,
        max_aspect=settings.ocr_max_aspect_ratio,
        tile_aspect=settings.ocr_tile_aspect_ratio,
        max_input_pixels=settings.ocr_max_input_pixels,
    )
    return OcrPool(settings.workers, options, limits, settings.ocr_page_timeout_seconds)


class Runtime:
    """What tasks need, built once per process: settings, queue, storage, the OCR engines and
    the page threads that feed them, and per thread a database connection."""

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

    @cached_property
    def ocr(self) -> OcrPool:
        """The OCR engine processes (started on first use, or at once by :meth:`warm_up`)."""
        return ocr_pool_for(self.settings)

    @cached_property
    def pages(self) -> ThreadPoolExecutor:
        """The threads that read files: one per OCR engine, so that a lone document keeps every
        engine busy and no more decoded images are held than there are engines."""
        return ThreadPoolExecutor(self.settings.workers, thread_name_prefix="page")

    def close(self) -> None:
        """Stop the page threads and the OCR engine processes."""
        if "pages" in self.__dict__:
            self.pages.shutdown(wait=False, cancel_futures=True)
        if "ocr" in self.__dict__:
            self.ocr.close()


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


def run_worker(settings: Settings, storage: ObjectStorage) -> None:
    """Run the consumer until SIGINT (finish running tasks) or SIGTERM (stop now; unfinished
    sessions are re-queued by the sweep once their lease ends)."""
    queue = Queue(settings)
    runtime = Runtime(settings, storage, queue)
    register_handlers(runtime)
    if settings.ocr_warmup:
        runtime.ocr.start()
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
    heartbeat = Heartbeat(settings.database_path, settings.worker_heartbeat_seconds)
    heartbeat.start()
    logger.info("worker started: %s thread(s), queue %s", settings.workers, settings.queue_path)
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
        logger.info("worker stopped")
        logging.shutdown()
        os._exit(0)
    runtime.close()
    logger.info("worker stopped")
