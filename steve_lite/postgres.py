"""PostgreSQL as the database (``STEVE_DATABASE_URL=postgresql://...``), with psycopg 3.

Statements arrive in SQLite's dialect and are translated by :mod:`steve_lite.dialect`. Rows
answer by index and by column name, like ``sqlite3.Row``; booleans are stored as 0 and 1, as
SQLite stores them. A write transaction takes one transaction-scoped advisory lock, so writers
run one at a time as on SQLite (``BEGIN IMMEDIATE``): every rule that a transaction checks and
then writes (rate limits, idempotent creates, transitions) holds across all nodes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker

from steve_lite.db import Cursor, Database, Parameters
from steve_lite.dialect import translate, translate_ddl

WRITE_LOCK = 0x5737_7665  # the advisory lock id every write transaction of steve-lite takes


class Row(tuple[Any, ...]):
    """A result row by index (``row[0]``) and by column name (``row["id"]``, ``dict(row)``)."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


def rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    """psycopg's row factory for :class:`Row`."""
    index = {column.name: at for at, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


class BoolDumper(Dumper):
    """Python booleans as 0 and 1 in INTEGER columns, as on SQLite."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class PostgresDatabase(Database):
    """A PostgreSQL connection in autocommit mode (``conn``: the psycopg connection)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn = self._open()
        self._writing = False

    def _open(self) -> psycopg.Connection[Row]:
        conn = psycopg.connect(self._url, autocommit=True, row_factory=rows)
        conn.adapters.register_dumper(bool, BoolDumper)
        return conn

    @property
    def conn(self) -> psycopg.Connection[Row]:
        """The connection; a new one after the server closed it (a restart, a failover): the
        statement that met the closed one failed, the next ones run. Not inside a transaction,
        whose statements must all run on one connection: that transaction fails."""
        if self._conn.broken:
            if self._writing:
                self._writing = False
                raise psycopg.OperationalError("the connection was lost inside a transaction")
            self._conn = self._open()
        return self._conn

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        params = parameters if isinstance(parameters, dict) else list(parameters)
        return self.conn.execute(translate(sql), params)

    def executemany(self, sql: str, rows: Iterable[Parameters]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(translate(sql), rows)

    def execute_script_statement(self, statement: str) -> None:
        for translated in translate_ddl(statement):
            self.conn.execute(translated.encode())

    @property
    def in_transaction(self) -> bool:
        status = self._conn.info.transaction_status
        return status not in (TransactionStatus.IDLE, TransactionStatus.UNKNOWN)

    def begin_write(self) -> None:
        self.conn.execute("BEGIN")
        self._writing = True
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self._writing = False

    def rollback(self) -> None:
        self._writing = False
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()
