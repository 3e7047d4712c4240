"""Image sniffing, safe decoding, EXIF metadata and perceptual hashes, on bytes held in memory."""

import hashlib
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO

import imagehash
import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from steve_lite.formats import DISPLAY_NAMES, sniff_format

pillow_heif.register_heif_opener()  # Pillow opens HEIC/HEIF through pillow-heif's plugin

IMAGE_FORMATS = ("jpeg", "png", "webp", "heif")
"""The formats :func:`decode_image` decodes (PDF documents are rendered by ``pdf``)."""
_PILLOW_FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF"}
_EXIF_DATETIME_FORMAT = "%Y:%m:%d %H:%M:%S"
_EXIF_OFFSET_PATTERN = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class ImageDecodeError(Exception):
    """An image that cannot be accepted; the message says why in plain words."""


@dataclass(frozen=True)
class DecodedImage:
    """A fully loaded RGB image, upright per its EXIF orientation, with its metadata."""

    image: Image.Image
    format: str
    width: int
    height: int
    captured_at: datetime | None
    gps: dict[str, float] | None
    sha256: str


def decode_image(
    data: bytes, accepted_formats: Collection[str], max_pixels: int = 80_000_000
) -> DecodedImage:
    """Decode image bytes into an upright RGB image with EXIF capture time, GPS and SHA-256.

    The format comes from the magic bytes, never from a declared content type. The pixel count
    in the header is checked against `max_pixels` before any pixel is decoded; then every pixel
    is loaded, so truncated or corrupt files fail here. HEIF's own rotation and mirroring are
    applied by its decoder, which then reports an upright EXIF orientation. Raises
    ImageDecodeError.
    """
    fmt = sniff_format(data[:16])
    if fmt not in IMAGE_FORMATS:
        raise ImageDecodeError("not a JPEG, PNG, WebP or HEIC/HEIF image")
    if fmt not in accepted_formats:
        raise ImageDecodeError(f"format {fmt} is not accepted by this workflow")
    original = _open_image(data, fmt)
    pixels = original.width * original.height
    if pixels > max_pixels:
        raise ImageDecodeError(f"image too large: {pixels} pixels exceeds the {max_pixels} limit")
    _load_pixels(original, fmt)
    exif = original.getexif()
    captured_at, gps = _read_capture_time(exif), _read_gps(exif)
    ImageOps.exif_transpose(original, in_place=True)
    upright = to_rgb(original)  # a plain Image, detached from the parsed file
    return DecodedImage(
        image=upright,
        format=fmt,
        width=upright.width,
        height=upright.height,
        captured_at=captured_at,
        gps=gps,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy. Deep grey images (16-bit PNG scans: modes I;16, I and F) are scaled
    to 8 bits first: Pillow's own conversion clips every value above 255 to white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0)
        image = Image.fromarray((pixels * (255.0 / top)).clip(0, 255).astype(np.uint8))
    return image.convert("RGB")


PHASH_SIZE = 16


def perceptual_hash(image: Image.Image) -> str:
    """Return the 256-bit pHash of an image as 64 lowercase hex characters.

    256 bits rather than imagehash's default 64: at 64 bits, different receipts (white paper,
    dark text, similar layout) often fall within a few bits of each other.
    """
    return str(imagehash.phash(image, hash_size=PHASH_SIZE))


def hamming_distance(a: str, b: str) -> int:
    """Count the differing bits between two perceptual hashes written in hex of equal length."""
    if len(a) != len(b):
        raise ValueError(f"hashes differ in length: {len(a)} and {len(b)} hex characters")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _open_image(data: bytes, fmt: str) -> Image.Image:
    """Parse only the header of `data` as `fmt`, refusing what Pillow deems a decompression bomb.

    Pillow refuses images over twice Image.MAX_IMAGE_PIXELS while parsing the header. Between
    once and twice that limit it only emits a DecompressionBombWarning, which is left alone
    (filtering warnings is process-wide and not thread-safe); such images are refused by the
    caller's own pixel limit whenever that limit is below Pillow's (the default is).
    """
    try:
        return Image.open(BytesIO(data), formats=[_PILLOW_FORMAT_NAMES[fmt]])
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            "image too large: its header declares more pixels than the decoder's hard limit"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, RuntimeError) as exc:
        raise ImageDecodeError(f"not a valid {DISPLAY_NAMES[fmt]} image") from exc


def _load_pixels(image: Image.Image, fmt: str) -> None:
    """Decode every pixel of an opened image, turning decoder failures into ImageDecodeError."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, RuntimeError) as exc:
        if "truncated" in str(exc):
            raise ImageDecodeError("image is truncated") from exc
        raise ImageDecodeError(f"{DISPLAY_NAMES[fmt]} image data is corrupt or incomplete") from exc


def _read_capture_time(exif: Image.Exif) -> datetime | None:
    """Read DateTimeOriginal (else DateTime) as an aware datetime; UTC when no offset is tagged."""
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    candidates = [
        (
            exif_ifd.get(ExifTags.Base.DateTimeOriginal),
            exif_ifd.get(ExifTags.Base.OffsetTimeOriginal),
        ),
        (exif.get(ExifTags.Base.DateTime), exif_ifd.get(ExifTags.Base.OffsetTime)),
    ]
    for stamp, offset in candidates:
        if not isinstance(stamp, str):
            continue
        try:
            naive = datetime.strptime(stamp.strip("\x00 "), _EXIF_DATETIME_FORMAT)
        except ValueError:
            continue
        return naive.replace(tzinfo=_parse_utc_offset(offset)).astimezone(UTC)
    return None


def _parse_utc_offset(offset: object) -> timezone:
    """Turn an EXIF OffsetTime value such as "+02:00" into a timezone; UTC when absent or bad."""
    match = _EXIF_OFFSET_PATTERN.match(offset.strip("\x00 ")) if isinstance(offset, str) else None
    if match is None:
        return UTC
    sign = -1 if match.group(1) == "-" else 1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes >= 24 * 60:
        return UTC
    return timezone(sign * timedelta(minutes=minutes))


def _read_gps(exif: Image.Exif) -> dict[str, float] | None:
    """Read the GPS position as signed decimal degrees, or None when absent or invalid."""
    gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    latitude = _signed_degrees(
        gps_ifd.get(ExifTags.GPS.GPSLatitude), gps_ifd.get(ExifTags.GPS.GPSLatitudeRef), "S"
    )
    longitude = _signed_degrees(
        gps_ifd.get(ExifTags.GPS.GPSLongitude), gps_ifd.get(ExifTags.GPS.GPSLongitudeRef), "W"
    )
    if latitude is None or longitude is None:
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return {"latitude": latitude, "longitude": longitude}


def _signed_degrees(dms: object, ref: object, negative_ref: str) -> float | None:
    """Convert an EXIF (degrees, minutes, seconds) triple and its N/S/E/W ref to decimal degrees."""
    if not isinstance(dms, tuple) or len(dms) != 3 or not isinstance(ref, str):
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(value):
        return None
    return -value if ref.strip("\x00 ").upper() == negative_ref else value
