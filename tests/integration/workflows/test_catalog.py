"""System workflow revisions on real SQLite files: fresh installs, upgrades, operators' versions."""

from __future__ import annotations

from pathlib import Path

from steve_lite import db as database
from steve_lite.clock import now_iso
from steve_lite.db import Database, split_statements
from steve_lite.workflows.service import (
    get_workflow,
    install_system_workflows,
    publish,
    system_catalog,
)

SYSTEM = ["compliance-vm", "document-ocr", "receipt-ocr"]


def versions(db: Database, slug: str) -> list[tuple[int, int | None]]:
    workflow = get_workflow(db, slug)
    assert workflow is not None
    rows = db.execute(
        "SELECT version, system_revision FROM workflow_versions WHERE workflow_id = ? "
        "ORDER BY version",
        [workflow["id"]],
    )
    return [(row[0], row[1]) for row in rows]


def published(db: Database, slug: str) -> int | None:
    workflow = get_workflow(db, slug)
    assert workflow is not None
    return workflow["published_version"]


def install_before_revisions(path: Path) -> Database:
    """A data directory as steve-lite made it before migration 0007: revision 1 as version 1."""
    db = database.connect(path)
    db.execute(
        "CREATE TABLE schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for number, name, sql in database.migration_files():
        if number >= 7:
            break
        for statement in split_statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [number, name, now_iso()])
    for entry in system_catalog():
        if entry.revision != 1:
            continue
        workflow_id = f"wf_{entry.definition.slug}"
        db.execute(
            "INSERT INTO workflows (id, slug, name, is_system, published_version, created_at, "
            "updated_at) VALUES (?, ?, ?, 1, 1, ?, ?)",
            [workflow_id, entry.definition.slug, entry.definition.name, now_iso(), now_iso()],
        )
        db.execute(
            "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) "
            "VALUES (?, 1, ?, ?)",
            [workflow_id, entry.definition.model_dump_json(by_alias=True), now_iso()],
        )
    db.conn.commit()
    return db


def test_a_fresh_install_stores_every_revision_and_publishes_the_latest(db: Database) -> None:
    for slug in SYSTEM:
        assert versions(db, slug) == [(1, 1), (2, 2)]
        assert published(db, slug) == 2
    assert install_system_workflows(db) == []


def test_an_upgrade_publishes_revision_2_as_version_2(tmp_path: Path) -> None:
    db = install_before_revisions(tmp_path / "old.db")

    database.migrate(db)
    installed = install_system_workflows(db)

    assert installed == SYSTEM
    for slug in SYSTEM:
        assert versions(db, slug) == [(1, 1), (2, 2)]
        assert published(db, slug) == 2


def test_an_operators_published_version_stays_published(tmp_path: Path) -> None:
    db = install_before_revisions(tmp_path / "old.db")
    database.migrate(db)
    own = next(e.definition for e in system_catalog() if e.definition.slug == "document-ocr")
    # The operator's version 2, published before the upgrade brought revision 2.
    publish(db, own.model_copy(update={"name": "Our OCR"}))

    install_system_workflows(db)

    assert versions(db, "document-ocr") == [(1, 1), (2, None), (3, 2)]
    assert published(db, "document-ocr") == 2
