"""Per-key rate limits in fixed windows, counted in SQLite so that every process shares them."""

from __future__ import annotations

from dataclasses import dataclass

from steve_lite.db import Database


@dataclass(frozen=True)
class RateLimitState:
    """The outcome of one counted request."""

    limit: int
    remaining: int
    reset_seconds: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def hit(
    db: Database, *, key_id: str, bucket: str, limit: int, window: int, now: float
) -> RateLimitState:
    """Count one request of ``key_id`` in ``bucket`` and say whether it is allowed."""
    window_start = int(now // window) * window
    count = db.execute(
        "INSERT INTO rate_limit_windows (api_key_id, bucket, window_start, count) "
        "VALUES (?, ?, ?, 1) ON CONFLICT (api_key_id, bucket, window_start) "
        "DO UPDATE SET count = rate_limit_windows.count + 1 RETURNING count",
        [key_id, bucket, window_start],
    ).fetchone()[0]
    reset = max(1, int(window_start + window - now + 0.999))
    return RateLimitState(
        limit=limit, remaining=max(0, limit - count), reset_seconds=reset, allowed=count <= limit
    )


def prune_windows(db: Database, *, now: float, window: int) -> int:
    """Delete windows that have ended; return how many."""
    cursor = db.execute(
        "DELETE FROM rate_limit_windows WHERE window_start < ?", [int(now) - 2 * window]
    )
    return cursor.rowcount
