"""Reviewer accounts: one company each, a password set through a one-time link, argon2 hashes.

The CLI adds, lists, disables and resets accounts; the console signs reviewers in. Link tokens
are random (256 bits) and stored as their SHA-256, so the database never holds one that works.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from steve_lite.clock import now_iso, to_iso, utcnow
from steve_lite.db import Database, transaction
from steve_lite.ids import new_id

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
HASHER = PasswordHasher()
# Verified against when the account is unknown, so that both answers take as long.
DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


class AccountError(Exception):
    """A reviewer command that cannot be done; the message says why."""


@dataclass(frozen=True)
class Reviewer:
    """A signed-in reviewer: who, and which company's submissions they see."""

    id: str
    email: str
    company_id: str
    company_slug: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def add_reviewer(db: Database, company_id: str, email: str) -> dict[str, Any]:
    """Create an account without a password; 409-like :class:`AccountError` when taken."""
    email = normalise_email(email)
    if not EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    with transaction(db):
        if db.execute("SELECT 1 FROM reviewers WHERE email = ?", [email]).fetchone():
            raise AccountError(f"a reviewer {email} already exists")
        row = {
            "id": new_id("rvw"),
            "company_id": company_id,
            "email": email,
            "password_hash": None,
            "created_at": now_iso(),
            "password_set_at": None,
            "disabled_at": None,
        }
        db.insert("reviewers", row)
    return row


def find_reviewer(db: Database, email: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT r.*, c.slug AS company_slug FROM reviewers r "
        "JOIN companies c ON c.id = r.company_id WHERE r.email = ?",
        [normalise_email(email)],
    ).fetchone()
    if row is None:
        raise AccountError(f"no reviewer {normalise_email(email)}")
    return dict(row)


def list_reviewers(db: Database, company_id: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT r.*, c.slug AS company_slug, "
        "(SELECT MAX(last_seen_at) FROM console_sessions s WHERE s.reviewer_id = r.id) "
        "AS last_seen_at FROM reviewers r JOIN companies c ON c.id = r.company_id"
    )
    params: list[Any] = []
    if company_id is not None:
        sql += " WHERE r.company_id = ?"
        params.append(company_id)
    return [dict(row) for row in db.execute(sql + " ORDER BY r.email", params)]


def end_sessions(db: Database, reviewer_id: str) -> None:
    """Sign the reviewer out everywhere."""
    db.execute(
        "UPDATE console_sessions SET ended_at = ? WHERE reviewer_id = ? AND ended_at IS NULL",
        [now_iso(), reviewer_id],
    )


def disable_reviewer(db: Database, email: str) -> None:
    """No more sign-ins; open console sessions end now; unused links stop working."""
    with transaction(db):
        reviewer = find_reviewer(db, email)
        db.execute(
            "UPDATE reviewers SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?",
            [now_iso(), reviewer["id"]],
        )
        end_sessions(db, reviewer["id"])
        db.execute("DELETE FROM reviewer_links WHERE reviewer_id = ?", [reviewer["id"]])


def issue_link(db: Database, reviewer_id: str, ttl_seconds: int) -> str:
    """A new one-time sign-in token; earlier unused links of the reviewer stop working."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute("DELETE FROM reviewer_links WHERE reviewer_id = ?", [reviewer_id])
    db.insert(
        "reviewer_links",
        {
            "token_hash": hash_token(token),
            "reviewer_id": reviewer_id,
            "created_at": to_iso(now),
            "expires_at": to_iso(now + timedelta(seconds=ttl_seconds)),
            "used_at": None,
        },
    )
    return token


def reset_reviewer(db: Database, email: str, ttl_seconds: int) -> str:
    """Clear the password, end every session, re-enable the account; a new link's token."""
    with transaction(db):
        reviewer = find_reviewer(db, email)
        db.execute(
            "UPDATE reviewers SET password_hash = NULL, password_set_at = NULL, "
            "disabled_at = NULL WHERE id = ?",
            [reviewer["id"]],
        )
        end_sessions(db, reviewer["id"])
        return issue_link(db, reviewer["id"], ttl_seconds)


def link_reviewer(db: Database, token: str) -> dict[str, Any] | None:
    """The enabled reviewer a link token belongs to while it is unused and unexpired."""
    row = db.execute(
        "SELECT r.*, c.slug AS company_slug FROM reviewer_links l "
        "JOIN reviewers r ON r.id = l.reviewer_id JOIN companies c ON c.id = r.company_id "
        "WHERE l.token_hash = ? AND l.used_at IS NULL AND l.expires_at > ? "
        "AND r.disabled_at IS NULL AND c.active = 1",
        [hash_token(token), now_iso()],
    ).fetchone()
    return dict(row) if row else None


def password_problem(password: str, confirmation: str) -> str | None:
    """Why the new password cannot be used, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password may have at most {MAX_PASSWORD_LENGTH} characters"
    if not secrets.compare_digest(password.encode(), confirmation.encode()):
        return "the two passwords differ"
    return None


def hash_password(password: str) -> str:
    """The argon2id hash (argon2-cffi's RFC 9106 low-memory profile). Slow on purpose: call it
    off the event loop."""
    return HASHER.hash(password)


def use_link(db: Database, token: str, password_hash: str) -> Reviewer | None:
    """Spend the link and set the password in one transaction; None when the link is not valid
    any more (used meanwhile, expired, account disabled)."""
    with transaction(db):
        reviewer = link_reviewer(db, token)
        if reviewer is None:
            return None
        now = now_iso()
        db.execute(
            "UPDATE reviewer_links SET used_at = ? WHERE token_hash = ?", [now, hash_token(token)]
        )
        db.execute(
            "UPDATE reviewers SET password_hash = ?, password_set_at = ? WHERE id = ?",
            [password_hash, now, reviewer["id"]],
        )
        end_sessions(db, reviewer["id"])
    return as_reviewer(reviewer)


def as_reviewer(row: dict[str, Any]) -> Reviewer:
    return Reviewer(
        id=row["id"],
        email=row["email"],
        company_id=row["company_id"],
        company_slug=row["company_slug"],
    )


def sign_in_candidate(db: Database, email: str) -> dict[str, Any] | None:
    """The account that may sign in with ``email``: enabled, with a password, active company."""
    row = db.execute(
        "SELECT r.*, c.slug AS company_slug FROM reviewers r "
        "JOIN companies c ON c.id = r.company_id WHERE r.email = ? "
        "AND r.disabled_at IS NULL AND r.password_hash IS NOT NULL AND c.active = 1",
        [normalise_email(email)],
    ).fetchone()
    return dict(row) if row else None


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; without a hash, check against a dummy so both cases cost the same.
    Slow on purpose: call it off the event loop."""
    try:
        HASHER.verify(password_hash or DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None
