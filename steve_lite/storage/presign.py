"""Presigned object URLs: AWS Signature Version 4 in the query string, path-style.

The URLs are the ones the minio SDK builds for a path-style endpoint (R2, MinIO, SeaweedFS),
byte for byte; the tests compare the two. Presigning is arithmetic, not an S3 call: minio
re-derives the day's signing key (four HMACs) and rebuilds and re-parses the URL on every call,
about 50 us each, and a session create signs one URL per file. This signer keeps the signing key
for the day and formats the URL directly (see docs/benchmarks.md, ``bench/sessions.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_EXPIRY_SECONDS = 7 * 24 * 3600  # SigV4's limit


def hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode(), "sha256")


class Presigner:
    """Signs ``method`` URLs for objects of one bucket on one endpoint.

    ``base_url`` is the scheme and authority the URL's holder will reach, e.g.
    ``https://acct.r2.cloudflarestorage.com``; its host is part of the signature.
    """

    def __init__(
        self, *, base_url: str, bucket: str, access_key: str, secret_key: str, region: str
    ) -> None:
        parts = urlsplit(base_url)
        default_port = {"http": 80, "https": 443}[parts.scheme]
        # Like minio: an explicit default port is left out of the URL and the signed host.
        self._host = parts.hostname if parts.port == default_port else parts.netloc
        self._base_url = f"{parts.scheme}://{self._host}"
        self._bucket_path = "/" + bucket  # bucket names need no escaping
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._day: tuple[str, str, str, bytes] = ("", "", "", b"")
        self._second: tuple[int, str] = (-1, "")

    def _for_day(self, day: str) -> tuple[str, str, bytes]:
        """The credential scope, its query-string form and the signing key for ``day``
        (YYYYMMDD), derived once a day."""
        cached_day, scope, credential, key = self._day
        if cached_day != day:
            scope = f"{day}/{self._region}/s3/aws4_request"
            credential = quote(f"{self._access_key}/{scope}", safe="")
            key = hmac_sha256(("AWS4" + self._secret_key).encode(), day)
            for part in (self._region, "s3", "aws4_request"):
                key = hmac_sha256(key, part)
            self._day = (day, scope, credential, key)
        return scope, credential, key

    def _amz_date(self, second: int) -> str:
        """``YYYYMMDDTHHMMSSZ`` for ``second``, formatted once per second."""
        cached_second, amz_date = self._second
        if cached_second != second:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            self._second = (second, amz_date)
        return amz_date

    def presign(
        self,
        method: str,
        key: str,
        expires: timedelta,
        *,
        at: float | None = None,
        response_headers: Mapping[str, str] | None = None,
    ) -> str:
        """A URL that lets its holder send ``method`` for object ``key`` until it expires.

        ``at`` is the signing time (Unix seconds; default now). ``response_headers`` are signed
        query parameters such as ``response-content-type``, which make a GET answer with that
        header whatever the object was stored with."""
        seconds = int(expires.total_seconds())
        if not 1 <= seconds <= MAX_EXPIRY_SECONDS:
            raise ValueError(f"expires must be 1 s to 7 days, not {expires}")
        amz_date = self._amz_date(int(time.time() if at is None else at))
        scope, credential, signing_key = self._for_day(amz_date[:8])
        path = f"{self._bucket_path}/{quote(key)}"
        query = (
            f"X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={credential}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={seconds}&X-Amz-SignedHeaders=host"
        )
        canonical_query = query
        if response_headers:
            # Like minio: the extra parameters sorted, before the X-Amz ones in the URL; the
            # signed (canonical) query sorts every parameter.
            extra = sorted(
                f"{quote(name, safe='')}={quote(value, safe='')}"
                for name, value in response_headers.items()
            )
            canonical_query = "&".join(
                "=".join(pair) for pair in sorted(p.split("=") for p in [*query.split("&"), *extra])
            )
            query = "&".join([*extra, query])
        canonical_request = (
            f"{method}\n{path}\n{canonical_query}\nhost:{self._host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        string_to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        signature = hmac_sha256(signing_key, string_to_sign).hex()
        return f"{self._base_url}{path}?{query}&X-Amz-Signature={signature}"
