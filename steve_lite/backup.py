"""``steve-lite backup DEST`` and ``steve-lite restore SRC``: a consistent copy of a running
installation, and a working installation again from that copy.

A backup is a directory: ``steve.db`` and ``queue.db`` copied with SQLite's online backup API
(each one a snapshot of one moment, taken while the service writes), ``objects/`` with the
uploaded files, and ``manifest.json`` saying what is in it. The app database is copied first;
the objects copied are those its copy names (``session_files``), so every file of every
session in the backup is in it, whatever was uploaded or deleted meanwhile. A task in the
queue copy whose session the app copy does not know is a no-op; a session left ``submitted``
without its task is re-queued by the worker's sweep once its lease has run out.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steve_lite import __version__
from steve_lite.clock import now_iso
from steve_lite.db import BUSY_TIMEOUT_MS
from steve_lite.errors import SteveLiteError
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectNotFoundError, ObjectStorage
from steve_lite.storage.setup import SupervisedS3, endpoint_record, storage_for

FORMAT = 1
MANIFEST = "manifest.json"
OBJECTS = "objects"
LARGEST_OBJECT_BYTES = 1 << 30  # far above any workflow's maxFileSizeMb


class BackupError(SteveLiteError):
    """The backup or restore cannot be made; the message says why."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (or a restore brought back)."""

    path: Path
    sessions: int
    objects: int
    object_bytes: int


def require_sqlite(settings: Settings) -> None:
    """Backups copy SQLite files; PostgreSQL and Redis are backed up with their own tools."""
    if settings.database_url:
        raise BackupError(
            "backup and restore copy the SQLite files; with STEVE_DATABASE_URL back up "
            "PostgreSQL with pg_dump (or your provider's backups) and the bucket with its tools "
            "(docs/deployment.md#several-machines)"
        )


def database_names(settings: Settings) -> dict[str, Path]:
    """The two SQLite files of an installation, by their name in a backup."""
    return {"steve.db": settings.database_path, "queue.db": settings.queue_path}


def copy_database(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` with SQLite's online backup API, then check the copy."""
    with (
        closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)) as reader,
        closing(sqlite3.connect(target)) as writer,
    ):
        reader.backup(writer)
        verdict = writer.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise BackupError(f"the copy of {source.name} failed its integrity check: {verdict}")


@contextmanager
def reachable_storage(settings: Settings) -> Iterator[ObjectStorage]:
    """The installation's object storage: the configured endpoint, the embedded server that
    ``up`` or ``steve-lite s3`` runs, or (when none runs) an embedded server started for this."""
    if not settings.embedded_s3 or endpoint_record(settings).exists():
        yield storage_for(settings)
        return
    embedded = SupervisedS3(settings)
    try:
        yield storage_for(settings, embedded.server)
    finally:
        embedded.stop()


def object_path(root: Path, key: str) -> Path:
    """Where object ``key`` is kept under ``root`` (keys are made of ids: no ``..``)."""
    path = (root / key).resolve()
    if not path.is_relative_to(root.resolve()):
        raise BackupError(f"object key {key!r} leaves the backup directory")
    return path


def stored_files(database: Path) -> list[dict[str, Any]]:
    """The object key and declared content type of every file slot in the database copy: its
    sealed copy once submitted (the upload is then only a leftover), else its upload."""
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT COALESCE(sealed_key, object_key) AS key, content_type FROM session_files "
            "ORDER BY key"
        ).fetchall()
    return [{"key": key, "contentType": content_type} for key, content_type in rows]


def count_sessions(database: Path) -> int:
    with closing(sqlite3.connect(database)) as db:
        return int(db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])


def backup(settings: Settings, destination: Path, *, objects: bool | None = None) -> BackupSummary:
    """Back the installation up into ``destination`` (a new or empty directory).

    ``objects``: copy the uploaded files too; by default only from the embedded server (on R2
    or MinIO the bucket is backed up with the provider's tools, see docs/deployment.md)."""
    require_sqlite(settings)
    if not settings.database_path.exists():
        raise BackupError(f"no database at {settings.database_path}: nothing to back up")
    require_empty(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for name, source in database_names(settings).items():
        if source.exists():
            copy_database(source, destination / name)
    app_copy = destination / "steve.db"
    with_objects = settings.embedded_s3 if objects is None else objects
    copied = copy_objects(settings, app_copy, destination / OBJECTS) if with_objects else None
    manifest = {
        "format": FORMAT,
        "steveLiteVersion": __version__,
        "createdAt": now_iso(),
        "databases": sorted(p.name for p in destination.glob("*.db")),
        "objects": copied,
        "storage": "embedded" if settings.embedded_s3 else "external",
        "bucket": settings.s3_bucket,
    }
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupSummary(
        path=destination,
        sessions=count_sessions(app_copy),
        objects=len(copied or []),
        object_bytes=sum(item["size"] for item in copied or []),
    )


def copy_objects(settings: Settings, app_copy: Path, root: Path) -> list[dict[str, Any]]:
    """Download every object the database copy names (those never uploaded, or already
    deleted by the expiry sweep, are skipped); their key, type, size and SHA-256."""
    copied = []
    with reachable_storage(settings) as storage:
        for item in stored_files(app_copy):
            try:
                data = storage.download(item["key"], max_bytes=LARGEST_OBJECT_BYTES)
            except ObjectNotFoundError:
                continue
            path = object_path(root, item["key"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            sha256 = hashlib.sha256(data).hexdigest()
            copied.append({**item, "size": len(data), "sha256": sha256})
    return copied


def require_empty(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} exists and is not an empty directory")


def restore(settings: Settings, source: Path) -> BackupSummary:
    """Restore the backup in ``source`` into the empty data directory of ``settings``, and its
    objects into the storage those settings name (the embedded server unless configured)."""
    require_sqlite(settings)
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{source} is not a steve-lite backup (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} in {source}")
    require_empty(settings.data_dir)
    objects = manifest["objects"] or []
    for item in objects:  # check everything before anything is written
        data = object_path(source / OBJECTS, item["key"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            raise BackupError(f"object {item['key']!r} in {source} does not match the manifest")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for name, target in database_names(settings).items():
        if (source / name).exists():
            copy_database(source / name, target)
    if objects:
        with reachable_storage(settings) as storage:
            storage.ensure_bucket()
            for item in objects:
                data = object_path(source / OBJECTS, item["key"]).read_bytes()
                storage.upload(item["key"], data, item["contentType"])
    return BackupSummary(
        path=settings.data_dir,
        sessions=count_sessions(settings.database_path),
        objects=len(objects),
        object_bytes=sum(item["size"] for item in objects),
    )
