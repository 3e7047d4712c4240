"""Image formats: the content types steve-lite accepts, and sniffing them by magic bytes.

Standard library only, so that ``steve_lite.client`` can use it without loading Pillow.
"""

from __future__ import annotations

FORMATS = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}


def sniff_format(head: bytes) -> str | None:
    """Name the image format ("jpeg", "png" or "webp") from leading magic bytes, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None
