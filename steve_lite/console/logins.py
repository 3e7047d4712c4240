"""Console sessions: server-side rows behind a cookie, with idle and absolute timeouts, a CSRF
token each, and sign-in rate limits per account and per address.

The cookie holds a random token; the row is keyed by its SHA-256, so a copy of the database
signs nobody in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from steve_lite.clock import parse_iso, to_iso, utcnow
from steve_lite.console.accounts import Reviewer, as_reviewer, hash_token, normalise_email
from steve_lite.db import Database

ACCOUNT_SCOPE = "account:"
ADDRESS_SCOPE = "address:"
# Move ``last_seen_at`` at most this often (or every half idle timeout, when that is shorter):
# a page view is then usually a read only.
TOUCH_SECONDS = 60


@dataclass(frozen=True)
class Login:
    """A valid console session: its reviewer, the CSRF token its forms must carry, and whether
    its ``last_seen_at`` is due to be moved forward."""

    reviewer: Reviewer
    csrf_token: str
    token_hash: str
    needs_touch: bool


def start_session(db: Database, reviewer_id: str, absolute_seconds: int) -> tuple[str, str]:
    """A new session row; returns the cookie token and the CSRF token. The reviewer's rows
    that can no longer be used (ended, or past their absolute end) are deleted."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(
        "DELETE FROM console_sessions WHERE reviewer_id = ? AND "
        "(ended_at IS NOT NULL OR expires_at <= ?)",
        [reviewer_id, to_iso(now)],
    )
    db.insert(
        "console_sessions",
        {
            "token_hash": hash_token(token),
            "reviewer_id": reviewer_id,
            "csrf_token": csrf,
            "created_at": to_iso(now),
            "last_seen_at": to_iso(now),
            "expires_at": to_iso(now + timedelta(seconds=absolute_seconds)),
            "ended_at": None,
        },
    )
    return token, csrf


def find_session(db: Database, token: str, idle_seconds: int) -> Login | None:
    """The session for a cookie token while it is open, not idle too long, not past its absolute
    end, and its reviewer and company are still enabled."""
    row = db.execute(
        "SELECT s.csrf_token, s.token_hash, s.last_seen_at, s.expires_at, r.*, "
        "c.slug AS company_slug FROM console_sessions s "
        "JOIN reviewers r ON r.id = s.reviewer_id JOIN companies c ON c.id = r.company_id "
        "WHERE s.token_hash = ? AND s.ended_at IS NULL AND r.disabled_at IS NULL "
        "AND c.active = 1",
        [hash_token(token)],
    ).fetchone()
    if row is None:
        return None
    now = utcnow()
    if parse_iso(row["expires_at"]) <= now:
        return None
    idle = now - parse_iso(row["last_seen_at"])
    if idle >= timedelta(seconds=idle_seconds):
        return None
    touch_after = timedelta(seconds=min(TOUCH_SECONDS, idle_seconds / 2))
    return Login(as_reviewer(dict(row)), row["csrf_token"], row["token_hash"], idle >= touch_after)


def touch_session(db: Database, token_hash: str) -> None:
    """Move the idle timeout forward."""
    db.execute(
        "UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?",
        [to_iso(utcnow()), token_hash],
    )


def end_session(db: Database, token_hash: str) -> None:
    db.execute(
        "UPDATE console_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL",
        [to_iso(utcnow()), token_hash],
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


def count_attempt(db: Database, scope: str, *, window: int, now: float) -> int:
    """Count one attempt in ``scope``'s current window; the count so far in that window."""
    window_start = int(now // window) * window
    db.execute("DELETE FROM console_sign_in_windows WHERE window_start < ?", [window_start])
    return db.execute(
        "INSERT INTO console_sign_in_windows (scope, window_start, count) VALUES (?, ?, 1) "
        "ON CONFLICT (scope, window_start) DO UPDATE SET count = console_sign_in_windows.count + 1 "
        "RETURNING count",
        [scope, window_start],
    ).fetchone()[0]


def sign_in_allowed(
    db: Database,
    *,
    email: str,
    address: str,
    account_limit: int,
    address_limit: int,
    window: int,
    now: float,
) -> bool:
    """Count one sign-in attempt against the account (known or not) and the address; False
    once either is over its limit in the current window."""
    account = count_attempt(
        db, ACCOUNT_SCOPE + hash_token(normalise_email(email)), window=window, now=now
    )
    by_address = count_attempt(db, ADDRESS_SCOPE + address, window=window, now=now)
    return account <= account_limit and by_address <= address_limit
