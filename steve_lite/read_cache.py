"""What the API reads on every request (keys, assigned workflows), cached while it is unchanged.

Migration 0002 keeps one counter, ``cache_generation``, that triggers move on every change to
API keys, companies, assignments and workflows, from any process (the CLI revokes keys, the API
serves). :meth:`ReadCache.refresh` reads it once per request and empties the cache when it
moved, so a change committed before a request starts is always seen by that request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from steve_lite.db import Database

T = TypeVar("T")
MAX_ENTRIES = 10_000  # beyond this the cache starts over (e.g. many keys in turn)


class ReadCache:
    """Values loaded from ``db``, dropped whenever the cache generation moves."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._generation: int | None = None
        self._entries: dict[Hashable, Any] = {}

    def refresh(self) -> None:
        """Empty the cache if the data behind it changed since the last refresh."""
        generation = self.db.execute("SELECT value FROM cache_generation").fetchone()[0]
        if generation != self._generation or len(self._entries) > MAX_ENTRIES:
            self._entries.clear()
            self._generation = generation

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value for ``key``, loaded with ``load()`` on a miss (None is not kept)."""
        try:
            return self._entries[key]
        except KeyError:
            value = load()
            if value is not None:
                self._entries[key] = value
            return value
