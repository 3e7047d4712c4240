"""Cursor pagination: ``limit`` clamped to 1..100 and signed, opaque cursors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from steve_lite.db import Database
from steve_lite.errors import Malformed

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def clamp_limit(limit: int | None) -> int:
    """``limit`` within 1..100 (20 when absent)."""
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, limit))


def _secret(db: Database) -> bytes:
    row = db.execute("SELECT value FROM instance_secrets WHERE name = 'cursor'").fetchone()
    return bytes(row[0])


def encode_cursor(db: Database, scope: str, position: Any) -> str:
    """An opaque cursor for ``position`` within the list identified by ``scope``."""
    payload = json.dumps({"s": scope, "p": position}, separators=(",", ":")).encode()
    mac = hmac.new(_secret(db), payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def decode_cursor(db: Database, scope: str, cursor: str) -> Any:
    """The position in ``cursor``; 400 when it was tampered with or belongs to another list."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # The decoder skips characters outside the alphabet and ignores spare bits: only the
        # exact string encode_cursor made is a cursor, so any change to it is refused.
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
            raise ValueError("not a canonical cursor")
        mac, payload = raw[:16], raw[16:]
        expected = hmac.new(_secret(db), payload, hashlib.sha256).digest()[:16]
        if len(mac) != 16 or not hmac.compare_digest(mac, expected):
            raise ValueError("bad signature")
        data = json.loads(payload)
    except (ValueError, TypeError):
        raise Malformed("cursor is invalid") from None
    if data.get("s") != scope:
        raise Malformed("cursor belongs to another list")
    return data["p"]


class Pagination(TypedDict):
    hasMore: bool
    nextCursor: str | None


def paginate(
    db: Database,
    *,
    scope: str,
    limit: int | None,
    cursor: str | None,
    fetch: Callable[[Any, int], list[T]],
    position: Callable[[T], Any],
) -> tuple[list[T], str | None]:
    """One page: ``fetch(after, n)`` returns up to n rows after a position; returns the rows
    and the next cursor (None on the last page)."""
    size = clamp_limit(limit)
    after = decode_cursor(db, scope, cursor) if cursor else None
    rows = fetch(after, size + 1)
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    return rows, encode_cursor(db, scope, position(rows[-1]))


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """The list envelope of the contract."""
    return {
        "data": items,
        "pagination": {"hasMore": next_cursor is not None, "nextCursor": next_cursor},
    }
