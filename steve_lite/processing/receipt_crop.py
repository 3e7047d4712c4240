"""Finding a receipt in a photo of it lying on a table, and cutting it out upright.

The receipt is the largest bright region of the photo: paper is lighter than the table, and
closing the bright mask with a kernel wider than the gaps between printed lines makes the
paper one region. Nothing is cropped when that region is small (no receipt found), covers most
of the photo (a scan, or a receipt photographed close up) or is not clearly brighter than what
surrounds it. When the region's outline is a clear quadrilateral its four corners are mapped to
an upright rectangle (``"perspective"``: a receipt photographed at an angle); otherwise the
smallest rotated rectangle around it is (``"deskew"``). Either way the crop is a homography of
the photo, so boxes read on the crop map back to the photo's own pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from PIL import Image

DETECT_SIDE = 800
"""The photo is searched at this long side (the crop itself is cut from the full photo)."""
MIN_SHARE, MAX_SHARE = 0.04, 0.60
"""A receipt region covers at least / at most this share of the photo."""
MIN_CONTRAST = 35.0
"""The region's mean grey must exceed its surroundings' by this much (0..255)."""
QUAD_FIT = 0.92
"""A four-corner outline must cover this share of the region's area to count as clear."""
CLOSE_SHARE = 0.03
"""The closing kernel's side, as a share of the searched photo's long side."""


@dataclass(frozen=True)
class Placement:
    """Where a crop lies in its photo: how it was found, its corners in the photo (top left,
    top right, bottom right, bottom left), its size and the homography photo -> crop."""

    method: Literal["perspective", "deskew"]
    corners: list[list[float]]
    width: int
    height: int
    homography: np.ndarray

    def to_photo(self, box: list[list[float]]) -> list[list[float]]:
        """A box read on the crop, in pixels of the photo."""
        points = np.asarray(box, dtype=np.float64).reshape(-1, 1, 2)
        mapped = cv2.perspectiveTransform(points, np.linalg.inv(self.homography))
        return [[round(float(x), 1), round(float(y), 1)] for x, y in mapped.reshape(-1, 2)]

    def record(self) -> dict[str, Any]:
        """What the result says about the crop."""
        (x0, y0), (x1, y1) = self.corners[0], self.corners[1]
        return {
            "method": self.method,
            "corners": self.corners,
            "angle": round(math.degrees(math.atan2(y1 - y0, x1 - x0)), 1),
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class ReceiptCrop:
    """The receipt cut out of a photo, upright, and where it lay."""

    image: Image.Image
    placement: Placement


def find_receipt(photo: Image.Image) -> ReceiptCrop | None:
    """The receipt cut out of ``photo`` (RGB), or None when there is no clear one to cut."""
    scale = min(1.0, DETECT_SIDE / max(photo.size))
    small = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))))
    grey = cv2.GaussianBlur(cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2GRAY), (5, 5), 0)
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    side = max(3, round(CLOSE_SHARE * max(small.size)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    region = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(region)
    if not MIN_SHARE <= area / (small.width * small.height) <= MAX_SHARE:
        return None
    if not _stands_out(grey, region):
        return None
    hull = cv2.convexHull(region)
    outline = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    method: Literal["perspective", "deskew"]
    if len(outline) == 4 and cv2.contourArea(outline) >= QUAD_FIT * cv2.contourArea(hull):
        corners, method = outline.reshape(4, 2).astype(np.float64), "perspective"
    else:
        corners, method = cv2.boxPoints(cv2.minAreaRect(region)).astype(np.float64), "deskew"
    return _cut(photo, _ordered(corners / scale), method)


def _stands_out(grey: np.ndarray, region: np.ndarray) -> bool:
    """Whether the region is clearly brighter than the rest of the photo."""
    inside = np.zeros(grey.shape, dtype=np.uint8)
    cv2.drawContours(inside, [region], -1, 255, thickness=cv2.FILLED)
    outside = inside == 0
    if not outside.any():
        return False
    return float(grey[inside > 0].mean()) - float(grey[outside].mean()) >= MIN_CONTRAST


def _ordered(corners: np.ndarray) -> np.ndarray:
    """Corners as top left, top right, bottom right, bottom left (by angle around the centre,
    starting from the corner above-left of it), so a receipt turned up to 45 degrees keeps its
    top edge on top."""
    centre = corners.mean(axis=0)
    angles = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    ring = corners[np.argsort(angles)]  # clockwise on screen, from the left-most angle
    start = int(np.argmin(ring.sum(axis=1)))
    return np.roll(ring, -start, axis=0)


def _cut(
    photo: Image.Image, corners: np.ndarray, method: Literal["perspective", "deskew"]
) -> ReceiptCrop | None:
    top_left, top_right, bottom_right, bottom_left = corners
    width = round(
        max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left))
    )
    height = round(
        max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right))
    )
    if min(width, height) < 32:
        return None
    target = np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64
    )
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), target.astype(np.float32))
    cut = cv2.warpPerspective(
        np.asarray(photo),
        homography,
        (width, height),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    placement = Placement(
        method=method,
        corners=[[round(float(x), 1), round(float(y), 1)] for x, y in corners],
        width=width,
        height=height,
        homography=homography,
    )
    return ReceiptCrop(Image.fromarray(cut), placement)
