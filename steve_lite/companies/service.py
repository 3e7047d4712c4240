"""Companies: the tenants whose keys, workflows and submissions are kept apart."""

from __future__ import annotations

import re
from typing import Any

from steve_lite.clock import now_iso
from steve_lite.db import Database, transaction
from steve_lite.errors import Conflict, Invalid, NotFound
from steve_lite.ids import new_id

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def slugify(name: str) -> str:
    """``"Acme Ltd."`` -> ``"acme-ltd"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]


def create_company(db: Database, name: str, slug: str | None = None) -> dict[str, Any]:
    """Create a company; the slug defaults to one made from the name."""
    name = name.strip()
    if not name:
        raise Invalid("company name must not be empty")
    slug = slug or slugify(name)
    if not SLUG_PATTERN.fullmatch(slug):
        raise Invalid(f"invalid slug {slug!r}: use lowercase letters, digits and dashes")
    row = {"id": new_id("co"), "name": name, "slug": slug, "active": 1, "created_at": now_iso()}
    with transaction(db):
        if get_company(db, slug) is not None:
            raise Conflict(f"a company with slug {slug!r} already exists")
        db.insert("companies", row)
    return row


def get_company(db: Database, slug: str) -> dict[str, Any] | None:
    row = db.execute("SELECT * FROM companies WHERE slug = ?", [slug]).fetchone()
    return dict(row) if row else None


def require_company(db: Database, slug: str) -> dict[str, Any]:
    """The company with ``slug``, or :class:`~steve_lite.errors.NotFound`."""
    company = get_company(db, slug)
    if company is None:
        raise NotFound(f"no company with slug {slug!r}")
    return company


def list_companies(
    db: Database,
    *,
    active_only: bool = True,
    only_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Companies ordered by creation (then id); ``after`` is the last id of the previous page.

    ``only_id`` narrows the list to that one company (what a company key may see)."""
    sql = "SELECT * FROM companies WHERE 1 = 1"
    params: list[Any] = []
    if active_only:
        sql += " AND active = 1"
    if only_id is not None:
        sql += " AND id = ?"
        params.append(only_id)
    if after is not None:
        sql += " AND (created_at, id) > (SELECT created_at, id FROM companies WHERE id = ?)"
        params.append(after)
    sql += " ORDER BY created_at, id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [dict(row) for row in db.execute(sql, params)]


def deactivate_company(db: Database, slug: str) -> dict[str, Any]:
    """Deactivate a company: its keys stop working; its data stays."""
    with transaction(db):
        company = require_company(db, slug)
        db.execute("UPDATE companies SET active = 0 WHERE id = ?", [company["id"]])
    return {**company, "active": 0}
