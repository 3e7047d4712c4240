"""Rate limits: per key and bucket, headers, 429 with Retry-After, window reset."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steve_lite.storage.embedded import EmbeddedS3
from tests.support.api import LiveApi, make_settings, start_live_api


@pytest.fixture
def tight_api(tmp_path: Path, embedded_s3: EmbeddedS3) -> Iterator[LiveApi]:
    settings = make_settings(tmp_path, rate_limit_read=3, rate_limit_window_seconds=2)
    api, server = start_live_api(settings, embedded_s3)
    yield api
    server.stop()


def wait_for_window_start(window: int) -> None:
    """Sleep until just after a window boundary so a test's requests share one window."""
    time.sleep(window - (time.time() % window) + 0.05)


def test_headers_exhaustion_and_reset(tight_api: LiveApi) -> None:
    tenant = tight_api.tenant()
    wait_for_window_start(2)
    with tight_api.client(tenant) as client:
        remaining = []
        for _ in range(3):
            response = client.get("/api/v1/workflows")
            assert response.status_code == 200
            assert response.headers["x-ratelimit-limit"] == "3"
            assert 1 <= int(response.headers["x-ratelimit-reset"]) <= 2
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        limited = client.get("/api/v1/workflows")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["type"].endswith("/rate-limit-exceeded")
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert limited.headers["x-ratelimit-remaining"] == "0"
        time.sleep(int(limited.headers["retry-after"]))
        assert client.get("/api/v1/workflows").status_code == 200


def test_keys_have_separate_buckets(tight_api: LiveApi) -> None:
    first, second = tight_api.tenant(), tight_api.tenant()
    wait_for_window_start(2)
    with tight_api.client(first) as client:
        statuses = [client.get("/api/v1/workflows").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    with tight_api.client(second) as client:
        assert client.get("/api/v1/workflows").status_code == 200


def test_unauthenticated_requests_are_not_counted_for_a_key(tight_api: LiveApi) -> None:
    tenant = tight_api.tenant()
    wait_for_window_start(2)
    with tight_api.client() as anonymous:
        for _ in range(5):
            assert anonymous.get("/api/v1/workflows").status_code == 401
    with tight_api.client(tenant) as client:
        assert client.get("/api/v1/workflows").headers["x-ratelimit-remaining"] == "2"
