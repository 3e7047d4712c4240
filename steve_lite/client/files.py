"""Files to upload: their bytes, their content type (from the bytes) and the chunks sent."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from steve_lite.formats import sniff_format

FileInput = bytes | str | os.PathLike[str]
# Called with (file index, bytes sent so far, file size) as an upload progresses.
ProgressCallback = Callable[[int, int, int], None]
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
CHUNK_BYTES = 64 * 1024


def read_bytes(file: FileInput) -> bytes:
    """The content of ``file``: bytes as they are, or the file at a path."""
    return file if isinstance(file, bytes) else Path(file).read_bytes()


def content_type_of(data: bytes) -> str:
    """``image/jpeg``, ``image/png`` or ``image/webp`` from the leading bytes, else
    ``application/octet-stream`` (which the API refuses, naming the file)."""
    fmt = sniff_format(data[:16])
    return f"image/{fmt}" if fmt else UNKNOWN_CONTENT_TYPE


def chunks(data: bytes, report: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """``data`` in pieces; ``report`` gets the bytes sent so far after each one."""
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]
        if report is not None:
            report(min(start + CHUNK_BYTES, len(data)))
