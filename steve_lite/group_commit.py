"""Group commit: the API's writes share transactions, one commit per turn of the event loop.

A SQLite commit costs about as much as the statements before it (every changed page is written
to the WAL, and every thousand pages a checkpoint syncs the files), so committing each request on
its own made commits the largest cost of a session create and of a rate-limited GET.
:meth:`GroupCommit.run` runs a unit of work at once, in a savepoint of the open group transaction
(``BEGIN IMMEDIATE`` when none is open), and then waits for the group's ``COMMIT``, which runs
once the event loop has handled every request that was ready.

- A unit that raises is rolled back alone (its savepoint); the exception reaches its caller.
- A caller of ``run`` resumes only after the commit, so whatever it answers is durable; when
  the commit fails, every such caller of the group gets the error. :meth:`GroupCommit.add` does
  not wait: it is for counters whose loss in a crash is harmless.
- Units run one after another on the API's connection, so each sees the writes before it.
- The write lock is held from the first unit of a group to its commit: one turn of the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from steve_lite.db import Database

T = TypeVar("T")

logger = logging.getLogger(__name__)


class GroupCommit:
    """Write units on one connection, committed in groups. Use from one event loop only."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._open = False
        self._waiting: list[asyncio.Future[None]] = []

    def add(self, work: Callable[[Database], T]) -> T:
        """Run ``work(db)`` now, in the open group, and return without waiting for the commit.

        Only for writes whose loss in a crash is harmless (rate-limit counts, ``lastUsedAt``):
        the caller may answer before they are durable."""
        db = self.db
        if not self._open:
            db.begin_write()
            self._open = True
            asyncio.get_running_loop().call_soon(self._commit)
        db.execute("SAVEPOINT unit")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK TO SAVEPOINT unit")
            db.execute("RELEASE SAVEPOINT unit")
            raise
        db.execute("RELEASE SAVEPOINT unit")
        return result

    async def run(self, work: Callable[[Database], T]) -> T:
        """Run ``work(db)`` now and return its result once the group has committed."""
        result = self.add(work)
        committed = asyncio.get_running_loop().create_future()
        self._waiting.append(committed)
        await committed
        return result

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        self._open = False
        try:
            self.db.commit()
        except Exception as exc:  # the engine's error (sqlite3, psycopg): every waiter gets it
            logger.exception("the commit of %d writes failed", len(waiting))
            if self.db.in_transaction:
                self.db.rollback()
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for future in waiting:
            if not future.done():  # a caller that was cancelled (client gone) no longer waits
                future.set_result(None)
