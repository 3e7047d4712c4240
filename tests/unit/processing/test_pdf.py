"""PDF pages: text layers with positions, renders within the pixel cap, refusals before render."""

from __future__ import annotations

from typing import Any

import pypdfium2 as pdfium
import pytest

from steve_lite.processing.pdf import PdfDocument, PdfError, PdfLimits
from tests.factories.pdfs import (
    encrypted_pdf,
    huge_page_pdf,
    image_bomb_pdf,
    scanned_pdf,
    text_pdf,
    write_pdf,
)

LIMITS = PdfLimits()


def test_a_text_layer_page_gives_its_lines_with_boxes_at_the_render_scale() -> None:
    with PdfDocument(text_pdf([["Invoice 4711", "Total due 99.50 EUR"]]), LIMITS) as document:
        page = document.read_page(0)

    assert (page.source, page.image) == ("text-layer", None)
    assert (page.width, page.height) == (round(595 * 200 / 72), round(842 * 200 / 72))
    assert page.text_page is not None
    assert [line.text for line in page.text_page.lines] == ["Invoice 4711", "Total due 99.50 EUR"]
    (x0, y0), _, (x1, y1), _ = page.text_page.lines[0].box
    # written at 72 pt from the left, its baseline 72 pt below the top, in 14 pt Helvetica
    assert x0 == pytest.approx(72 * 200 / 72, abs=6)
    assert y1 == pytest.approx(72 * 200 / 72, abs=8)
    assert 0 < y0 < y1 and x1 > x0


def test_a_scanned_page_is_rendered_for_ocr() -> None:
    with PdfDocument(scanned_pdf([["Scanned words only"]]), LIMITS) as document:
        page = document.read_page(0)

    assert (page.source, page.text_page) == ("ocr", None)
    assert page.image is not None and page.image.mode == "RGB"
    assert page.image.size == (page.width, page.height) == (1654, 2339)


def test_a_large_page_is_rendered_within_the_pixel_cap() -> None:
    poster = text_pdf([["A0 poster"]], size=(2384, 3370))  # A0: 33 x 47 inches
    scan = text_pdf([["A0"]], size=(2384, 3370))  # too little text: rendered for OCR

    with PdfDocument(poster, LIMITS) as document:
        page = document.read_page(0)
    with PdfDocument(scan, LIMITS) as document:
        rendered = document.read_page(0)

    assert page.width * page.height <= LIMITS.max_render_pixels
    assert page.width * page.height > 0.99 * LIMITS.max_render_pixels
    # the poster is read from its text layer; the scan is the page that is really rendered
    assert (page.source, rendered.source) == ("text-layer", "ocr")
    assert rendered.image is not None
    assert rendered.image.size == (rendered.width, rendered.height)
    # PDFium rounds the bitmap's sides up: the same scale, within a pixel a side
    assert abs(rendered.width - page.width) <= 1 and abs(rendered.height - page.height) <= 1
    assert rendered.width * rendered.height <= LIMITS.max_render_pixels


def test_a_large_scan_is_rendered_with_at_most_max_render_pixels() -> None:
    with PdfDocument(text_pdf([["A0"]], size=(2384, 3370)), LIMITS) as document:
        page = document.read_page(0)

    assert page.image is not None
    assert page.image.width * page.image.height <= LIMITS.max_render_pixels


def test_a_rotated_page_is_rendered_and_read_by_ocr() -> None:
    rotated = text_pdf([["Turned page with a text layer"]]).replace(
        b"/Type /Page /Parent", b"/Type /Page /Rotate 90 /Parent"
    )

    with PdfDocument(rotated, LIMITS) as document:
        page = document.read_page(0)

    assert page.source == "ocr"
    assert page.image is not None and page.image.width > page.image.height


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encrypted_pdf(), "PDF is encrypted with a password"),
        (text_pdf([["x"]])[:-10], "PDF is truncated"),
        (write_pdf([b"<< /Type /Catalog >>"]), "not a valid PDF document"),
    ],
    ids=["encrypted", "truncated", "no-pages-tree"],
)
def test_documents_that_cannot_be_opened_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PdfError, match=message), PdfDocument(data, LIMITS):
        pass


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (huge_page_pdf(), "larger than the 14400-point"),
        (image_bomb_pdf(), "holds a 60000x60000 pixel image"),
    ],
    ids=["page-size", "image-pixels"],
)
def test_pages_over_the_limits_are_refused_before_rendering(
    data: bytes, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[pdfium.PdfPage] = []

    def render(page: pdfium.PdfPage, **_: Any) -> pdfium.PdfBitmap:
        rendered.append(page)  # and never decode the bomb
        raise AssertionError("rendered before its limits were checked")

    monkeypatch.setattr(pdfium.PdfPage, "render", render)
    with PdfDocument(data, LIMITS) as document:
        with pytest.raises(PdfError, match=message):
            document.read_page(0)
        with pytest.raises(PdfError, match=message):
            document.thumbnail()  # the page hash's render: refused the same way
    assert rendered == []
