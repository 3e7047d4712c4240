"""ReadCache on a real migrated database: which changes move the generation, which do not."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from steve_lite.companies.service import deactivate_company
from steve_lite.db import Database
from steve_lite.read_cache import ReadCache
from steve_lite.security.api_keys import (
    ApiKey,
    create_key,
    find_key,
    hash_key,
    revoke_key,
    touch_key,
)
from steve_lite.workflows.service import assign, unassign
from tests.support.api import Tenant, make_tenant


def generation(db: Database) -> int:
    return int(db.execute("SELECT value FROM cache_generation").fetchone()[0])


@pytest.mark.parametrize(
    ("change", "moves"),
    [
        (lambda db, t: revoke_key(db, t.key_id), True),
        (lambda db, t: deactivate_company(db, t.company["slug"]), True),
        (lambda db, t: unassign(db, "receipt-ocr", t.company["id"]), True),
        (lambda db, t: touch_key(db, key_of(db, t), time.time()), False),
        (lambda db, t: create_key(db, company_id=t.company["id"]), False),
    ],
    ids=["revoke", "deactivate", "unassign", "last-used", "new-key"],
)
def test_what_moves_the_generation(
    db: Database, change: Callable[[Database, Tenant], object], moves: bool
) -> None:
    tenant = make_tenant(db)
    before = generation(db)
    change(db, tenant)
    assert (generation(db) != before) is moves


def key_of(db: Database, tenant: Tenant) -> ApiKey:
    key = find_key(db, hash_key(tenant.key))
    assert key is not None
    return key


def test_assigning_moves_the_generation(db: Database) -> None:
    tenant = make_tenant(db, workflows=False)
    before = generation(db)
    assign(db, "document-ocr", tenant.company["id"])
    assert generation(db) == before + 1


def test_the_cache_holds_until_the_generation_moves(db: Database) -> None:
    cache = ReadCache(db)
    loads: list[str] = []

    def load() -> str:
        loads.append("load")
        return f"value {len(loads)}"

    cache.refresh()
    assert cache.get("k", load) == "value 1"
    cache.refresh()
    assert cache.get("k", load) == "value 1"
    assert loads == ["load"]
    tenant = make_tenant(db)
    revoke_key(db, tenant.key_id)
    cache.refresh()
    assert cache.get("k", load) == "value 2"


def test_misses_are_not_kept(db: Database) -> None:
    cache = ReadCache(db)
    cache.refresh()
    calls: list[None] = []

    def load() -> None:
        calls.append(None)

    assert cache.get("unknown", load) is None
    assert cache.get("unknown", load) is None
    assert len(calls) == 2
