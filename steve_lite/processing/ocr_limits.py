"""What one OCR call may be given: shape guards, and the tiling and scaling that bound its memory.

The OCR engine scales every image before its text detector runs (see
:class:`~steve_lite.processing.ocr.DetectorGeometry`). rapidocr's own rule scaled a short side
below 736 px *up* to 736 px, so a 40 x 400 image became a 736 x 7360 tensor, and a 1 x 2000 one a
tensor of a million pixels per row; the engine's geometry no longer scales up (issue 19), but a
geometry may, and the planning below asks the geometry for the input size. The detector's memory
grows with its input at roughly 200 bytes a pixel (measured: 0.9 GB for a 2000 x 2000 input), so
the input size is what must be bounded.

Three rules, each configurable (``STEVE_OCR_*``):

- a page whose short side is below ``min_side`` pixels, or whose long side is more than
  ``max_aspect`` times its short side, is refused with a reason naming the rule;
- a page longer than ``tile_aspect`` times its width (or wider than that times its height) is
  read as overlapping tiles along its long side, each of that aspect at most;
- each tile (or the whole page) is scaled down until the detector's input has at most
  ``max_input_pixels`` pixels.

Lines are mapped back to the coordinates of the page as given, and a line read twice in the
overlap of two tiles is kept once: each tile owns the half of each overlap on its side.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from steve_lite.processing.ocr import OcrLine

OVERLAP_SHARE = 0.12
"""Tiles overlap by this share of the page's short side (at least MIN_OVERLAP_PX), which is more
than the height of any printed line on a receipt or a page."""
MIN_OVERLAP_PX = 32
SCALE_SEARCH_STEPS = 24


class PageShapeError(Exception):
    """A page that the OCR engine must not be given; the message names the rule it breaks."""


@dataclass(frozen=True)
class OcrLimits:
    """Bounds on what one OCR call gets."""

    min_side: int = 32
    max_aspect: float = 12.0
    tile_aspect: float = 3.0
    max_input_pixels: int = 2_000_000


@dataclass(frozen=True)
class Tile:
    """A region of the page (pixel box, right and bottom exclusive) read at ``scale``, and the
    band of the long axis whose lines it keeps."""

    left: int
    top: int
    right: int
    bottom: int
    scale: float
    keep_from: float
    keep_to: float

    @property
    def size(self) -> tuple[int, int]:
        """The tile's size after scaling, as given to the engine."""
        width = max(1, round((self.right - self.left) * self.scale))
        height = max(1, round((self.bottom - self.top) * self.scale))
        return width, height


InputSize = Callable[[int, int], tuple[int, int]]
"""The detector's input size for an image of the given width and height."""


def check_page_shape(width: int, height: int, limits: OcrLimits) -> None:
    """Refuse a page too thin or too elongated to read; raises :class:`PageShapeError`."""
    short, long = min(width, height), max(width, height)
    if short < limits.min_side:
        raise PageShapeError(
            f"image is {width}x{height} pixels: its short side is below the {limits.min_side}-"
            "pixel minimum for text recognition"
        )
    if long > limits.max_aspect * short:
        raise PageShapeError(
            f"image is {width}x{height} pixels: its sides differ by more than the "
            f"{limits.max_aspect:g}:1 aspect ratio allowed for text recognition"
        )


def plan_tiles(
    width: int,
    height: int,
    limits: OcrLimits,
    input_size: InputSize,
    max_side: int | None = None,
) -> list[Tile]:
    """The tiles to read a page of this size in, each within the limits' pixel budget.

    ``max_side`` is the longest side the engine works at (it cuts larger images to it anyway):
    a tile is scaled down to it, so the engine is never sent more pixels than it uses.
    Call :func:`check_page_shape` first: the plan assumes a page within its bounds.
    """
    vertical = height >= width
    short, long = (width, height) if vertical else (height, width)
    spans = split_long_side(short, long, limits.tile_aspect)
    tiles = []
    for index, (start, end) in enumerate(spans):
        keep_from = -math.inf if index == 0 else (start + spans[index - 1][1]) / 2
        keep_to = math.inf if index == len(spans) - 1 else (end + spans[index + 1][0]) / 2
        box = (0, start, short, end) if vertical else (start, 0, end, short)
        scale = fitting_scale(box[2] - box[0], box[3] - box[1], limits, input_size)
        if max_side is not None:
            scale = min(scale, max_side / max(box[2] - box[0], box[3] - box[1]))
        tiles.append(Tile(*box, scale=scale, keep_from=keep_from, keep_to=keep_to))
    return tiles


def split_long_side(short: int, long: int, tile_aspect: float) -> list[tuple[int, int]]:
    """Overlapping spans ``[start, end)`` over ``long``, each at most ``tile_aspect`` x short."""
    span = max(1, math.floor(tile_aspect * short))
    if long <= span:
        return [(0, long)]
    overlap = min(span // 2, max(MIN_OVERLAP_PX, round(OVERLAP_SHARE * short)))
    count = math.ceil((long - overlap) / (span - overlap))
    step = (long - span) / (count - 1)
    return [(round(i * step), round(i * step) + span) for i in range(count)]


def fitting_scale(width: int, height: int, limits: OcrLimits, input_size: InputSize) -> float:
    """The largest scale (at most 1) at which the detector's input stays within the budget."""

    def pixels(scale: float) -> int:
        w, h = input_size(max(1, round(width * scale)), max(1, round(height * scale)))
        return w * h

    if pixels(1.0) <= limits.max_input_pixels:
        return 1.0
    low, high = 0.0, 1.0  # pixels(low) fits (an empty image does), pixels(high) does not
    for _ in range(SCALE_SEARCH_STEPS):
        middle = (low + high) / 2
        if pixels(middle) <= limits.max_input_pixels:
            low = middle
        else:
            high = middle
    if low == 0.0:
        raise PageShapeError(
            f"a {width}x{height} pixel region cannot be read within the OCR budget of "
            f"{limits.max_input_pixels} pixels"
        )
    return low


def place_lines(lines: Sequence[OcrLine], tile: Tile, vertical: bool) -> list[OcrLine]:
    """The tile's lines in page coordinates, without those whose centre another tile owns."""
    placed = []
    for line in lines:
        box = [
            [round(x / tile.scale + tile.left, 1), round(y / tile.scale + tile.top, 1)]
            for x, y in line.box
        ]
        centre = sum(point[1 if vertical else 0] for point in box) / len(box)
        if tile.keep_from <= centre < tile.keep_to:
            placed.append(OcrLine(text=line.text, confidence=line.confidence, box=box))
    return placed
