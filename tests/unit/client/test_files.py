"""The content type the client (and so ``steve-lite submit``) declares for a file's bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from steve_lite.client.files import content_type_of
from tests.factories.photos import make_photo, make_text_file

HEIF_MIF1 = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (make_photo(64, 48, fmt="JPEG"), "image/jpeg"),
        (make_photo(64, 48, fmt="PNG"), "image/png"),
        (make_photo(64, 48, fmt="WEBP"), "image/webp"),
        (make_photo(64, 48, fmt="HEIF"), "image/heic"),
        (HEIF_MIF1, "image/heif"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (make_text_file(), "application/octet-stream"),
    ],
    ids=["jpeg", "png", "webp", "heic-brand", "mif1-brand", "pdf", "text"],
)
def test_the_content_type_comes_from_the_bytes(data: bytes, expected: str) -> None:
    assert content_type_of(data) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("IMG_0001.HEIC", "image/heic"), ("photo.heif", "image/heif"), ("photo.jpg", "image/heic")],
)
def test_a_heif_files_name_decides_between_heic_and_heif(
    tmp_path: Path, name: str, expected: str
) -> None:
    assert content_type_of(make_photo(64, 48, fmt="HEIF"), tmp_path / name) == expected


def test_a_name_never_overrides_the_bytes(tmp_path: Path) -> None:
    assert content_type_of(make_photo(64, 48, fmt="PNG"), tmp_path / "x.heic") == "image/png"
