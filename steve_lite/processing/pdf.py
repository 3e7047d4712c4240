"""PDF documents: checked before anything is rendered, then read page by page.

pypdfium2 (PDFium, Apache-2.0/BSD) opens the file in memory. A document is refused, with a
reason that says why, when it is encrypted, malformed or truncated (no ``%%EOF`` at its end:
PDFium would otherwise rebuild what it can and read a part as the whole), or has more pages than
the caller allows. Each page is checked before it is rendered: its size in points (at most
``max_page_side_points``, the PDF format's own limit of 200 inches) and the pixel size every
image on it declares (at most ``max_image_pixels``, the limit of image uploads), since PDFium
decodes an image whole before scaling it. A page whose text layer holds at least
``min_text_chars`` visible characters is read from that layer, with the position of each text
run; any other page is rendered for OCR at ``dpi`` (200 by default, what the OCR engine reads
best at), scaled down so that it has at most ``max_render_pixels`` pixels. Both kinds of page
use the same coordinates: pixels of the page rendered at that scale.

PDFium is not thread-safe (not even across documents) and is not protected against a hostile
file's time or memory: this module runs only in the OCR engine processes
(:mod:`steve_lite.processing.ocr_pool`), one request at a time each, never in the worker.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from steve_lite.processing.ocr import OcrLine, OcrPage, assemble_page

EOF_WINDOW = 1024
"""``%%EOF`` must be within this many bytes of the end (the PDF format says so)."""


class PdfError(Exception):
    """A PDF that cannot be read; the message says why in plain words."""


@dataclass(frozen=True)
class PdfLimits:
    """Bounds on what one PDF page may cost to read."""

    dpi: float = 200.0
    max_page_side_points: float = 14_400.0
    max_render_pixels: int = 16_000_000
    max_image_pixels: int = 80_000_000
    min_text_chars: int = 8


@dataclass(frozen=True)
class PdfPage:
    """One page: its text layer read as lines (``source="text-layer"``), or its rendering to be
    OCRed (``source="ocr"``, ``image`` set and ``lines`` None). ``width`` and ``height`` are in
    pixels at the page's scale, the coordinates of its boxes."""

    index: int
    source: Literal["text-layer", "ocr"]
    width: int
    height: int
    text_page: OcrPage | None
    image: Image.Image | None


class PdfDocument:
    """An open PDF; use as a context manager (the document is closed on exit)."""

    def __init__(self, data: bytes, limits: PdfLimits) -> None:
        if b"%%EOF" not in data[-EOF_WINDOW:]:
            raise PdfError("PDF is truncated: it does not end with %%EOF")
        self.limits = limits
        try:
            self._document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise PdfError(_open_failure(exc, data)) from None
        self.page_count = len(self._document)

    def __enter__(self) -> PdfDocument:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the document (and its pages)."""
        self._document.close()

    def read_page(self, index: int) -> PdfPage:
        """Page ``index`` (0-based), checked, then read from its text layer or rendered."""
        with self._page(index) as page:
            scale = self._scale(page, index)
            width, height = (round(side * scale) for side in page.get_size())
            if page.get_rotation() == 0:
                text_page = self._text_layer(page, scale)
                if text_page is not None:
                    return PdfPage(index, "text-layer", width, height, text_page, None)
            self._check_images(page, index)
            image = page.render(scale=scale).to_pil().convert("RGB")
        return PdfPage(index, "ocr", image.width, image.height, None, image)

    def thumbnail(self, max_side: int = 1024) -> Image.Image:
        """Page 0 rendered with its longest side at most ``max_side`` pixels (for its hash)."""
        with self._page(0) as page:
            self._scale(page, 0)
            self._check_images(page, 0)
            scale = min(self.limits.dpi / 72, max_side / max(page.get_size()))
            return page.render(scale=scale).to_pil().convert("RGB")

    @contextmanager
    def _page(self, index: int) -> Iterator[pdfium.PdfPage]:
        try:
            page = self._document[index]
        except pdfium.PdfiumError:
            raise PdfError(f"page {index + 1} of {self.page_count} is malformed") from None
        try:
            yield page
        finally:
            page.close()

    def _scale(self, page: pdfium.PdfPage, index: int) -> float:
        """The render scale of a page within the limits; refuses a page that is too large."""
        width, height = page.get_size()
        limit = self.limits.max_page_side_points
        name = f"page {index + 1} of {self.page_count}"
        if not (math.isfinite(width) and math.isfinite(height)) or min(width, height) <= 0:
            raise PdfError(f"{name} has no size")
        if max(width, height) > limit:
            raise PdfError(
                f"{name} is {width:g}x{height:g} points: larger than the {limit:g}-point "
                "(200-inch) side allowed"
            )
        scale = self.limits.dpi / 72
        pixels = width * height * scale * scale
        if pixels > self.limits.max_render_pixels:
            scale *= math.sqrt(self.limits.max_render_pixels / pixels)
            # PDFium rounds each side of the bitmap up: shrink to whole sides within the cap
            whole = min(math.floor(width * scale) / width, math.floor(height * scale) / height)
            scale = whole * (1 - 1e-9)
        return scale

    def _check_images(self, page: pdfium.PdfPage, index: int) -> None:
        """Refuse a page drawing an image that declares more pixels than allowed."""
        limit = self.limits.max_image_pixels
        for item in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
            assert isinstance(item, pdfium.PdfImage)
            width, height = item.get_px_size()
            if width * height > limit:
                raise PdfError(
                    f"page {index + 1} of {self.page_count} holds a {width}x{height} pixel "
                    f"image: more than the {limit} pixels allowed"
                )

    def _text_layer(self, page: pdfium.PdfPage, scale: float) -> OcrPage | None:
        """The page's text runs as lines in pixels at ``scale``; None when the layer is empty
        or nearly so (a scan)."""
        text_page = page.get_textpage()
        try:
            visible = sum(1 for char in text_page.get_text_range() if not char.isspace())
            if visible < self.limits.min_text_chars:
                return None
            left, _, _, top = page.get_cropbox()
            lines = []
            for rect in range(text_page.count_rects()):
                x0, y0, x1, y1 = text_page.get_rect(rect)
                text = text_page.get_text_bounded(x0, y0, x1, y1).strip()
                if not text:
                    continue
                box = [
                    [round((x - left) * scale, 1), round((top - y) * scale, 1)]
                    for x, y in ((x0, y1), (x1, y1), (x1, y0), (x0, y0))
                ]
                lines.append(OcrLine(text=text, confidence=1.0, box=box))
            return assemble_page(lines)
        finally:
            text_page.close()


def _open_failure(error: pdfium.PdfiumError, data: bytes) -> str:
    """Why PDFium could not open ``data``. PDFium also answers "password" for some broken files
    (a catalog without pages): only a file with an ``/Encrypt`` entry (its trailer or xref
    stream dictionary, never compressed) is called encrypted."""
    code = getattr(error, "err_code", None)
    if code == pdfium_c.FPDF_ERR_PASSWORD and b"/Encrypt" in data:
        return "PDF is encrypted with a password"
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return "PDF uses an unsupported security handler"
    return "not a valid PDF document"
