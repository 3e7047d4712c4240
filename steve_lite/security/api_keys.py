"""API keys: ``aok_`` + 64 hex characters; only the SHA-256 hex of the key is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from steve_lite.clock import now_iso, parse_iso
from steve_lite.db import Database, transaction
from steve_lite.ids import new_id

KEY_PATTERN = re.compile(r"aok_[0-9a-f]{64}")


@dataclass
class ApiKey:
    """An authenticated key, as routes and services see it (and the API's cache holds)."""

    id: str
    key_hash: str
    company_id: str | None
    revoked: bool
    company_active: bool
    last_used: float | None  # Unix time of the recorded last use (``last_used_at``)

    @property
    def company(self) -> str:
        """The company of a company-scoped key: on every route not marked ``legacy_keys``, the
        auth middleware has refused keys without one."""
        assert self.company_id is not None, "a legacy key reached a company route"
        return self.company_id


def generate_key() -> str:
    """A new plaintext key from the CSPRNG."""
    return "aok_" + secrets.token_hex(32)


def hash_key(plaintext: str) -> str:
    """The lowercase hex SHA-256 of ``plaintext``: the only form that is stored."""
    return hashlib.sha256(plaintext.encode("ascii")).hexdigest()


def is_well_formed(plaintext: str) -> bool:
    return KEY_PATTERN.fullmatch(plaintext) is not None


def create_key(
    db: Database, *, company_id: str | None, name: str | None = None
) -> tuple[dict[str, Any], str]:
    """Store a new key; return its row and the plaintext (shown once, never stored)."""
    plaintext = generate_key()
    row = {
        "id": new_id("key"),
        "key_hash": hash_key(plaintext),
        "prefix": plaintext[:12],
        "name": name,
        "company_id": company_id,
        "created_at": now_iso(),
        "revoked_at": None,
        "last_used_at": None,
    }
    with transaction(db):
        db.insert("api_keys", row)
    return row, plaintext


def find_key(db: Database, key_hash: str) -> ApiKey | None:
    """Look a key up by its hash (an index lookup, never a scan)."""
    row = db.execute(
        "SELECT k.id, k.key_hash, k.company_id, k.revoked_at, k.last_used_at, "
        "COALESCE(c.active, 1) AS company_active "
        "FROM api_keys k LEFT JOIN companies c ON c.id = k.company_id WHERE k.key_hash = ?",
        [key_hash],
    ).fetchone()
    if row is None:
        return None
    return ApiKey(
        id=row["id"],
        key_hash=row["key_hash"],
        company_id=row["company_id"],
        revoked=row["revoked_at"] is not None,
        company_active=bool(row["company_active"]),
        last_used=parse_iso(row["last_used_at"]).timestamp() if row["last_used_at"] else None,
    )


def touch_key(db: Database, key: ApiKey, now: float) -> None:
    """Record use at most once a minute, so the hot path does not write on every request;
    ``key.last_used`` follows."""
    if key.last_used is not None and now - key.last_used < 60:
        return
    key.last_used = now
    db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [now_iso(), key.id])


def list_keys(db: Database, *, company_id: str | None = None) -> list[dict[str, Any]]:
    """Keys, oldest first, without any secret."""
    sql = (
        "SELECT k.id, k.prefix, k.name, c.slug AS company, k.created_at, k.revoked_at, "
        "k.last_used_at FROM api_keys k LEFT JOIN companies c ON c.id = k.company_id"
    )
    params: list[Any] = []
    if company_id is not None:
        sql += " WHERE k.company_id = ?"
        params.append(company_id)
    return [dict(row) for row in db.execute(sql + " ORDER BY k.created_at, k.id", params)]


def revoke_key(db: Database, key_id: str) -> bool:
    """Revoke ``key_id``; False when no such active key exists."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now_iso(), key_id],
        )
    return cursor.rowcount == 1
