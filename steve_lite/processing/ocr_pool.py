"""OCR engines in child processes, so that one page's time and memory are bounded.

Each engine runs in a process of its own (spawned, so no thread or lock of the worker is
inherited), under a memory limit (``RLIMIT_DATA``). A page that takes longer than its time
budget, or that makes its engine crash or run out of memory, fails with a reason; its engine
process is replaced and the worker goes on. Pages are cut and scaled by
:mod:`steve_lite.processing.ocr_limits` before an engine sees them.

PDFs are read in the engine processes too, never in the worker: the worker writes the file to a
private temporary file and asks an engine to count its pages, hash its first page's look, or
read one page (from its text layer, else rendered and OCRed there), each within the page's time
budget and the engine's memory limit. An engine keeps the last PDF it opened (by its SHA-256)
for the next page of that file.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, NoReturn

from PIL import Image

from steve_lite.lifetime import die_with_parent
from steve_lite.log import configure_logging
from steve_lite.memory import release_freed_memory
from steve_lite.processing.images import perceptual_hash
from steve_lite.processing.ocr import DetectorGeometry, OcrEngine, OcrLine, OcrPage, assemble_page
from steve_lite.processing.ocr_limits import (
    OcrLimits,
    PageShapeError,
    check_page_shape,
    place_lines,
    plan_tiles,
)
from steve_lite.processing.pdf import PdfDocument, PdfError, PdfLimits

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


@dataclass(frozen=True)
class PdfPageRead:
    """One PDF page as an engine read it: ``source`` is ``"text-layer"`` or ``"ocr"``."""

    source: str
    page: OcrPage


def read_in_tiles(
    image: Image.Image,
    limits: OcrLimits,
    geometry: DetectorGeometry,
    read: Callable[[Image.Image], list[OcrLine]],
) -> OcrPage:
    """One page read tile by tile with ``read``, its lines placed back on the page; raises
    ``PageShapeError`` for a page the engine must not be given."""
    check_page_shape(image.width, image.height, limits)
    tiles = plan_tiles(
        image.width, image.height, limits, geometry.input_size, geometry.max_side_len
    )
    vertical = image.height >= image.width
    lines: list[OcrLine] = []
    for tile in tiles:
        box = (tile.left, tile.top, tile.right, tile.bottom)
        if tile.scale != 1.0:  # resized straight from the page: no full-size copy
            region = image.resize(tile.size, Image.Resampling.LANCZOS, box=box)
        elif box == (0, 0, image.width, image.height):
            region = image
        else:
            region = image.crop(box)
        lines += place_lines(read(region), tile, vertical)
    return assemble_page(lines)


class EnginePdf:
    """The PDF an engine process has open, kept for the next page of the same file."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._document: PdfDocument | None = None

    def document(self, path: str, key: str, limits: PdfLimits) -> PdfDocument:
        """The PDF at ``path`` whose SHA-256 is ``key``, opened unless it already is."""
        if self._key != key or self._document is None:
            self.close()
            self._document = PdfDocument(Path(path).read_bytes(), limits)
            self._key = key
        return self._document

    def close(self) -> None:
        if self._document is not None:
            self._document.close()
        self._key = self._document = None


def serve_request(
    engine: OcrEngine, pdf: EnginePdf, message: tuple[Any, ...], geometry: DetectorGeometry
) -> Any:
    """What one request asks: an image's lines, or a PDF's page count, thumbnail hash or page."""
    kind, *args = message
    if kind == "image":
        size, pixels = args
        found = engine.read(Image.frombytes("RGB", size, pixels))
        return [(x.text, x.confidence, x.box) for x in found.lines]
    path, key, pdf_limits = args[:3]
    document = pdf.document(path, key, pdf_limits)
    if kind == "pdf-count":
        return document.page_count
    if kind == "pdf-hash":
        return perceptual_hash(document.thumbnail())
    index, ocr_limits = args[3:]
    page = document.read_page(index)
    if page.text_page is not None:
        return page.source, page.text_page
    assert page.image is not None
    image = page.image
    del page  # the rendering only is kept, released after its OCR
    return "ocr", read_in_tiles(
        image, ocr_limits, geometry, lambda tile: list(engine.read(tile).lines)
    )


def serve_engine(conn: Connection, options: EngineOptions) -> None:
    """The engine process: serve requests sent on ``conn`` until it closes or sends None."""
    die_with_parent(options.parent_pid, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when engines stop
    if options.memory_limit_bytes:
        limit = options.memory_limit_bytes
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    configure_logging(options.log_level, options.log_format)
    engine = OcrEngine(intra_op_threads=options.intra_op_threads, geometry=options.geometry)
    pdf = EnginePdf()
    logger.info("OCR engine loaded (%s intra-op threads)", options.intra_op_threads)
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the worker is gone
            return
        if message is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", serve_request(engine, pdf, message, options.geometry))
        except PdfError as exc:
            reply = ("pdf-error", str(exc))
        except PageShapeError as exc:
            reply = ("error", str(exc))
        except MemoryError:
            reply = ("error", "the OCR engine ran out of memory")
        except Exception as exc:  # an engine error on one request must not end the process
            logger.warning("OCR engine error on a %s request: %r", message[0], exc)
            reply = ("error", "the OCR engine could not read it")
        del message
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
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        payload = self.request(("image", rgb.size, rgb.tobytes()), timeout)
        return [OcrLine(text=t, confidence=c, box=b) for t, c, b in payload]

    def request(self, message: tuple[Any, ...], timeout: float) -> Any:
        """The engine's answer to ``message`` (see :func:`serve_request`); raises
        :class:`PdfError` for a PDF the engine refused, :class:`OcrFailure` past ``timeout``
        seconds or when the engine fails (the process is then replaced on the next call)."""
        self.start()
        assert self._conn is not None
        try:
            self._conn.send(message)
        except OSError:  # the engine died before it took the request
            self._crashed()
        if not self._conn.poll(max(timeout, 0.0)):
            self.stop()
            raise OcrTimeout(f"reading it took longer than {timeout:.0f} s")
        status, payload = self._receive()
        if status == "pdf-error":
            raise PdfError(payload)
        if status != "ok":
            raise OcrFailure(payload)
        return payload

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
        check_page_shape(image.width, image.height, self.limits)  # before waiting for an engine
        engine = self._idle.get()
        try:
            deadline = time.monotonic() + self.page_timeout_seconds
            return read_in_tiles(
                image,
                self.limits,
                self.options.geometry,
                lambda tile: engine.read(tile, deadline - time.monotonic()),
            )
        except OcrTimeout:
            raise OcrFailure(
                f"reading it took longer than the {self.page_timeout_seconds:g} s allowed per page"
            ) from None
        finally:
            self._idle.put(engine)

    def count_pdf_pages(self, path: str, key: str, limits: PdfLimits) -> int:
        """The page count of the PDF at ``path`` (SHA-256 ``key``), opened in an engine;
        raises :class:`PdfError` or :class:`OcrFailure`."""
        count: int = self._pdf_request("opening it", ("pdf-count", path, key, limits))
        return count

    def hash_pdf(self, path: str, key: str, limits: PdfLimits) -> str:
        """The perceptual hash of the PDF's first page, rendered small in an engine."""
        phash: str = self._pdf_request("rendering its first page", ("pdf-hash", path, key, limits))
        return phash

    def read_pdf_page(self, path: str, key: str, limits: PdfLimits, index: int) -> PdfPageRead:
        """Page ``index`` of the PDF, read in an engine from its text layer or rendered and
        OCRed there, within one page's time budget; raises :class:`PdfError` (the document's
        own limits) or :class:`OcrFailure`."""
        message = ("pdf-page", path, key, limits, index, self.limits)
        source, page = self._pdf_request("reading it", message)
        return PdfPageRead(source, page)

    def _pdf_request(self, doing: str, message: tuple[Any, ...]) -> Any:
        engine = self._idle.get()
        try:
            return engine.request(message, self.page_timeout_seconds)
        except OcrTimeout:
            raise OcrFailure(
                f"{doing} took longer than the {self.page_timeout_seconds:g} s allowed per page"
            ) from None
        finally:
            self._idle.put(engine)

    def close(self) -> None:
        """Stop every engine process."""
        for engine in self._engines:
            engine.stop()
