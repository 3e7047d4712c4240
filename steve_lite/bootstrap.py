"""Preparing a data directory: migrations, system workflows and the first-run demo company."""

from __future__ import annotations

from dataclasses import dataclass

from steve_lite.companies.service import create_company, get_company
from steve_lite.db import Database, migrate
from steve_lite.security.api_keys import create_key
from steve_lite.workflows.service import assign_all_system, install_system_workflows

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoKey:
    """The key created on the first run, to be printed once."""

    key_id: str
    plaintext: str


def prepare_database(db: Database) -> None:
    """Apply migrations and install the system workflows (idempotent)."""
    migrate(db)
    install_system_workflows(db)


def create_demo_company(db: Database) -> DemoKey | None:
    """On the first run: a ``demo`` company with every system workflow and one new key."""
    if get_company(db, DEMO_SLUG) is not None:
        return None
    company = create_company(db, "Demo", DEMO_SLUG)
    assign_all_system(db, company["id"])
    row, plaintext = create_key(db, company_id=company["id"], name="demo")
    return DemoKey(key_id=row["id"], plaintext=plaintext)
