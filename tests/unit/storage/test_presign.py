"""The presigner builds the URLs minio builds, byte for byte (the real server checks them in
tests/integration/storage/test_s3.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio

from steve_lite.storage.presign import Presigner

ACCESS, SECRET, BUCKET = "AKID/with+chars", "secret/key+=", "steve-lite"
ENDPOINTS = [
    ("127.0.0.1:8333", False),
    ("acct.r2.cloudflarestorage.com", True),
    ("minio.example.com:443", True),
    ("localhost:80", False),
    ("storage.example.com:9000", True),
]
KEYS = ["companies/co_1/sessions/ses_2/0", "a b/ü~x?y#z%41+"]
MOMENTS = [  # the same instant twice and a day boundary: the cached day key must follow
    datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 11, 29, 0, 0, 1, tzinfo=UTC),
]
DOWNLOAD_OVERRIDES = {  # what submission downloads sign, with characters that need escaping
    "response-content-type": "image/png",
    "response-content-disposition": 'attachment; filename="sub_1-0.png"',
}


@pytest.mark.parametrize(("endpoint", "secure"), ENDPOINTS)
def test_urls_equal_minios(endpoint: str, secure: bool) -> None:
    minio = Minio(endpoint, access_key=ACCESS, secret_key=SECRET, secure=secure, region="auto")
    scheme = "https" if secure else "http"
    presigner = Presigner(
        base_url=f"{scheme}://{endpoint}",
        bucket=BUCKET,
        access_key=ACCESS,
        secret_key=SECRET,
        region="auto",
    )
    for moment in MOMENTS:
        for key in KEYS:
            for method, expires in [("PUT", timedelta(minutes=15)), ("GET", timedelta(hours=1))]:
                expected = minio.get_presigned_url(
                    method, BUCKET, key, expires=expires, request_date=moment
                )
                actual = presigner.presign(method, key, expires, at=moment.timestamp())
                assert actual == expected, (method, key, moment)
            expected = minio.get_presigned_url(
                "GET",
                BUCKET,
                key,
                expires=timedelta(hours=1),
                response_headers=DOWNLOAD_OVERRIDES,
                request_date=moment,
            )
            actual = presigner.presign(
                "GET",
                key,
                timedelta(hours=1),
                at=moment.timestamp(),
                response_headers=DOWNLOAD_OVERRIDES,
            )
            assert actual == expected, ("GET with overrides", key, moment)


def test_expiry_outside_sigv4_limits_is_refused() -> None:
    presigner = Presigner(
        base_url="http://127.0.0.1:1", bucket=BUCKET, access_key="a", secret_key="b", region="r"
    )
    for expires in (timedelta(0), timedelta(days=7, seconds=1)):
        with pytest.raises(ValueError, match="expires"):
            presigner.presign("PUT", "key", expires)
