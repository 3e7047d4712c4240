"""The PostgreSQL backend itself (``steve_lite.postgres``), on the real server whatever backend
the run selected: concurrent migrations, the write lock, rows like ``sqlite3.Row``."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from steve_lite import db as database
from steve_lite.db import migration_files
from steve_lite.postgres import PostgresDatabase
from tests.support.cli import STEVE_LITE, cli_env
from tests.support.databases import empty_database
from tests.support.waiting import wait_until


def test_migrate_run_from_four_nodes_at_once_applies_each_migration_once(tmp_path: Path) -> None:
    url = empty_database()
    nodes = [
        subprocess.Popen(
            [STEVE_LITE, "migrate"],
            env=cli_env(tmp_path / f"node-{n}", STEVE_DATABASE_URL=url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(4)
    ]
    outputs = [node.communicate(timeout=120)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0] * 4, outputs
    applied = [output for output in outputs if "none pending" not in output]
    assert len(applied) >= 1, outputs
    db = PostgresDatabase(url)
    versions = [row[0] for row in db.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [number for number, _, _ in migration_files()]
    (workflows,) = db.execute("SELECT count(*) FROM workflows WHERE is_system = 1").fetchone()
    assert workflows > 0
    assert not any((tmp_path / f"node-{n}" / "steve.db").exists() for n in range(4))


def test_write_transactions_of_two_connections_run_one_after_the_other() -> None:
    url = empty_database()
    first, second = PostgresDatabase(url), PostgresDatabase(url)
    first.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
    first.execute("INSERT INTO counter (n) VALUES (0)")
    order: list[str] = []

    def read_then_write(db: database.Database, name: str) -> None:
        with database.transaction(db):
            (n,) = db.execute("SELECT n FROM counter").fetchone()
            order.append(f"{name} read {n}")
            time.sleep(0.3)  # the other transaction would read the same n without the lock
            db.execute("UPDATE counter SET n = ?", [n + 1])

    threads = [
        threading.Thread(target=read_then_write, args=(db, name))
        for db, name in ((first, "first"), (second, "second"))
    ]
    threads[0].start()
    wait_until(lambda: order == ["first read 0"], 10, "the first transaction's read")
    threads[1].start()  # while the first holds its transaction open
    for thread in threads:
        thread.join()
    assert order == ["first read 0", "second read 1"]
    assert first.execute("SELECT n FROM counter").fetchone()[0] == 2


def test_rows_read_like_sqlite_rows_and_booleans_are_stored_as_integers() -> None:
    db = PostgresDatabase(empty_database())
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, flag INTEGER, data BYTEA)")
    db.insert_all(
        "t",
        [{"id": "a", "flag": True, "data": b"\x00\x01"}, {"id": "b", "flag": False, "data": None}],
    )
    row = db.execute("SELECT id, flag, data FROM t WHERE id = ?", ["a"]).fetchone()
    assert (row[0], row["flag"], row["data"]) == ("a", 1, b"\x00\x01")
    assert dict(row) == {"id": "a", "flag": 1, "data": b"\x00\x01"}
    assert tuple(row) == ("a", 1, b"\x00\x01")
    assert [r["id"] for r in db.execute("SELECT id FROM t WHERE flag = ?", [False])] == ["b"]
    cursor = db.execute("UPDATE t SET flag = 1 WHERE flag = 0")
    assert cursor.rowcount == 1


def test_a_savepoint_inside_a_transaction_rolls_back_alone() -> None:
    db = PostgresDatabase(empty_database())
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    with database.transaction(db):
        db.execute("INSERT INTO t (id) VALUES ('kept')")
        with (
            pytest.raises(psycopg.errors.UniqueViolation, match="duplicate key"),
            database.transaction(db),
        ):
            db.execute("INSERT INTO t (id) VALUES ('dropped')")
            db.execute("INSERT INTO t (id) VALUES ('kept')")  # a unique violation
        assert db.in_transaction
        db.execute("INSERT INTO t (id) VALUES ('after')")  # the outer transaction goes on
    assert not db.in_transaction
    assert [row[0] for row in db.execute("SELECT id FROM t ORDER BY id")] == ["after", "kept"]


def test_a_connection_the_server_closed_is_opened_again_but_never_inside_a_transaction() -> None:
    url = empty_database()
    db, admin = PostgresDatabase(url), PostgresDatabase(url)
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")

    def terminate() -> None:  # what a server restart or a failover does to the connection
        (pid,) = db.execute("SELECT pg_backend_pid()").fetchone()
        admin.execute("SELECT pg_terminate_backend(?)", [pid])

    terminate()
    with pytest.raises(psycopg.OperationalError):
        db.execute("SELECT 1")
    assert db.execute("SELECT 1").fetchone()[0] == 1  # a new connection

    with pytest.raises(psycopg.OperationalError), database.transaction(db):
        db.execute("INSERT INTO t (id) VALUES ('lost')")
        terminate()
        db.execute("INSERT INTO t (id) VALUES ('after')")  # fails: no statement on a new one
    assert not db.in_transaction
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_the_translated_statements_run_on_the_server() -> None:
    """What tests/unit/test_dialect.py translates, run (``json_extract`` answers text here, a
    number on SQLite: the code compares it only with text or another ``json_extract``)."""
    db = PostgresDatabase(empty_database())
    db.execute("CREATE TABLE s (id TEXT PRIMARY KEY, slug TEXT, result TEXT)")
    result = '{"extractedData": {"totalAmount": 5.5, "currency": "EUR"}}'
    db.execute(
        "INSERT INTO s (id, slug, result) VALUES (:id, :slug, :result)",
        {"id": "a", "slug": "x", "result": result},
    )
    db.execute("INSERT INTO s (id, slug, result) VALUES (?, ?, NULL)", ["b", "y"])

    (inserted,) = db.execute(
        "INSERT OR IGNORE INTO s (id, slug) VALUES (?, ?) RETURNING id", ["c", "z"]
    ).fetchall()
    assert inserted[0] == "c"
    ignored = db.execute(
        "INSERT OR IGNORE INTO s (id, slug) VALUES (?, ?) RETURNING id", ["c", "w"]
    )
    assert ignored.fetchall() == []
    assert db.execute("SELECT slug FROM s WHERE id = 'c'").fetchone()[0] == "z"

    (total, currency, same) = db.execute(
        "SELECT json_extract(result, '$.extractedData.totalAmount'), "
        "json_extract(result, '$.extractedData.currency'), "
        "json_extract(result, '$.extractedData.totalAmount') = json_extract(?, '$') "
        "FROM s WHERE id = ?",
        ["5.5", "a"],
    ).fetchone()
    assert (total, currency, same) == ("5.5", "EUR", True)

    db.execute(
        "UPDATE s SET result = json_set(result, '$.fraudStatus', ?) WHERE id = ?", ["ok", "a"]
    )
    stored = json.loads(db.execute("SELECT result FROM s WHERE id = 'a'").fetchone()[0])
    assert stored == {"extractedData": {"totalAmount": 5.5, "currency": "EUR"}, "fraudStatus": "ok"}

    (slugs,) = db.execute("SELECT group_concat(s.slug, ',') FROM s").fetchone()
    assert sorted(slugs.split(",")) == ["x", "y", "z"]
    (literal,) = db.execute("SELECT 'a?b:c 50%' FROM s WHERE id = ?", ["a"]).fetchone()
    assert literal == "a?b:c 50%"
