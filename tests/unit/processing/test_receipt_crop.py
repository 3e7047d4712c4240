"""Finding a receipt on a table: generated photos whose paper corners are known."""

from __future__ import annotations

import math
from collections.abc import Callable
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from steve_lite.processing.receipt_crop import find_receipt
from tests.factories.photos import make_photo
from tests.factories.receipts import (
    draw_paper,
    photograph_on_table,
    random_receipt_spec,
    render_receipt,
)


def open_rgb(data: bytes) -> Image.Image:
    return Image.open(BytesIO(data)).convert("RGB")


@pytest.mark.parametrize("seed", range(6))
def test_the_receipt_is_found_at_its_corners_and_cut_upright(seed: int) -> None:
    paper = draw_paper(random_receipt_spec(seed))
    data, corners = photograph_on_table(paper, seed=seed)

    crop = find_receipt(open_rgb(data))

    assert crop is not None
    assert crop.placement.method == "perspective"
    tolerance = 0.04 * math.hypot(*paper.size)
    for found, true in zip(crop.placement.corners, corners, strict=True):
        assert math.dist(found, true) < tolerance, (found, true)
    assert abs(crop.image.width - paper.width) < 0.1 * paper.width
    assert abs(crop.image.height - paper.height) < 0.1 * paper.height
    record = crop.placement.record()
    true_angle = math.degrees(
        math.atan2(corners[1][1] - corners[0][1], corners[1][0] - corners[0][0])
    )
    assert abs(record["angle"] - true_angle) < 3


def test_boxes_on_the_cut_map_back_to_the_photo() -> None:
    data, _ = photograph_on_table(draw_paper(random_receipt_spec(3)), seed=3)
    crop = find_receipt(open_rgb(data))
    assert crop is not None
    width, height = crop.image.size

    mapped = crop.placement.to_photo(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
    )

    assert np.allclose(mapped, crop.placement.corners, atol=1.0)


def test_the_cut_is_upright_paper() -> None:
    data, _ = photograph_on_table(draw_paper(random_receipt_spec(4)), seed=4)
    crop = find_receipt(open_rgb(data))
    assert crop is not None
    grey = np.asarray(crop.image.convert("L"), dtype=np.float64)

    # paper, not table: bright almost to its edges, with dark print inside
    assert np.median(grey) > 200
    assert np.median(grey[:, :8]) > 150 and np.median(grey[:, -8:]) > 150
    assert grey.min() < 100


@pytest.mark.parametrize(
    "photo",
    [
        lambda: open_rgb(render_receipt(random_receipt_spec(2))),  # the receipt fills the photo
        lambda: open_rgb(make_photo(1280, 960, seed=5)),  # a scene with no receipt in it
        lambda: Image.new("RGB", (800, 600), (240, 240, 240)),  # blank paper only
    ],
    ids=["receipt-fills-the-photo", "no-receipt", "blank"],
)
def test_nothing_is_cut_without_a_clear_receipt(photo: Callable[[], Image.Image]) -> None:
    assert find_receipt(photo()) is None
