"""The typed containers of what each process kind's code needs, one per kind.

:class:`ApiServices` is what the API's routes and middleware use; :class:`WorkerServices` what
the worker's tasks use. Both are built in one place, :mod:`steve_lite.wiring`; code receives
them and never builds its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import anyio

from steve_lite import db as database
from steve_lite.db import Database
from steve_lite.group_commit import GroupCommit
from steve_lite.processing.ocr_limits import OcrLimits
from steve_lite.processing.ocr_pool import EngineOptions, OcrPool
from steve_lite.queue import Queue
from steve_lite.read_cache import ReadCache
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectStorage


@dataclass(frozen=True)
class ApiServices:
    """The API process: one connection on the event loop, its group commit and read cache, the
    object storage, the queue (None: submitted sessions wait, for tests of the API alone), and
    the threads webhook probes wait on (slow targets cannot take the threads submit uses)."""

    settings: Settings
    db: Database
    writes: GroupCommit
    cache: ReadCache
    storage: ObjectStorage
    queue: Queue | None
    probe_threads: anyio.CapacityLimiter


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


class WorkerServices:
    """The worker process: settings, queue, storage, the OCR engines and the page threads that
    feed them, and per thread a database connection."""

    def __init__(self, settings: Settings, storage: ObjectStorage, queue: Queue) -> None:
        self.settings = settings
        self.storage = storage
        self.queue = queue
        self._local = threading.local()

    @property
    def db(self) -> Database:
        """This thread's connection (connections are not shared between threads)."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = database.open_database(self.settings)
        return db

    @cached_property
    def ocr(self) -> OcrPool:
        """The OCR engine processes (started on first use, or at once by the runner)."""
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
