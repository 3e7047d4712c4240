"""Time helpers: UTC everywhere, ISO 8601 with milliseconds and ``Z`` on the wire."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """``2026-03-25T10:05:30.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def now_iso() -> str:
    """The current time as a wire timestamp."""
    return to_iso(utcnow())


def parse_iso(value: str) -> datetime:
    """Parse a wire timestamp back into an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
