"""Opaque, prefixed, unguessable identifiers that sort by creation time."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str, random_bytes: int = 12) -> str:
    """``prefix_`` + 12 hex digits of the time in milliseconds + ``random_bytes`` CSPRNG bytes
    in hex (96 random bits by default).

    The time comes first so that new rows land at the end of every index on an id: a group
    commit then writes the same few index pages for all its rows, not one page per row.
    """
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(random_bytes)}"
