"""Photo compliance checks: resolution, sharpness, brightness, age and in-session duplicates."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from PIL import Image

from steve_lite.clock import to_iso
from steve_lite.processing.images import DecodedImage, hamming_distance

_SHARPNESS_MAX_SIDE = 1024


@dataclass(frozen=True)
class ComplianceThresholds:
    """Limits a photo must meet; `max_age_days` None disables the age check."""

    min_width: int = 640
    min_height: int = 480
    min_sharpness: float = 100.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    max_age_days: int | None = 365
    duplicate_distance: int = 24

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ComplianceThresholds":
        """Read camelCase thresholds from a workflow version's JSON; missing keys use defaults.

        An explicit `"maxAgeDays": null` disables the age check.
        """
        defaults = cls()
        max_age_days = d.get("maxAgeDays", defaults.max_age_days)
        return cls(
            min_width=int(d.get("minWidth", defaults.min_width)),
            min_height=int(d.get("minHeight", defaults.min_height)),
            min_sharpness=float(d.get("minSharpness", defaults.min_sharpness)),
            min_brightness=float(d.get("minBrightness", defaults.min_brightness)),
            max_brightness=float(d.get("maxBrightness", defaults.max_brightness)),
            max_age_days=None if max_age_days is None else int(max_age_days),
            duplicate_distance=int(d.get("duplicateDistance", defaults.duplicate_distance)),
        )


def measure_sharpness(image: Image.Image) -> float:
    """Return the variance of the 4-neighbour Laplacian of the grayscale image.

    Images whose long side exceeds 1024 px are first scaled down (box filter) so that the long
    side is 1024 px: the figure then depends on the scene rather than on the camera's pixel
    count, and stays fast. Sharp photos score in the hundreds or more, blurred ones near zero.
    """
    gray = image.convert("L")
    long_side = max(gray.size)
    if long_side > _SHARPNESS_MAX_SIDE:
        scale = _SHARPNESS_MAX_SIDE / long_side
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.BOX)
    pixels = np.asarray(gray, dtype=np.float64)
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return 0.0
    laplacian = (
        pixels[:-2, 1:-1]
        + pixels[2:, 1:-1]
        + pixels[1:-1, :-2]
        + pixels[1:-1, 2:]
        - 4 * pixels[1:-1, 1:-1]
    )
    return float(laplacian.var())


def measure_brightness(image: Image.Image) -> float:
    """Return the mean luma (ITU-R 601, as Pillow's "L" mode) on a 0..255 scale."""
    return float(np.asarray(image.convert("L"), dtype=np.float64).mean())


@dataclass(frozen=True)
class PhotoFacts:
    """What the checks need of one photo, measured once so the image can be released."""

    width: int
    height: int
    sharpness: float
    brightness: float
    captured_at: datetime | None
    gps: dict[str, float] | None


def measure_photo(photo: DecodedImage) -> PhotoFacts:
    """Measure a decoded photo for :func:`check_photos`."""
    return PhotoFacts(
        width=photo.width,
        height=photo.height,
        sharpness=round(measure_sharpness(photo.image), 2),
        brightness=round(measure_brightness(photo.image), 2),
        captured_at=photo.captured_at,
        gps=photo.gps,
    )


def check_photos(
    photos: Sequence[PhotoFacts],
    hashes: Sequence[str],
    thresholds: ComplianceThresholds,
    now: datetime,
) -> dict[str, Any]:
    """Check every photo of a session and return the compliance workflow's extractedData.

    `hashes[i]` is the perceptual hash of `photos[i]`, and `i` is its fileIndex; `now` must be
    timezone-aware. Every value in a photo's `checks` says whether that check passed (so
    `duplicate` is False for a near duplicate of an earlier photo); `age` is None when the photo
    has no EXIF date or no age limit applies. Resolution is checked in either orientation.
    """
    if len(photos) != len(hashes):
        raise ValueError(f"{len(photos)} photos but {len(hashes)} hashes")
    results: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    for index, photo in enumerate(photos):
        sharpness, brightness = photo.sharpness, photo.brightness
        failures = {
            "resolution": _resolution_failure(photo, thresholds),
            "sharpness": _sharpness_failure(sharpness, thresholds),
            "brightness": _brightness_failure(brightness, thresholds),
            "age": _age_failure(photo.captured_at, thresholds, now),
            "duplicate": _duplicate_failure(index, hashes, thresholds),
        }
        checks: dict[str, bool | None] = {
            name: failure is None for name, failure in failures.items()
        }
        if photo.captured_at is None or thresholds.max_age_days is None:
            checks["age"] = None  # not evaluated rather than passed
        for name, failure in failures.items():
            if failure is not None:
                issues.append({"fileIndex": index, "check": name, "message": failure})
        results.append(
            {
                "fileIndex": index,
                "width": photo.width,
                "height": photo.height,
                "sharpness": sharpness,
                "brightness": brightness,
                "capturedAt": to_iso(photo.captured_at) if photo.captured_at else None,
                "gps": dict(photo.gps) if photo.gps is not None else None,
                "checks": checks,
                "passed": all(value is not False for value in checks.values()),
            }
        )
    compliant = bool(results) and all(result["passed"] for result in results)
    return {"photos": results, "compliant": compliant, "issues": issues}


def compliance_confidence(result: Mapping[str, Any]) -> float:
    """Return the fraction of evaluated checks (not None) that passed across all photos."""
    outcomes = [
        value
        for photo in result["photos"]
        for value in photo["checks"].values()
        if value is not None
    ]
    if not outcomes:
        return 0.0
    return round(sum(outcomes) / len(outcomes), 4)


def _resolution_failure(photo: PhotoFacts, thresholds: ComplianceThresholds) -> str | None:
    """Explain why a photo is too small, comparing long side to long side, short to short."""
    long_min = max(thresholds.min_width, thresholds.min_height)
    short_min = min(thresholds.min_width, thresholds.min_height)
    if max(photo.width, photo.height) >= long_min and min(photo.width, photo.height) >= short_min:
        return None
    return (
        f"photo is {photo.width}x{photo.height} pixels, smaller than the minimum "
        f"{thresholds.min_width}x{thresholds.min_height} (either orientation)"
    )


def _sharpness_failure(sharpness: float, thresholds: ComplianceThresholds) -> str | None:
    """Explain why a photo is too blurry, or None."""
    if sharpness >= thresholds.min_sharpness:
        return None
    return f"photo is blurry: sharpness {sharpness} is below the minimum {thresholds.min_sharpness}"


def _brightness_failure(brightness: float, thresholds: ComplianceThresholds) -> str | None:
    """Explain why a photo is too dark or overexposed, or None."""
    if brightness < thresholds.min_brightness:
        return (
            f"photo is too dark: brightness {brightness} is below the minimum "
            f"{thresholds.min_brightness}"
        )
    if brightness > thresholds.max_brightness:
        return (
            f"photo is overexposed: brightness {brightness} is above the maximum "
            f"{thresholds.max_brightness}"
        )
    return None


def _age_failure(
    captured_at: datetime | None, thresholds: ComplianceThresholds, now: datetime
) -> str | None:
    """Explain why a photo's EXIF capture date is older than allowed, or None."""
    if captured_at is None or thresholds.max_age_days is None:
        return None
    age = now - captured_at
    if age <= timedelta(days=thresholds.max_age_days):
        return None
    return f"photo was taken {age.days} days ago, more than the {thresholds.max_age_days}-day limit"


def _duplicate_failure(
    index: int, hashes: Sequence[str], thresholds: ComplianceThresholds
) -> str | None:
    """Name the first earlier photo of the session that photo `index` nearly duplicates, or None."""
    for earlier in range(index):
        distance = hamming_distance(hashes[index], hashes[earlier])
        if distance <= thresholds.duplicate_distance:
            return (
                f"photo is a near duplicate of file {earlier} (perceptual hash distance {distance})"
            )
    return None
