"""OCR engines in child processes, so that one page's time and memory are bounded.

Each engine runs in a process of its own (spawned, so no thread or lock of the worker is
inherited), under a memory limit (``RLIMIT_DATA``). A page that takes longer than its time
budget, or that makes its engine crash or run out of memory, fails with a reason; its engine
process is replaced and the worker goes on. Pages are cut and scaled by
:mod:`steve_lite.processing.ocr_limits` before an engine sees them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import resource
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn

from PIL import Image

from steve_lite.lifetime import die_with_parent
from steve_lite.log import configure_logging
from steve_lite.memory import release_freed_memory
from steve_lite.processing.ocr import DetectorGeometry, OcrEngine, OcrLine, OcrPage, assemble_page
from steve_lite.processing.ocr_limits import OcrLimits, check_page_shape, place_lines, plan_tiles

logger = logging.getLogger("steve_lite.ocr")

START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 5


class OcrFailure(Exception):
    """A page could not be read; the message says why in plain words."""


class OcrTimeout(OcrFailure):
    """An engine took longer than it was given."""


@dataclass(frozen=True)
class EngineOptions:
    """How each engine process is set up."""

    parent_pid: int
    intra_op_threads: int = 1
    memory_limit_bytes: int | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    geometry: DetectorGeometry = field(default_factory=DetectorGeometry)


def serve_engine(conn: Connection, options: EngineOptions) -> None:
    """The engine process: read images sent on ``conn`` until it closes or sends None."""
    die_with_parent(options.parent_pid, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when engines stop
    if options.memory_limit_bytes:
        limit = options.memory_limit_bytes
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    configure_logging(options.log_level, options.log_format)
    engine = OcrEngine(intra_op_threads=options.intra_op_threads, geometry=options.geometry)
    logger.info("OCR engine loaded (%s intra-op threads)", options.intra_op_threads)
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the worker is gone
            return
        if message is None:
            return
        size, pixels = message
        try:
            page = engine.read(Image.frombytes("RGB", size, pixels))
            reply: tuple[str, Any] = ("ok", [(x.text, x.confidence, x.box) for x in page.lines])
        except MemoryError:
            reply = ("error", "the OCR engine ran out of memory")
        except Exception as exc:  # an engine error on one image must not end the process
            logger.warning("OCR engine error on a %sx%s image: %r", *size, exc)
            reply = ("error", "the OCR engine could not read it")
        del message, pixels
        release_freed_memory()
        try:
            conn.send(reply)
        except OSError:  # the worker is gone
            return


class EngineProcess:
    """One engine process, started on first use and replaced after a failure."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The engine process's id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the process (if it does not run) and wait until its engine is loaded."""
        if self._process is not None and self._process.is_alive():
            return
        self.stop()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=serve_engine, args=(child, self.options), name="ocr-engine", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        if not parent.poll(START_TIMEOUT_SECONDS) or self._receive() != "ready":
            self.stop()
            raise OcrFailure("the OCR engine did not start")

    def read(self, image: Image.Image, timeout: float) -> list[OcrLine]:
        """The lines of one image; raises :class:`OcrFailure` past ``timeout`` seconds or when
        the engine fails (the process is then replaced on the next call)."""
        self.start()
        assert self._conn is not None
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        try:
            self._conn.send((rgb.size, rgb.tobytes()))
        except OSError:  # the engine died before it took the image
            self._crashed()
        if not self._conn.poll(max(timeout, 0.0)):
            self.stop()
            raise OcrTimeout(f"reading it took longer than {timeout:.0f} s")
        status, payload = self._receive()
        if status != "ok":
            raise OcrFailure(payload)
        return [OcrLine(text=t, confidence=c, box=b) for t, c, b in payload]

    def _receive(self) -> Any:
        assert self._conn is not None
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            self._crashed()

    def _crashed(self) -> NoReturn:
        assert self._process is not None
        self._process.join(STOP_TIMEOUT_SECONDS)
        code = self._process.exitcode
        self.stop()
        logger.warning("an OCR engine process died (exit code %s); it will be replaced", code)
        raise OcrFailure("the OCR engine crashed or ran out of memory reading it")

    def stop(self) -> None:
        """Stop the process: a polite request, then SIGKILL."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):  # the process is already gone
                conn.send(None)
            conn.close()
        if process is not None:
            process.join(0.5 if process.is_alive() else 0)
            if process.is_alive():
                process.kill()
                process.join(STOP_TIMEOUT_SECONDS)


class OcrPool:
    """``size`` engine processes; :meth:`read_page` blocks until one is free."""

    def __init__(
        self,
        size: int,
        options: EngineOptions,
        limits: OcrLimits,
        page_timeout_seconds: float,
    ) -> None:
        self.limits = limits
        self.options = options
        self.page_timeout_seconds = page_timeout_seconds
        self._engines = [EngineProcess(options) for _ in range(size)]
        self._idle: queue.SimpleQueue[EngineProcess] = queue.SimpleQueue()
        for engine in self._engines:
            self._idle.put(engine)

    def start(self) -> None:
        """Start every engine now rather than on first use."""
        for engine in self._engines:
            engine.start()

    def read_page(self, image: Image.Image) -> OcrPage:
        """Read one page within the limits; raises ``PageShapeError`` or :class:`OcrFailure`."""
        check_page_shape(image.width, image.height, self.limits)
        geometry = self.options.geometry
        tiles = plan_tiles(
            image.width, image.height, self.limits, geometry.input_size, geometry.max_side_len
        )
        vertical = image.height >= image.width
        engine = self._idle.get()
        try:
            deadline = time.monotonic() + self.page_timeout_seconds
            lines: list[OcrLine] = []
            for tile in tiles:
                box = (tile.left, tile.top, tile.right, tile.bottom)
                if tile.scale != 1.0:  # resized straight from the page: no full-size copy
                    region = image.resize(tile.size, Image.Resampling.LANCZOS, box=box)
                elif box == (0, 0, image.width, image.height):
                    region = image
                else:
                    region = image.crop(box)
                found = engine.read(region, deadline - time.monotonic())
                lines += place_lines(found, tile, vertical)
        except OcrTimeout:
            raise OcrFailure(
                f"reading it took longer than the {self.page_timeout_seconds:g} s allowed per page"
            ) from None
        finally:
            self._idle.put(engine)
        return assemble_page(lines)

    def close(self) -> None:
        """Stop every engine process."""
        for engine in self._engines:
            engine.stop()
