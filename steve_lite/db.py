"""The database: one interface over SQLite (the default) and PostgreSQL (``STEVE_DATABASE_URL``).

Feature modules write one dialect, SQLite's, with ``?`` parameters, and receive a
:class:`Database`; they never learn which engine runs. :class:`SqliteDatabase` passes the SQL
through; :class:`~steve_lite.postgres.PostgresDatabase` translates the few differences (see
:mod:`steve_lite.dialect`). Both are in autocommit mode: group writes with :func:`transaction`.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from steve_lite.clock import now_iso
from steve_lite.errors import ConfigurationError

if TYPE_CHECKING:
    from steve_lite.settings import Settings

BUSY_TIMEOUT_MS = 5000
Parameters = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    """What a statement returns: rows (by index and by column name) and the rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database:
    """A connection of either engine: statements in SQLite's dialect, autocommit unless in a
    :func:`transaction`."""

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        raise NotImplementedError

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        """Insert one row given as column -> value."""
        self.insert_all(table, [row])

    def insert_all(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert rows that all have the columns of the first."""
        rows = list(rows)
        if not rows:
            return
        columns = list(rows[0])
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        )
        self.executemany(sql, [[row[column] for column in columns] for row in rows])

    def begin_write(self) -> None:
        """Open a write transaction holding the database's write lock until it ends: writers
        run one at a time, on SQLite (``BEGIN IMMEDIATE``) as on PostgreSQL, so a transaction
        that reads and then writes sees no other writer in between."""
        self.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def execute_script_statement(self, statement: str) -> None:
        """Run one statement of a migration (DDL: PostgreSQL's types differ)."""
        self.execute(statement)


class SqliteDatabase(Database):
    """A SQLite connection (``conn``: the sqlite3 connection itself)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        return self.conn.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        self.conn.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def close(self) -> None:
        self.conn.close()


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


def open_database(settings: Settings) -> Database:
    """A new connection to the installation's database: PostgreSQL when
    ``STEVE_DATABASE_URL`` is set, else the SQLite file in the data directory."""
    if settings.database_url:
        from steve_lite.postgres import PostgresDatabase

        return PostgresDatabase(settings.database_url)
    return connect(settings.database_path)


def connect(path: Path) -> SqliteDatabase:
    """Open the SQLite database at ``path`` in WAL mode with foreign keys and a busy timeout."""
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
    return SqliteDatabase(conn)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run the block in one write transaction (:meth:`Database.begin_write`), or roll it back.

    Inside a transaction that is already open (a unit of the API's group commit, or an outer
    ``transaction``), the block is a savepoint: an error rolls back the block's own writes,
    then reaches the caller."""
    if db.in_transaction:
        db.execute("SAVEPOINT nested")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK TO SAVEPOINT nested")
            db.execute("RELEASE SAVEPOINT nested")
            raise
        db.execute("RELEASE SAVEPOINT nested")
        return
    db.begin_write()
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()


def migration_files() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped with the package, as (number, name, sql)."""
    found = []
    for entry in resources.files("steve_lite.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(db: Database) -> list[str]:
    """Apply every migration not yet applied; return the names applied now. Safe to run from
    several processes (and machines) at once: each migration is one write transaction, which
    holds the write lock, and checks again inside it whether another run applied it."""
    with transaction(db):
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
                db.execute_script_statement(statement)
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
