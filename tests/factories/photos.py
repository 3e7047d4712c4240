"""Pillow generators of test photos: detailed scenes with EXIF, broken files and bombs."""

import math
import random
import struct
import zlib
from datetime import datetime
from io import BytesIO

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageEnhance, ImageFilter, TiffImagePlugin

_EXIF_DATETIME_FORMAT = "%Y:%m:%d %H:%M:%S"


def make_photo(
    width: int = 1280,
    height: int = 960,
    *,
    seed: int = 0,
    blur: float = 0.0,
    brightness: float = 1.0,
    fmt: str = "JPEG",
    exif_datetime: datetime | None = None,
    gps: tuple[float, float] | None = None,
    orientation: int | None = None,
    quality: int = 90,
) -> bytes:
    """Encode a detailed scene (gradient, shapes, noise, all from `seed`) as JPEG, PNG, WEBP or
    HEIF (HEIC: HEVC-coded, brand ``heic``; pillow-heif stores the EXIF orientation as HEIF's own
    rotation, as iPhones do).

    `blur` is a Gaussian blur radius, `brightness` a factor (below 1 darkens, above 1
    overexposes). `exif_datetime` is written as DateTimeOriginal, with OffsetTimeOriginal when
    it is timezone-aware; `gps` is (latitude, longitude) in signed decimal degrees;
    `orientation` is the EXIF Orientation tag, applied to the stored pixels as they are.
    """
    image = _draw_scene(width, height, seed)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if brightness != 1.0:
        image = ImageEnhance.Brightness(image).enhance(brightness)
    options: dict[str, object] = {}
    if exif_datetime is not None or gps is not None or orientation is not None:
        # Bytes, not the Exif object: Pillow's PNG writer skips an Exif whose only tags sit
        # in nested IFDs (DateTimeOriginal, GPS), because such an object has length 0.
        options["exif"] = _build_exif(exif_datetime, gps, orientation).tobytes()
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    buffer = BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _draw_scene(width: int, height: int, seed: int) -> Image.Image:
    """Draw an RGB scene: a tilted two-colour gradient, about forty shapes and sensor-like noise."""
    rng = random.Random(seed)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height + 1) / 2
    start = np.array([rng.uniform(40, 215) for _ in range(3)], dtype=np.float32)
    end = np.array([rng.uniform(40, 215) for _ in range(3)], dtype=np.float32)
    background = start + (end - start) * ramp[..., None]
    image = Image.fromarray(background.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        box = _random_box(rng, width, height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(("rectangle", "ellipse", "line"))
        if shape == "rectangle":
            draw.rectangle(box, fill=colour)
        elif shape == "ellipse":
            draw.ellipse(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=max(2, width // 200))
    noise = np.random.default_rng(seed).normal(0, 8, (height, width, 3))
    noisy = np.asarray(image, dtype=np.float32) + noise
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8), "RGB")


def _random_box(rng: random.Random, width: int, height: int) -> tuple[int, int, int, int]:
    """Pick a box between 5% and 35% of the frame in each direction, somewhere inside it."""
    box_width = rng.randint(max(1, width // 20), max(1, width * 7 // 20))
    box_height = rng.randint(max(1, height // 20), max(1, height * 7 // 20))
    left = rng.randrange(max(1, width - box_width))
    top = rng.randrange(max(1, height - box_height))
    return left, top, left + box_width, top + box_height


def _build_exif(
    captured_at: datetime | None, gps: tuple[float, float] | None, orientation: int | None
) -> Image.Exif:
    """Build EXIF with DateTimeOriginal (+ offset) in the Exif IFD, a GPS IFD and Orientation."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if captured_at is not None:
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
        exif_ifd[ExifTags.Base.DateTimeOriginal] = captured_at.strftime(_EXIF_DATETIME_FORMAT)
        if captured_at.tzinfo is not None:
            offset = captured_at.strftime("%z")
            exif_ifd[ExifTags.Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:5]}"
    if gps is not None:
        latitude, longitude = gps
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
        gps_ifd[ExifTags.GPS.GPSLatitude] = _degrees_to_rationals(latitude)
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
        gps_ifd[ExifTags.GPS.GPSLongitude] = _degrees_to_rationals(longitude)
    return exif


def _degrees_to_rationals(value: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    """Split |value| degrees into EXIF (degrees, minutes, seconds) rationals, 1/10000 s precise."""
    total_seconds = round(abs(value) * 3600 * 10_000)
    degrees, remainder = divmod(total_seconds, 3600 * 10_000)
    minutes, seconds = divmod(remainder, 60 * 10_000)
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(seconds, 10_000),
    )


def near_duplicate(data: bytes) -> bytes:
    """Re-shoot a photo: crop 1% of each dimension, resize back, brighten 4%, JPEG quality 75."""
    with Image.open(BytesIO(data)) as original:
        image = original.convert("RGB")
    width, height = image.size
    dx, dy = max(1, width // 200), max(1, height // 200)
    cropped = image.crop((dx, dy, width - dx, height - dy)).resize((width, height))
    brighter = ImageEnhance.Brightness(cropped).enhance(1.04)
    buffer = BytesIO()
    brighter.save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


def make_corrupt_jpeg() -> bytes:
    """Return the first half of a valid 640x480 JPEG: a truncated file with a valid header."""
    data = make_photo(640, 480)
    return data[: len(data) // 2]


def make_text_file() -> bytes:
    """Return plain text bytes that no image sniffer should accept."""
    return b"Quarterly report\nThis is a text file, not a photo.\n"


def make_png_bomb_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """Return a tiny PNG whose IHDR declares `width` x `height` RGB pixels but holds no real data.

    Loading it would need width*height*3 bytes before failing; a safe decoder refuses it from
    the header alone.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    """Frame a PNG chunk: length, type, payload and CRC-32 of type plus payload."""
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
