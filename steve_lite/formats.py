"""File formats: the content types steve-lite accepts, and sniffing them by magic bytes.

Standard library only, so that ``steve_lite.client`` can use it without loading Pillow.
"""

from __future__ import annotations

FORMATS = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heif",
    "image/heif": "heif",
    "application/pdf": "pdf",
}
"""Each accepted content type and the format its bytes must sniff as (HEIC is HEIF holding
HEVC images: both content types name the one container, told apart by its brands only)."""

EXTENSIONS = {content_type: content_type.split("/")[1] for content_type in FORMATS}
"""The file name extension of each content type (downloads are named with it)."""

DISPLAY_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "heif": "HEIC/HEIF", "pdf": "PDF"}

HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
"""``ftyp`` brands of HEIF files holding HEVC-coded images (what iPhones write)."""
HEIF_BRANDS = HEIC_BRANDS | {b"mif1", b"msf1", b"mif2"}
"""``ftyp`` brands of HEIF files steve-lite reads (AVIF's ``avif``/``avis`` are not among them)."""

SNIFF_BYTES = 16
"""How many leading bytes :func:`sniff_format` needs."""


def sniff_format(head: bytes) -> str | None:
    """Name the format ("jpeg", "png", "webp", "heif" or "pdf") from leading magic bytes, else
    None. HEIF is known by its ``ftyp`` box's major brand; PDF by ``%PDF-`` at the start."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heif"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def sniff_content_type(head: bytes) -> str | None:
    """The content type that fits the leading bytes: ``image/heic`` for HEIF with an HEVC brand,
    ``image/heif`` for other HEIF brands; None when no accepted format matches."""
    fmt = sniff_format(head)
    if fmt is None:
        return None
    if fmt == "heif":
        return "image/heic" if head[8:12] in HEIC_BRANDS else "image/heif"
    if fmt == "pdf":
        return "application/pdf"
    return f"image/{fmt}"


def accepted_names() -> str:
    """The accepted formats in words, for messages about a file that is none of them."""
    names = list(dict.fromkeys(DISPLAY_NAMES.values()))
    return ", ".join(names[:-1]) + " or " + names[-1]
