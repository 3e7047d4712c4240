"""Choosing the object storage from the settings: an external S3 endpoint or the embedded one."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from steve_lite.private_files import make_private
from steve_lite.settings import Settings
from steve_lite.storage.embedded import EmbeddedS3, write_private_file
from steve_lite.storage.s3 import ObjectStorage

logger = logging.getLogger("steve_lite.storage")


class StorageConfigError(RuntimeError):
    """The object storage settings are incomplete."""


def embedded_dir(settings: Settings) -> Path:
    return settings.data_dir / "s3"


def endpoint_record(settings: Settings) -> Path:
    """Where a running embedded server writes its address, for ``serve`` and ``worker``."""
    return embedded_dir(settings) / "endpoint.json"


def start_embedded(settings: Settings) -> EmbeddedS3:
    """Start the embedded server, record its address, and log loudly if it ever crashes."""
    server = EmbeddedS3(
        embedded_dir(settings), bucket=settings.s3_bucket, s3_port=settings.embedded_s3_port
    )
    server.start()
    write_private_file(endpoint_record(settings), json.dumps({"endpoint": server.endpoint}))

    def report_crash(code: int) -> None:
        logger.error(
            "the embedded S3 server exited unexpectedly (code %s); uploads and processing "
            "will fail until it is restarted; its log is %s",
            code,
            server.log_path,
        )

    server.watch(report_crash)
    logger.info("embedded S3 server listening on http://%s", server.endpoint)
    return server


def stop_embedded(settings: Settings, server: EmbeddedS3) -> None:
    server.stop()
    endpoint_record(settings).unlink(missing_ok=True)
    # weed writes its volume info files (*.vif) 0644 whatever the umask, inside 0700 directories.
    fixed = make_private(embedded_dir(settings))
    logger.debug("made %d files of the embedded S3 server private", len(fixed))


def storage_for(settings: Settings, embedded: EmbeddedS3 | None = None) -> ObjectStorage:
    """The storage client for these settings (the embedded server when no endpoint is set)."""
    if settings.s3_endpoint:
        if not settings.s3_access_key or not settings.s3_secret_key:
            raise StorageConfigError(
                "STEVE_S3_ENDPOINT is set: STEVE_S3_ACCESS_KEY and STEVE_S3_SECRET_KEY are needed"
            )
        return ObjectStorage(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            secure=settings.s3_secure,
            public_endpoint=settings.s3_public_endpoint,
        )
    if embedded is None:
        embedded = running_embedded(settings)
    return embedded.storage(public_endpoint=settings.s3_public_endpoint)


def running_embedded(settings: Settings) -> EmbeddedS3:
    """A handle on the embedded server that ``up`` or ``steve-lite s3`` started."""
    record = endpoint_record(settings)
    if not record.exists():
        raise StorageConfigError(
            "no object storage: set STEVE_S3_ENDPOINT (and its keys), or start the embedded "
            "server with `steve-lite s3` (or use `steve-lite up`)"
        )
    port = int(json.loads(record.read_text())["endpoint"].rsplit(":", 1)[1])
    return EmbeddedS3(embedded_dir(settings), bucket=settings.s3_bucket, s3_port=port)
