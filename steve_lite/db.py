"""The SQLite database: connection, pragmas, migrations and transactions."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlite_utils import Database

from steve_lite.clock import now_iso
from steve_lite.errors import ConfigurationError

BUSY_TIMEOUT_MS = 5000


class DataDirError(ConfigurationError):
    """The data directory cannot be created or written."""


def ensure_data_dir(path: Path) -> Path:
    """Create ``path`` when missing and check that it is writable."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A probe of its own: threads and processes opening the database at the same time
        # must not delete each other's probe.
        handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise DataDirError(
            f"data directory {str(path)!r} is not writable ({exc.strerror or exc}); "
            "set STEVE_DATA_DIR to a directory this user can write"
        ) from exc
    return path


def connect(path: Path) -> Database:
    """Open the database at ``path`` in WAL mode with foreign keys and a busy timeout.

    The connection is in autocommit mode; group writes with :func:`transaction`.
    """
    ensure_data_dir(path.parent)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Savepoints (every unit of a group commit) journal the pages they change; in a temp file
    # that tripled the cost of each write statement (measured with bench/sessions.py).
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.row_factory = sqlite3.Row
    return Database(conn)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run the block in one write transaction (``BEGIN IMMEDIATE``), or roll it back.

    Inside a transaction that is already open (a unit of the API's group commit, or an outer
    ``transaction``), the block is a savepoint, as ``sqlite_utils.Database.atomic`` makes it:
    an error rolls back the block's own writes, then reaches the caller."""
    conn = db.conn
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield db
        except BaseException:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migration_files() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package, as (number, name, sql)."""
    found = []
    for entry in resources.files("steve_lite.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(db: Database) -> list[str]:
    """Apply every migration not yet applied; return the names applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = []
    for number, name, sql in migration_files():
        with transaction(db):
            done = db.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", [number]
            ).fetchone()
            if done:
                continue
            for statement in split_statements(sql):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [number, name, now_iso()],
            )
        applied.append(name)
    return applied


def split_statements(sql: str) -> list[str]:
    """Split a migration script into complete statements."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
