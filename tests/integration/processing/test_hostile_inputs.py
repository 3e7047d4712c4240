"""Uploads that pass submit's checks but are built to hurt the worker (issue 13).

Each goes through the real API, the embedded S3 server and a real ``steve-lite worker`` whose
data segment is capped (``RLIMIT_DATA``): a regression that lets one image take gigabytes fails
here instead of taking the machine down. Every session ends ``completed`` or ``failed`` with a
reason naming the file, and the worker is still alive and reads the next session afterwards.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.pages import default_font_path, load_font, render_page
from tests.support.processes import ServerProcess
from tests.support.worker import WorkerStack, start_stack, submit_files, wait_for_job

WORKER_MEMORY_LIMIT = 3 * 1024**3
ENGINE_MEMORY_MB = 1536
TEXT = ["Hostile inputs stay bounded", "Invoice 4711 paid in full"]


@pytest.fixture(scope="module")
def capped_stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[tuple[WorkerStack, ServerProcess]]:
    """An API and one worker (2 engines) under a memory cap, for this module's sessions."""
    stack = start_stack(tmp_path_factory.mktemp("hostile"), embedded_s3)
    worker = stack.start_worker(
        memory_limit_bytes=WORKER_MEMORY_LIMIT,
        STEVE_OCR_ENGINE_MEMORY_MB=str(ENGINE_MEMORY_MB),
        STEVE_OCR_PAGE_TIMEOUT_SECONDS="240",
    )
    yield stack, worker
    stack.stop()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def blank_png(width: int, height: int) -> bytes:
    return encode(Image.new("L", (width, height), 255), "PNG", optimize=True)


def single_colour_png(width: int, height: int) -> bytes:
    """A valid PNG of width x height pixels in a few kilobytes: rows of zeros, deflated."""
    row = b"\x00" + b"\xff" * width  # filter byte, then one grey byte per pixel
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def text_page(width: int, height: int, font_size: int, lines: list[str] = TEXT) -> Image.Image:
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    font = load_font(default_font_path(), font_size)
    for index, line in enumerate(lines):
        draw.text((font_size, font_size * (1 + 2 * index)), line, fill="black", font=font)
    return page


def huge_text_png() -> bytes:
    """8900 x 8900 pixels, small as a file: large text on white."""
    return encode(text_page(8900, 8900, 400), "PNG", optimize=True)


def truncated_jpeg() -> bytes:
    data = encode(text_page(1000, 700, 40), "JPEG", quality=90)
    return data[: len(data) // 2]


def cmyk_jpeg() -> bytes:
    return encode(text_page(1000, 700, 40).convert("CMYK"), "JPEG", quality=92)


def sixteen_bit_png() -> bytes:
    grey = np.asarray(text_page(1000, 700, 40).convert("L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(grey), "PNG")  # mode I;16


def animated(fmt: str) -> bytes:
    first = text_page(1000, 700, 40)
    other = text_page(1000, 700, 40, ["A second frame nobody reads"])
    return encode(first, fmt, save_all=True, append_images=[other], duration=500, loop=0)


def rotated_exif_jpeg() -> bytes:
    """Text stored turned 90 degrees, with EXIF Orientation 6 (rotate 90 CW to view)."""
    upright = text_page(1000, 700, 40)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(upright.rotate(90, expand=True), "JPEG", quality=92, exif=exif.tobytes())


def read_text(job: dict) -> str:
    return job["result"]["extractedData"]["text"].lower()


READS_IT = "hostile inputs stay bounded"
CASES = [  # name, content type, the upload, final state, in failedReason or in the text read
    ("1x2000", "image/png", lambda: blank_png(1, 2000), "failed", "short side"),
    ("4x2000", "image/png", lambda: blank_png(4, 2000), "failed", "32-pixel minimum"),
    ("2000x1", "image/png", lambda: blank_png(2000, 1), "failed", "short side"),
    ("40x400", "image/png", lambda: blank_png(40, 400), "completed", ""),
    ("20000x20000", "image/png", lambda: single_colour_png(20_000, 20_000), "failed", "too large"),
    ("8900x8900", "image/png", huge_text_png, "completed", "hostile inputs"),
    ("truncated jpeg", "image/jpeg", truncated_jpeg, "failed", "truncated"),
    ("cmyk jpeg", "image/jpeg", cmyk_jpeg, "completed", READS_IT),
    ("16-bit png", "image/png", sixteen_bit_png, "completed", READS_IT),
    ("animated png", "image/png", lambda: animated("PNG"), "completed", READS_IT),
    ("exif rotate 90", "image/jpeg", rotated_exif_jpeg, "completed", READS_IT),
]


@pytest.mark.parametrize(
    ("name", "content_type", "make", "state", "expected"), CASES, ids=[case[0] for case in CASES]
)
def test_a_hostile_upload_ends_with_a_reason_and_the_worker_lives_on(
    capped_stack: tuple[WorkerStack, ServerProcess],
    name: str,
    content_type: str,
    make: Callable[[], bytes],
    state: str,
    expected: str,
) -> None:
    stack, worker = capped_stack
    api, tenant = stack.api, stack.api.tenant()
    session = submit_files(api, tenant, "document-ocr", [make()], content_type)

    job = wait_for_job(api, tenant, session["sessionId"], timeout=300, worker=worker)

    assert job["state"] == state, job
    if state == "failed":
        assert job["failedReason"].startswith("file 0 (page): "), job["failedReason"]
        assert expected in job["failedReason"] and "Traceback" not in job["failedReason"]
    else:
        assert expected in read_text(job), job
    assert worker.process.poll() is None, worker.output()[-3000:]


def test_an_animated_webp_receipt_is_read_from_its_first_frame(
    capped_stack: tuple[WorkerStack, ServerProcess],
) -> None:
    stack, worker = capped_stack
    api, tenant = stack.api, stack.api.tenant()
    session = submit_files(api, tenant, "receipt-ocr", [animated("WEBP")], "image/webp")

    job = wait_for_job(api, tenant, session["sessionId"], timeout=300, worker=worker)

    assert job["state"] == "completed", job
    pages = job["result"]["pages"]
    assert pages[0]["lineCount"] >= 2


def test_a_tall_page_is_read_in_tiles_with_every_line_once(
    capped_stack: tuple[WorkerStack, ServerProcess], tmp_path: Path
) -> None:
    """A 700 x 6300 receipt-like strip (aspect 9): past the tile aspect, so read in tiles."""
    stack, worker = capped_stack
    api, tenant = stack.api, stack.api.tenant()
    lines = [f"Item number {index:02d} costs {index}.50" for index in range(40)]
    page = Image.new("RGB", (700, 6300), "white")
    draw = ImageDraw.Draw(page)
    font = load_font(default_font_path(), 36)
    for index, line in enumerate(lines):
        draw.text((30, 40 + index * 155), line, fill="black", font=font)
    session = submit_files(api, tenant, "document-ocr", [encode(page, "PNG")], "image/png")

    job = wait_for_job(api, tenant, session["sessionId"], timeout=300, worker=worker)

    assert job["state"] == "completed", job
    read = [line["text"] for line in job["result"]["extractedData"]["pages"][0]["lines"]]
    found = [line for line in lines if any(line.lower() in r.lower() for r in read)]
    assert len(found) >= 38, read  # OCR may miss a digit or two; no line is lost to a seam
    for line in lines:
        assert sum(line.lower() in r.lower() for r in read) <= 1, (line, read)  # none twice
    boxes = [line["box"] for line in job["result"]["extractedData"]["pages"][0]["lines"]]
    assert max(y for box in boxes for _, y in box) > 6000  # page coordinates, not a tile's


def test_after_all_of_them_the_same_worker_reads_an_ordinary_page(
    capped_stack: tuple[WorkerStack, ServerProcess],
) -> None:
    stack, worker = capped_stack
    api, tenant = stack.api, stack.api.tenant()
    session = submit_files(api, tenant, "document-ocr", [render_page(TEXT)], "image/png")

    job = wait_for_job(api, tenant, session["sessionId"], timeout=300, worker=worker)

    assert job["state"] == "completed" and READS_IT in read_text(job), job
    assert worker.process.poll() is None
    assert "Traceback" not in worker.output(), worker.output()[-3000:]
