import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from steve_lite.processing.images import (
    ImageDecodeError,
    decode_image,
    hamming_distance,
    perceptual_hash,
    sniff_format,
)
from tests.factories.photos import (
    make_corrupt_jpeg,
    make_photo,
    make_png_bomb_header,
    make_text_file,
    near_duplicate,
)

ALL_FORMATS = {"jpeg", "png", "webp"}


@pytest.mark.parametrize(("fmt", "expected"), [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp")])
def test_sniff_format_names_each_image_format_from_its_first_16_bytes(
    fmt: str, expected: str
) -> None:
    data = make_photo(64, 48, fmt=fmt)

    assert sniff_format(data[:16]) == expected


@pytest.mark.parametrize(
    "head",
    [make_text_file()[:16], b"RIFF\x24\x00\x00\x00WAVEfmt ", b"\xff\xd8", b""],
    ids=["text", "riff-wave", "short-jpeg-prefix", "empty"],
)
def test_sniff_format_returns_none_for_anything_else(head: bytes) -> None:
    assert sniff_format(head) is None


@pytest.mark.parametrize(("fmt", "expected"), [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp")])
def test_decode_image_loads_each_format_as_rgb(fmt: str, expected: str) -> None:
    data = make_photo(320, 240, fmt=fmt)

    decoded = decode_image(data, ALL_FORMATS)

    assert decoded.format == expected
    assert (decoded.width, decoded.height) == (320, 240)
    assert decoded.image.size == (320, 240)
    assert decoded.image.mode == "RGB"
    assert decoded.sha256 == hashlib.sha256(data).hexdigest()
    assert decoded.captured_at is None
    assert decoded.gps is None


def test_decode_image_keeps_png_pixels_exactly() -> None:
    data = make_photo(200, 150, seed=3, fmt="PNG")
    with Image.open(BytesIO(data)) as original:
        expected = np.asarray(original.convert("RGB"))

    decoded = decode_image(data, {"png"})

    assert np.array_equal(np.asarray(decoded.image), expected)


def test_decode_image_refuses_webp_when_the_workflow_does_not_accept_it() -> None:
    data = make_photo(320, 240, fmt="WEBP")

    with pytest.raises(ImageDecodeError) as raised:
        decode_image(data, {"jpeg", "png"})

    assert str(raised.value) == "format webp is not accepted by this workflow"


def test_decode_image_refuses_text() -> None:
    with pytest.raises(ImageDecodeError) as raised:
        decode_image(make_text_file(), ALL_FORMATS)

    assert str(raised.value) == "not a JPEG, PNG, WebP or HEIC/HEIF image"


def test_decode_image_refuses_jpeg_magic_followed_by_garbage() -> None:
    with pytest.raises(ImageDecodeError) as raised:
        decode_image(b"\xff\xd8\xff" + b"not really a jpeg" * 4, ALL_FORMATS)

    assert str(raised.value) == "not a valid JPEG image"


def test_decode_image_refuses_a_truncated_jpeg() -> None:
    with pytest.raises(ImageDecodeError) as raised:
        decode_image(make_corrupt_jpeg(), ALL_FORMATS)

    assert str(raised.value) == "image is truncated"


def test_decode_image_refuses_a_bomb_from_its_header_before_loading() -> None:
    # 9000 x 9000 is over our 80M limit but under Pillow's own; the file holds no real pixel
    # data, so loading it would have failed as truncated instead.
    bomb = make_png_bomb_header(9000, 9000)

    with pytest.raises(ImageDecodeError) as raised:
        decode_image(bomb, ALL_FORMATS)

    assert str(raised.value) == "image too large: 81000000 pixels exceeds the 80000000 limit"


def test_decode_image_refuses_a_header_beyond_pillows_hard_limit() -> None:
    bomb = make_png_bomb_header(100_000, 100_000)

    with pytest.raises(ImageDecodeError) as raised:
        decode_image(bomb, ALL_FORMATS)

    assert str(raised.value) == (
        "image too large: its header declares more pixels than the decoder's hard limit"
    )


def test_decode_image_applies_the_callers_pixel_limit() -> None:
    data = make_photo(640, 480)

    with pytest.raises(ImageDecodeError) as raised:
        decode_image(data, ALL_FORMATS, max_pixels=300_000)

    assert str(raised.value) == "image too large: 307200 pixels exceeds the 300000 limit"


def test_decode_image_applies_exif_orientation_6() -> None:
    data = make_photo(640, 480, orientation=6)
    with Image.open(BytesIO(data)) as stored:
        expected = np.asarray(stored.convert("RGB").transpose(Image.Transpose.ROTATE_270))

    decoded = decode_image(data, ALL_FORMATS)

    assert (decoded.width, decoded.height) == (480, 640)
    assert np.array_equal(np.asarray(decoded.image), expected)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_decode_image_reads_exif_date_and_gps_back(fmt: str) -> None:
    data = make_photo(
        320,
        240,
        fmt=fmt,
        exif_datetime=datetime(2026, 3, 20, 10, 5, 30),
        gps=(-33.856784, 151.215297),
    )

    decoded = decode_image(data, ALL_FORMATS)

    assert decoded.captured_at == datetime(2026, 3, 20, 10, 5, 30, tzinfo=UTC)
    assert decoded.captured_at.tzinfo is not None
    assert decoded.gps is not None
    assert decoded.gps["latitude"] == pytest.approx(-33.856784, abs=1e-4)
    assert decoded.gps["longitude"] == pytest.approx(151.215297, abs=1e-4)


def test_decode_image_applies_the_exif_offset_and_west_longitude() -> None:
    paris_summer = timezone(timedelta(hours=2))
    data = make_photo(
        320,
        240,
        exif_datetime=datetime(2025, 7, 14, 22, 15, 0, tzinfo=paris_summer),
        gps=(48.858370, -2.294481),
    )

    decoded = decode_image(data, ALL_FORMATS)

    assert decoded.captured_at == datetime(2025, 7, 14, 20, 15, 0, tzinfo=UTC)
    assert decoded.gps is not None
    assert decoded.gps["latitude"] == pytest.approx(48.858370, abs=1e-4)
    assert decoded.gps["longitude"] == pytest.approx(-2.294481, abs=1e-4)


def test_perceptual_hash_is_64_lowercase_hex_characters() -> None:
    decoded = decode_image(make_photo(320, 240), ALL_FORMATS)

    assert re.fullmatch("[0-9a-f]{64}", perceptual_hash(decoded.image))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_near_duplicate_keeps_the_hash_close_but_changes_the_bytes(seed: int) -> None:
    original = make_photo(seed=seed)
    copy = near_duplicate(original)

    first = decode_image(original, ALL_FORMATS)
    second = decode_image(copy, ALL_FORMATS)

    assert second.sha256 != first.sha256
    assert hamming_distance(perceptual_hash(first.image), perceptual_hash(second.image)) <= 24


def test_unrelated_photos_have_distant_hashes() -> None:
    hashes = [
        perceptual_hash(decode_image(make_photo(seed=seed), ALL_FORMATS).image)
        for seed in (0, 1, 2)
    ]

    assert hamming_distance(hashes[0], hashes[1]) > 80
    assert hamming_distance(hashes[0], hashes[2]) > 80
    assert hamming_distance(hashes[1], hashes[2]) > 80


def test_hamming_distance_counts_differing_bits() -> None:
    assert hamming_distance("0000000000000000", "0000000000000000") == 0
    assert hamming_distance("0000000000000001", "0000000000000003") == 1
    assert hamming_distance("00000000000000ff", "0000000000000000") == 8
    assert hamming_distance("0000000000000000", "ffffffffffffffff") == 64


def test_hamming_distance_refuses_hashes_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        hamming_distance("ff", "ffff")


def test_sniff_format_knows_heic_by_its_ftyp_brand() -> None:
    data = make_photo(64, 48, fmt="HEIF")

    assert data[4:12] == b"ftypheic"
    assert sniff_format(data[:16]) == "heif"


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"hevc", b"mif1", b"msf1"])
def test_sniff_format_knows_each_heif_brand(brand: bytes) -> None:
    assert sniff_format(b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00") == "heif"


@pytest.mark.parametrize("brand", [b"avif", b"isom", b"qt  "])
def test_sniff_format_leaves_other_iso_media_brands_alone(brand: bytes) -> None:
    assert sniff_format(b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00") is None


def test_decode_image_reads_heic_upright_with_capture_time_and_gps() -> None:
    taken = datetime(2026, 5, 17, 9, 30, 0, tzinfo=timezone(timedelta(hours=2)))
    data = make_photo(
        320, 240, fmt="HEIF", exif_datetime=taken, gps=(48.8584, -2.2945), orientation=6
    )

    decoded = decode_image(data, {"heif"})

    assert decoded.format == "heif"
    assert (decoded.width, decoded.height) == (240, 320)  # orientation 6: turned upright
    assert decoded.image.mode == "RGB"
    assert decoded.captured_at == taken.astimezone(UTC)
    assert decoded.gps == {
        "latitude": pytest.approx(48.8584, abs=1e-6),
        "longitude": pytest.approx(-2.2945, abs=1e-6),
    }


def test_decode_image_refuses_heic_over_the_pixel_limit_before_decoding() -> None:
    data = make_photo(320, 240, fmt="HEIF")

    with pytest.raises(ImageDecodeError, match="76800 pixels exceeds the 1000 limit"):
        decode_image(data, {"heif"}, max_pixels=1000)
    # half a file: decoding would fail on it, so only the header can have been read
    with pytest.raises(ImageDecodeError, match="76800 pixels exceeds the 1000 limit"):
        decode_image(data[: len(data) // 2], {"heif"}, max_pixels=1000)


def test_decode_image_refuses_a_truncated_heic() -> None:
    data = make_photo(320, 240, fmt="HEIF")

    with pytest.raises(ImageDecodeError, match="HEIC/HEIF image data is corrupt or incomplete"):
        decode_image(data[: len(data) // 2], {"heif"})


def test_decode_image_refuses_heic_when_the_workflow_does_not_accept_it() -> None:
    with pytest.raises(ImageDecodeError, match="format heif is not accepted"):
        decode_image(make_photo(64, 48, fmt="HEIF"), {"jpeg", "png"})
