"""Redis for the tests: the machine's server with a key prefix per test run.

``STEVE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) names the shared server. Tests
that need it skip when it does not answer a ping, or fail instead when
``STEVE_REQUIRE_BACKENDS=1`` (``.ci/run`` sets it after starting the servers).
"""

from __future__ import annotations

import functools
import os
import uuid

import pytest
import redis

TEST_REDIS_URL = os.environ.get("STEVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_BACKENDS = "STEVE_REQUIRE_BACKENDS"
# Every queue name of this test run starts with it, so that its keys can be dropped at the end
# and runs sharing the server (other checkouts, pytest-xdist workers) never see each other's.
RUN_PREFIX = f"steve-test-{uuid.uuid4().hex[:10]}"


def unavailable(what: str, reason: str | None) -> None:
    """Skip the calling test when ``reason`` is set; fail instead under STEVE_REQUIRE_BACKENDS=1."""
    if reason is None:
        return
    if os.environ.get(REQUIRE_BACKENDS) == "1":
        pytest.fail(f"{REQUIRE_BACKENDS}=1 but {what}: {reason}", pytrace=False)
    pytest.skip(f"{what}: {reason}")


def ping_error(url: str) -> str | None:
    """Why the Redis at ``url`` cannot be used, or None when it answers a ping."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"no Redis answered a ping at {url}: {type(exc).__name__}: {exc}"
    return None


@functools.cache
def redis_unavailable() -> str | None:
    """:func:`ping_error` of the shared test Redis, asked once."""
    return ping_error(TEST_REDIS_URL)


def require_redis() -> str:
    """The shared test Redis's URL; skips (or fails) the calling test when it is down."""
    unavailable("Redis is needed", redis_unavailable())
    return TEST_REDIS_URL


def queue_name() -> str:
    """A fresh queue name (key prefix) of this test run."""
    return f"{RUN_PREFIX}-{uuid.uuid4().hex[:8]}"


def drop_run_keys(url: str = TEST_REDIS_URL) -> int:
    """Delete every key of this test run's queues; how many there were."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"huey.*{RUN_PREFIX}*", count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()
