"""Object storage backends for tests that must behave the same on each of them.

``embedded``: the SeaweedFS server steve-lite runs itself (tests/fixtures/s3.py).
``minio``: a real MinIO in Docker through testcontainers, used only when a Docker engine answers
a ping; otherwise such tests skip, or fail when ``STEVE_REQUIRE_DOCKER=1``.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from steve_lite import db as database
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.wiring import build_api
from tests.support.api import LiveApi, open_database
from tests.support.servers import ThreadedServer

# MinIO's images are served from quay.io (Docker Hub no longer has minio/minio); the same tag
# as devstack/compose.yaml.
MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
MINIO_REGION = "us-east-1"
REQUIRE_DOCKER = "STEVE_REQUIRE_DOCKER"


@functools.cache
def docker_unavailable() -> str | None:
    """Why no Docker engine can be used, or None when one answers a ping (asked once)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # no socket, no permission, no daemon, a bad DOCKER_HOST...
        return f"no Docker engine answered a ping: {type(exc).__name__}: {exc}"
    return None


def require_docker() -> None:
    """Skip the calling test without Docker; fail instead when STEVE_REQUIRE_DOCKER=1."""
    reason = docker_unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE_DOCKER) == "1":
        pytest.fail(f"{REQUIRE_DOCKER}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class MinioServer:
    """Where a running MinIO answers and the root credentials it accepts."""

    endpoint: str
    access_key: str
    secret_key: str

    def storage(self, bucket: str | None = None) -> ObjectStorage:
        """An ObjectStorage on ``bucket`` (default: a fresh name), created if missing."""
        storage = ObjectStorage(
            endpoint=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            bucket=bucket or f"test-{uuid.uuid4().hex[:20]}",
            region=MINIO_REGION,
            secure=False,
        )
        storage.ensure_bucket()
        return storage


@contextmanager
def running_minio() -> Iterator[MinioServer]:
    """A MinIO container for the duration of the block (testcontainers removes it after)."""
    from testcontainers.community.minio import MinioContainer

    container = MinioContainer(
        image=MINIO_IMAGE, access_key="steve-tests", secret_key=uuid.uuid4().hex
    )
    # The names MinIO reads today (testcontainers still sets the deprecated pair).
    container.env.pop("MINIO_ACCESS_KEY", None)
    container.env.pop("MINIO_SECRET_KEY", None)
    container.with_env("MINIO_ROOT_USER", container.access_key)
    container.with_env("MINIO_ROOT_PASSWORD", container.secret_key)
    with container:
        config = container.get_config()
        yield MinioServer(
            endpoint=f"http://{config['endpoint']}",
            access_key=config["access_key"],
            secret_key=config["secret_key"],
        )


def start_live_api_on(
    settings: Settings, storage: ObjectStorage, **state: Any
) -> tuple[LiveApi, ThreadedServer]:
    """Serve the app for ``settings`` on an existing ``storage`` (any S3 backend)."""
    db = open_database(settings)
    app = build_api(settings, storage, db=database.open_database(settings), **state)
    server = ThreadedServer(app).start()
    return LiveApi(url=server.url, settings=settings, db=db, storage=storage), server
