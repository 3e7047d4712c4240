"""The shape guards, tiles and pixel budget that bound one OCR call."""

from __future__ import annotations

import itertools
import math

import pytest

from steve_lite.processing.ocr import TODAY_GEOMETRY, DetectorGeometry, DetectorLimit, OcrLine
from steve_lite.processing.ocr_limits import (
    OcrLimits,
    PageShapeError,
    Tile,
    check_page_shape,
    place_lines,
    plan_tiles,
)

LIMITS = OcrLimits()
GEOMETRY = TODAY_GEOMETRY  # rapidocr's own rules; the figures below follow from them


def detector_pixels(tile: Tile) -> int:
    width, height = GEOMETRY.input_size(*tile.size)
    return width * height


@pytest.mark.parametrize(
    ("width", "height", "rule"),
    [
        (1, 2000, "short side"),
        (4, 2000, "short side"),
        (2000, 1, "short side"),
        (31, 31, "short side"),
        (40, 481, "aspect ratio"),
        (1300, 100, "aspect ratio"),
    ],
)
def test_pages_too_thin_or_too_elongated_are_refused_naming_the_rule(
    width: int, height: int, rule: str
) -> None:
    with pytest.raises(PageShapeError, match=rule) as refused:
        check_page_shape(width, height, LIMITS)
    assert f"{width}x{height}" in str(refused.value)


@pytest.mark.parametrize(("width", "height"), [(32, 32), (40, 400), (40, 480), (1240, 1754)])
def test_pages_within_the_bounds_pass(width: int, height: int) -> None:
    check_page_shape(width, height, LIMITS)


def test_the_detector_geometry_follows_the_engine_rules() -> None:
    assert GEOMETRY.input_size(736, 736) == (736, 736)
    assert GEOMETRY.input_size(40, 400) == (736, 7360)  # short side raised to 736
    assert GEOMETRY.input_size(8900, 8900) == (1984, 1984)  # cut to 2000, aligned to 32
    assert GEOMETRY.input_size(1000, 2000) == (992, 1984)
    narrow = DetectorGeometry(page=DetectorLimit(960, "max"), strip=DetectorLimit(960, "max"))
    assert narrow.input_size(1000, 2000) == (480, 960)


def test_strips_and_pages_get_their_own_detector_limits() -> None:
    geometry = DetectorGeometry(page=DetectorLimit(1024, "max"), strip=DetectorLimit(2000, "max"))
    assert geometry.input_size(1240, 1754) == (736, 1024)  # a page: long side cut to 1024
    assert geometry.input_size(620, 1256) == (608, 1248)  # a receipt strip: not scaled up
    assert geometry.input_size(1256, 620) == (1248, 608)  # a strip lying on its side
    assert geometry.input_size(600, 1000) == (608, 992)  # a page under 1024: kept as it is


@pytest.mark.parametrize(
    ("width", "height"),
    [(40, 400), (480, 40), (736, 736), (1240, 1754), (2480, 3508), (4000, 3000), (8900, 8900),
     (700, 6300), (1000, 12000), (12000, 1000), (33, 396)],
)  # fmt: skip
def test_every_tile_fits_the_budget_and_the_tiles_cover_the_page(width: int, height: int) -> None:
    tiles = plan_tiles(width, height, LIMITS, GEOMETRY.input_size)

    for tile in tiles:
        assert detector_pixels(tile) <= LIMITS.max_input_pixels
        assert 0 < tile.scale <= 1
        long, short = max(tile.size), min(tile.size)
        assert long <= LIMITS.tile_aspect * short + 1
    vertical = height >= width
    spans = [(t.top, t.bottom) if vertical else (t.left, t.right) for t in tiles]
    assert spans[0][0] == 0 and spans[-1][1] == max(width, height)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start < end  # consecutive tiles overlap
    keeps = [(t.keep_from, t.keep_to) for t in tiles]
    assert keeps[0][0] == -math.inf and keeps[-1][1] == math.inf
    for (_, keep_to), (keep_from, _) in itertools.pairwise(keeps):
        assert keep_to == keep_from  # every centre belongs to exactly one tile


def test_a_page_within_the_budget_is_read_whole_and_unscaled() -> None:
    assert plan_tiles(1000, 1400, LIMITS, GEOMETRY.input_size) == [
        Tile(0, 0, 1000, 1400, scale=1.0, keep_from=-math.inf, keep_to=math.inf)
    ]


def test_a_large_photo_is_scaled_down_to_the_budget_not_further() -> None:
    (tile,) = plan_tiles(4000, 3000, LIMITS, GEOMETRY.input_size)

    assert detector_pixels(tile) <= LIMITS.max_input_pixels
    bigger = Tile(0, 0, 4000, 3000, scale=tile.scale * 1.02, keep_from=0, keep_to=0)
    assert detector_pixels(bigger) > LIMITS.max_input_pixels


def line_at(y: float, text: str = "x") -> OcrLine:
    return OcrLine(
        text=text, confidence=0.9, box=[[10, y - 5], [50, y - 5], [50, y + 5], [10, y + 5]]
    )


def test_lines_go_back_to_page_coordinates_and_the_overlap_is_kept_once() -> None:
    first, second = plan_tiles(700, 6300, LIMITS, GEOMETRY.input_size)[:2]
    seam = first.keep_to
    # The same printed line, seen by both tiles (in each tile's own scaled coordinates).
    in_first = line_at((seam - 10 - first.top) * first.scale)
    in_second = line_at((seam - 10 - second.top) * second.scale)

    kept = place_lines([in_first], first, vertical=True) + place_lines(
        [in_second], second, vertical=True
    )

    assert len(kept) == 1
    centre = sum(y for _, y in kept[0].box) / 4
    assert centre == pytest.approx(seam - 10, abs=0.5)


def test_a_large_page_is_sent_at_the_longest_side_the_engine_works_at() -> None:
    geometry = DetectorGeometry()  # pages' detector input is cut to 896 px: within any budget
    (tile,) = plan_tiles(8900, 8900, LIMITS, geometry.input_size, geometry.max_side_len)
    assert tile.size == (geometry.max_side_len, geometry.max_side_len)
    (small,) = plan_tiles(1240, 1754, LIMITS, geometry.input_size, geometry.max_side_len)
    assert small.scale == 1.0
