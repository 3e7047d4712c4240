"""OCR engine processes: a page past its time budget or a dead engine costs one page, and the
next page is read by a fresh engine process."""

from __future__ import annotations

import io
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from steve_lite.processing.ocr_limits import OcrLimits
from steve_lite.processing.ocr_pool import EngineOptions, OcrFailure, OcrPool
from steve_lite.processing.pdf import PdfLimits
from tests.factories.pages import render_page
from tests.factories.pdfs import slow_page_pdf

LINES = ["Engines come and go", "The worker stays"]


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return Image.open(io.BytesIO(render_page(LINES, width=1000, height=736))).convert("RGB")


@pytest.fixture
def pool() -> Iterator[OcrPool]:
    pool = OcrPool(1, EngineOptions(parent_pid=os.getpid(), intra_op_threads=1), OcrLimits(), 120)
    pool.start()
    yield pool
    pool.close()


def engine_pid(pool: OcrPool) -> int:
    (engine,) = pool._engines
    assert engine.pid is not None
    return engine.pid


def test_a_page_past_its_time_budget_fails_and_the_engine_is_replaced(
    pool: OcrPool, page: Image.Image
) -> None:
    first = engine_pid(pool)
    pool.page_timeout_seconds = 0.05

    with pytest.raises(OcrFailure, match=r"longer than the 0\.05 s allowed per page"):
        pool.read_page(page)

    pool.page_timeout_seconds = 120
    read = pool.read_page(page)
    assert "engines come and go" in read.text.lower()
    assert engine_pid(pool) != first


def test_an_engine_that_dies_mid_page_fails_that_page_only(
    pool: OcrPool, page: Image.Image
) -> None:
    first = engine_pid(pool)
    threading.Timer(0.2, os.kill, (first, signal.SIGKILL)).start()
    started = time.monotonic()

    with pytest.raises(OcrFailure, match="crashed or ran out of memory"):
        pool.read_page(page)

    assert time.monotonic() - started < 30
    read = pool.read_page(page)
    assert "the worker stays" in read.text.lower()
    assert engine_pid(pool) != first


def test_a_pdf_page_past_its_time_budget_fails_and_the_next_page_is_read(pool: OcrPool) -> None:
    first = engine_pid(pool)
    limits = PdfLimits()
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(slow_page_pdf(LINES))
        handle.flush()
        pool.page_timeout_seconds = 1
        assert pool.count_pdf_pages(handle.name, "slow", limits) == 2
        text = pool.read_pdf_page(handle.name, "slow", limits, 0)

        with pytest.raises(OcrFailure, match=r"^reading it took longer than the 1 s allowed"):
            pool.read_pdf_page(handle.name, "slow", limits, 1)

        again = pool.read_pdf_page(handle.name, "slow", limits, 0)
    assert engine_pid(pool) != first
    assert (text.source, text.page.text) == ("text-layer", "\n".join(LINES))
    assert again == text


def test_an_engine_that_dies_rendering_a_pdf_page_fails_that_page_only(pool: OcrPool) -> None:
    limits = PdfLimits()
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(slow_page_pdf(LINES))
        handle.flush()
        assert pool.count_pdf_pages(handle.name, "slow", limits) == 2
        first = engine_pid(pool)
        threading.Timer(0.5, os.kill, (first, signal.SIGKILL)).start()

        with pytest.raises(OcrFailure, match="crashed or ran out of memory"):
            pool.read_pdf_page(handle.name, "slow", limits, 1)

        read = pool.read_pdf_page(handle.name, "slow", limits, 0)
    assert read.page.text == "\n".join(LINES)
    assert engine_pid(pool) != first
