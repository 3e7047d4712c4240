import random
from datetime import UTC, datetime

import pytest
from PIL import Image

from steve_lite.processing.compliance import (
    ComplianceThresholds,
    check_photos,
    compliance_confidence,
    measure_brightness,
    measure_photo,
    measure_sharpness,
)
from steve_lite.processing.images import DecodedImage, decode_image, perceptual_hash
from tests.factories.photos import make_photo, near_duplicate

NOW = datetime(2026, 3, 25, 12, 0, 0, tzinfo=UTC)
RECENT = datetime(2026, 3, 20, 10, 5, 30)
THRESHOLDS = ComplianceThresholds()


def decode(data: bytes) -> DecodedImage:
    return decode_image(data, {"jpeg", "png"})


def check(*photos: DecodedImage, thresholds: ComplianceThresholds = THRESHOLDS) -> dict:
    hashes = [perceptual_hash(photo.image) for photo in photos]
    return check_photos([measure_photo(photo) for photo in photos], hashes, thresholds, NOW)


def test_thresholds_default_when_the_workflow_gives_none() -> None:
    assert ComplianceThresholds.from_dict({}) == ComplianceThresholds(
        min_width=640,
        min_height=480,
        min_sharpness=100.0,
        min_brightness=40.0,
        max_brightness=220.0,
        max_age_days=365,
        duplicate_distance=24,
    )


def test_thresholds_read_camel_case_keys() -> None:
    thresholds = ComplianceThresholds.from_dict(
        {
            "minWidth": 1024,
            "minHeight": 768,
            "minSharpness": 80,
            "minBrightness": 30.5,
            "maxBrightness": 230,
            "maxAgeDays": 30,
            "duplicateDistance": 4,
            "unrelated": "ignored",
        }
    )

    assert thresholds == ComplianceThresholds(1024, 768, 80.0, 30.5, 230.0, 30, 4)


def test_thresholds_null_max_age_disables_the_age_limit() -> None:
    assert ComplianceThresholds.from_dict({"maxAgeDays": None}).max_age_days is None


def test_sharpness_of_a_one_pixel_checkerboard_is_the_laplacian_peak_squared() -> None:
    image = Image.new("L", (64, 48))
    image.putdata([255 * ((x + y) % 2) for y in range(48) for x in range(64)])

    # Every interior Laplacian is +-4*255, so the variance is 1020**2.
    assert measure_sharpness(image) == pytest.approx(1020.0**2)


def test_sharpness_of_a_flat_image_is_zero() -> None:
    assert measure_sharpness(Image.new("RGB", (800, 600), (90, 120, 150))) == 0.0


def test_sharpness_is_measured_at_1024_pixels_on_the_long_side() -> None:
    rng = random.Random(7)
    scene = Image.new("L", (1024, 768))
    scene.putdata([rng.randrange(256) for _ in range(1024 * 768)])
    doubled = scene.resize((2048, 1536), Image.Resampling.NEAREST)

    assert measure_sharpness(doubled) == pytest.approx(measure_sharpness(scene))


def test_sharp_photo_scores_high_and_blurred_photo_low() -> None:
    sharp = decode(make_photo())
    blurred = decode(make_photo(blur=4))

    assert measure_sharpness(sharp.image) > 300
    assert measure_sharpness(blurred.image) < 20


def test_brightness_is_the_mean_luma() -> None:
    # Luma of (200, 100, 50) is 0.299*200 + 0.587*100 + 0.114*50 = 124.2, stored as 124.
    assert measure_brightness(Image.new("RGB", (40, 30), (200, 100, 50))) == 124.0
    assert measure_brightness(Image.new("RGB", (40, 30), (0, 0, 0))) == 0.0


def test_a_good_photo_passes_every_check() -> None:
    photo = decode(make_photo(exif_datetime=RECENT, gps=(52.520008, 13.404954)))

    result = check(photo)

    assert set(result) == {"photos", "compliant", "issues"}
    assert result["compliant"] is True
    assert result["issues"] == []
    [report] = result["photos"]
    assert report["fileIndex"] == 0
    assert (report["width"], report["height"]) == (1280, 960)
    assert report["sharpness"] > 300
    assert report["sharpness"] == round(report["sharpness"], 2)
    assert 100 < report["brightness"] < 140
    assert report["capturedAt"] == "2026-03-20T10:05:30.000Z"
    assert report["gps"] == {
        "latitude": pytest.approx(52.520008, abs=1e-4),
        "longitude": pytest.approx(13.404954, abs=1e-4),
    }
    assert report["checks"] == {
        "resolution": True,
        "sharpness": True,
        "brightness": True,
        "age": True,
        "duplicate": True,
    }
    assert report["passed"] is True
    assert compliance_confidence(result) == 1.0


def test_a_blurred_photo_fails_sharpness() -> None:
    result = check(decode(make_photo(blur=4)))

    [report] = result["photos"]
    assert report["checks"]["sharpness"] is False
    assert report["passed"] is False
    assert result["compliant"] is False
    [issue] = result["issues"]
    assert issue["fileIndex"] == 0
    assert issue["check"] == "sharpness"
    assert issue["message"].startswith("photo is blurry: sharpness ")


def test_a_dark_photo_fails_brightness() -> None:
    result = check(decode(make_photo(brightness=0.2)))

    [report] = result["photos"]
    assert report["brightness"] < 40
    assert report["checks"]["brightness"] is False
    assert result["compliant"] is False
    # Darkening also flattens contrast, so this photo fails sharpness as well.
    assert [issue["check"] for issue in result["issues"]] == ["sharpness", "brightness"]
    assert result["issues"][1]["message"].startswith("photo is too dark: brightness ")


def test_an_overexposed_photo_fails_brightness() -> None:
    result = check(decode(make_photo(brightness=3.0)))

    [report] = result["photos"]
    assert report["brightness"] > 220
    assert report["checks"]["brightness"] is False
    assert report["checks"]["sharpness"] is True
    assert [issue["check"] for issue in result["issues"]] == ["brightness"]
    assert "overexposed" in result["issues"][0]["message"]
    assert result["compliant"] is False


def test_a_small_photo_fails_resolution() -> None:
    result = check(decode(make_photo(320, 240)))

    [report] = result["photos"]
    assert report["checks"]["resolution"] is False
    assert [issue["check"] for issue in result["issues"]] == ["resolution"]
    assert result["issues"][0]["message"].startswith("photo is 320x240 pixels, smaller than")
    assert result["compliant"] is False


def test_a_portrait_photo_meets_a_landscape_minimum() -> None:
    result = check(decode(make_photo(960, 1280)))

    assert result["photos"][0]["checks"]["resolution"] is True
    assert result["compliant"] is True


def test_an_old_photo_fails_age() -> None:
    photo = decode(make_photo(exif_datetime=datetime(2024, 1, 1, 9, 0, 0)))

    result = check(photo)

    [report] = result["photos"]
    assert report["capturedAt"] == "2024-01-01T09:00:00.000Z"
    assert report["checks"]["age"] is False
    assert result["issues"] == [
        {
            "fileIndex": 0,
            "check": "age",
            "message": "photo was taken 814 days ago, more than the 365-day limit",
        }
    ]
    assert result["compliant"] is False


def test_age_is_not_evaluated_without_exif_date_or_without_limit() -> None:
    undated = check(decode(make_photo()))
    unlimited = check(
        decode(make_photo(exif_datetime=datetime(2001, 1, 1))),
        thresholds=ComplianceThresholds(max_age_days=None),
    )

    for result in (undated, unlimited):
        assert result["photos"][0]["checks"]["age"] is None
        assert result["photos"][0]["passed"] is True
        assert result["compliant"] is True
    assert undated["photos"][0]["capturedAt"] is None
    assert undated["photos"][0]["gps"] is None


def test_a_near_duplicate_within_the_session_is_flagged() -> None:
    original = make_photo(seed=0)
    photos = [decode(original), decode(make_photo(seed=1)), decode(near_duplicate(original))]

    result = check(*photos)

    duplicates = [report["checks"]["duplicate"] for report in result["photos"]]
    assert duplicates == [True, True, False]
    assert [report["passed"] for report in result["photos"]] == [True, True, False]
    [issue] = result["issues"]
    assert issue["fileIndex"] == 2
    assert issue["check"] == "duplicate"
    assert issue["message"].startswith("photo is a near duplicate of file 0 ")
    assert result["compliant"] is False


def test_compliant_requires_every_photo_to_pass() -> None:
    good = decode(make_photo(seed=0))
    blurred = decode(make_photo(seed=1, blur=4))

    assert check(good)["compliant"] is True
    result = check(good, blurred)

    assert [report["passed"] for report in result["photos"]] == [True, False]
    assert result["compliant"] is False
    # Photo 0: 4 of 4 evaluated checks pass; photo 1: 3 of 4 (age unevaluated on both).
    assert compliance_confidence(result) == 0.875


def test_no_photos_is_not_compliant() -> None:
    result = check_photos([], [], THRESHOLDS, NOW)

    assert result == {"photos": [], "compliant": False, "issues": []}
    assert compliance_confidence(result) == 0.0


def test_check_photos_needs_one_hash_per_photo() -> None:
    with pytest.raises(ValueError, match="1 photos but 0 hashes"):
        check_photos([measure_photo(decode(make_photo(320, 240)))], [], THRESHOLDS, NOW)
