"""Files to upload: their bytes, their content type (from the bytes) and the chunks sent."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from steve_lite.formats import sniff_content_type

FileInput = bytes | str | os.PathLike[str]
# Called with (file index, bytes sent so far, file size) as an upload progresses.
ProgressCallback = Callable[[int, int, int], None]
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
CHUNK_BYTES = 64 * 1024


def read_bytes(file: FileInput) -> bytes:
    """The content of ``file``: bytes as they are, or the file at a path."""
    return file if isinstance(file, bytes) else Path(file).read_bytes()


HEIF_SUFFIXES = {".heic": "image/heic", ".heif": "image/heif"}


def content_type_of(data: bytes, name: str | os.PathLike[str] | None = None) -> str:
    """The content type of ``data`` from its leading bytes (``image/jpeg``, ``image/png``,
    ``image/webp``, ``image/heic``, ``image/heif`` or ``application/pdf``), else
    ``application/octet-stream`` (which the API refuses, naming the file).

    HEIF bytes are ``image/heic`` or ``image/heif`` by their brand, unless ``name`` (the file's
    name) ends in ``.heic`` or ``.heif``, which then decides.
    """
    content_type = sniff_content_type(data[:16])
    if content_type is None:
        return UNKNOWN_CONTENT_TYPE
    if content_type in HEIF_SUFFIXES.values() and name is not None:
        return HEIF_SUFFIXES.get(Path(name).suffix.lower(), content_type)
    return content_type


def content_types(files: Sequence[FileInput], data: Sequence[bytes]) -> list[str]:
    """The content type of each file (:func:`content_type_of`), its name deciding between
    ``image/heic`` and ``image/heif`` for a path."""
    return [
        content_type_of(item, None if isinstance(file, bytes) else file)
        for file, item in zip(files, data, strict=True)
    ]


def chunks(data: bytes, report: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """``data`` in pieces; ``report`` gets the bytes sent so far after each one."""
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]
        if report is not None:
            report(min(start + CHUNK_BYTES, len(data)))
