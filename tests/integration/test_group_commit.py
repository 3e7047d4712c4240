"""GroupCommit on real SQLite files: one commit per turn, units isolated, callers after commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from steve_lite import db as database
from steve_lite.db import Database
from steve_lite.group_commit import GroupCommit


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "group.db"
    db = database.connect(path)
    db.execute("CREATE TABLE items (name TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE children (parent_id INTEGER REFERENCES parents(id) "
        "DEFERRABLE INITIALLY DEFERRED)"
    )
    db.close()
    return path


@pytest.fixture
def traced(path: Path) -> Iterator[tuple[Database, list[str]]]:
    """The connection the group commits on, with every statement it runs recorded."""
    db = database.connect(path)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    yield db, statements
    db.close()


def names(path: Path) -> set[str]:
    """What another connection sees as committed."""
    with closing(sqlite3.connect(path)) as other:
        return {row[0] for row in other.execute("SELECT name FROM items")}


def insert(name: str) -> Callable[[Database], str]:
    """A unit of work that inserts ``name`` and returns it in capitals."""

    def work(db: Database) -> str:
        db.execute("INSERT INTO items (name) VALUES (?)", [name])
        return name.upper()

    return work


def test_units_of_one_turn_share_one_commit(path: Path, traced: tuple[Database, list[str]]) -> None:
    db, statements = traced
    writes = GroupCommit(db)

    async def main() -> list[str]:
        return await asyncio.gather(*(writes.run(insert(f"n{i}")) for i in range(10)))

    assert asyncio.run(main()) == [f"N{i}" for i in range(10)]
    assert statements.count("COMMIT") == 1
    assert statements.count("BEGIN IMMEDIATE") == 1
    assert names(path) == {f"n{i}" for i in range(10)}


def test_callers_resume_after_the_commit(path: Path, traced: tuple[Database, list[str]]) -> None:
    db, _ = traced
    writes = GroupCommit(db)

    async def main() -> set[str]:
        await writes.run(insert("durable"))
        return names(path)  # another connection, right after the await

    assert asyncio.run(main()) == {"durable"}


def test_a_failing_unit_is_rolled_back_alone(
    path: Path, traced: tuple[Database, list[str]]
) -> None:
    db, statements = traced
    writes = GroupCommit(db)

    def half_then_fail(db: Database) -> None:
        db.execute("INSERT INTO items (name) VALUES ('half')")
        raise ValueError("no")

    async def main() -> list[object]:
        return await asyncio.gather(
            writes.run(insert("first")),
            writes.run(half_then_fail),
            writes.run(insert("last")),
            return_exceptions=True,
        )

    first, failed, last = asyncio.run(main())
    assert (first, last) == ("FIRST", "LAST")
    assert isinstance(failed, ValueError)
    assert names(path) == {"first", "last"}
    assert statements.count("COMMIT") == 1


def test_a_failed_commit_fails_every_caller_of_the_group(
    path: Path, traced: tuple[Database, list[str]]
) -> None:
    """A deferred foreign key is checked at COMMIT: the whole group fails, nothing is kept."""
    db, _ = traced
    writes = GroupCommit(db)

    def orphan(db: Database) -> None:
        db.execute("INSERT INTO children (parent_id) VALUES (42)")

    async def main() -> list[object]:
        return await asyncio.gather(
            writes.run(insert("lost")), writes.run(orphan), return_exceptions=True
        )

    outcomes = asyncio.run(main())
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert names(path) == set()
    assert not db.conn.in_transaction

    async def after() -> str:
        return await writes.run(insert("next"))

    assert asyncio.run(after()) == "NEXT"  # the next group starts clean
    assert names(path) == {"next"}


def test_add_returns_before_the_commit_which_follows_in_the_same_turn(
    path: Path, traced: tuple[Database, list[str]]
) -> None:
    db, _ = traced
    writes = GroupCommit(db)

    async def main() -> tuple[str, set[str], set[str]]:
        result = writes.add(insert("counted"))
        before = names(path)
        await asyncio.sleep(0)  # one turn of the loop: the group's commit runs
        return result, before, names(path)

    result, before, after = asyncio.run(main())
    assert result == "COUNTED"
    assert before == set()
    assert after == {"counted"}
