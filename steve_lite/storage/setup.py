"""Choosing the object storage from the settings: an external S3 endpoint or the embedded one."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from steve_lite.errors import ConfigurationError
from steve_lite.private_files import make_private
from steve_lite.settings import Settings
from steve_lite.storage.embedded import EmbeddedS3, PortsTakenError, write_private_file
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.supervisor import Supervisor

logger = logging.getLogger("steve_lite.storage")


class StorageConfigError(ConfigurationError):
    """The object storage settings are incomplete."""


def embedded_dir(settings: Settings) -> Path:
    return settings.data_dir / "s3"


def endpoint_record(settings: Settings) -> Path:
    """Where a running embedded server writes its address, for ``serve`` and ``worker``."""
    return embedded_dir(settings) / "endpoint.json"


def ports_record(settings: Settings) -> Path:
    """Where the embedded server's ports are kept, so that a restart serves the same address."""
    return embedded_dir(settings) / "ports.json"


def remembered_ports(settings: Settings) -> dict[str, int]:
    """The ports of the last run (``STEVE_EMBEDDED_S3_PORT`` wins for the S3 port)."""
    try:
        ports = {str(k): int(v) for k, v in json.loads(ports_record(settings).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        ports = {}
    if settings.embedded_s3_port:
        ports["s3"] = settings.embedded_s3_port
    return ports


class SupervisedS3:
    """The embedded server of ``up`` or ``steve-lite s3``: started on the ports of its last run,
    its address recorded for ``serve`` and ``worker``, and started again on the same ports when
    it dies."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        remembered = remembered_ports(settings)
        self.server = self._server(remembered)
        try:
            self.server.start()
        except PortsTakenError as exc:
            if not remembered or settings.embedded_s3_port:
                raise
            logger.warning("%s; the embedded S3 server moves to new ports", exc)
            self.server = self._server({})
            self.server.start()
        write_private_file(ports_record(settings), json.dumps(self.server.ports))
        write_private_file(
            endpoint_record(settings), json.dumps({"endpoint": self.server.endpoint})
        )
        self._supervisor = Supervisor(
            "embedded S3 server", start=self.server.start, wait=self.server.wait
        )
        self._supervisor.watch()
        logger.info("embedded S3 server listening on http://%s", self.server.endpoint)

    def _server(self, ports: dict[str, int]) -> EmbeddedS3:
        return EmbeddedS3(
            embedded_dir(self._settings),
            bucket=self._settings.s3_bucket,
            ports=ports,
            avoid_ports=[self._settings.port],  # free until the API binds it
        )

    def stop(self) -> None:
        """Stop the server for good and withdraw its address."""
        self._supervisor.stop()
        with self._supervisor.lock:
            self.server.stop()
        endpoint_record(self._settings).unlink(missing_ok=True)
        # weed writes its volume info files (*.vif) 0644 whatever the umask, in 0700 directories.
        fixed = make_private(embedded_dir(self._settings))
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
