"""Workflows: immutable numbered versions, one published, assigned to companies."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from steve_lite.clock import now_iso
from steve_lite.db import Database, transaction
from steve_lite.errors import NotFound
from steve_lite.ids import new_id
from steve_lite.read_cache import ReadCache
from steve_lite.workflows.schemas import WorkflowDefinition


@dataclass(frozen=True)
class CatalogEntry:
    """One revision of a system workflow, shipped as ``catalog/SLUG.json`` (revision 1) or
    ``catalog/SLUG.N.json`` (revision N)."""

    revision: int
    definition: WorkflowDefinition


def system_catalog() -> list[CatalogEntry]:
    """Every revision of every system workflow, by slug then revision."""
    catalog = resources.files("steve_lite.workflows.catalog")
    entries = []
    for entry in catalog.iterdir():
        if not entry.name.endswith(".json"):
            continue
        parts = entry.name.removesuffix(".json").split(".")
        revision = int(parts[1]) if len(parts) == 2 else 1
        definition = WorkflowDefinition.model_validate_json(entry.read_text(encoding="utf-8"))
        entries.append(CatalogEntry(revision, definition))
    return sorted(entries, key=lambda e: (e.definition.slug, e.revision))


def system_definitions() -> list[WorkflowDefinition]:
    """The latest revision of each system workflow."""
    latest = {entry.definition.slug: entry.definition for entry in system_catalog()}
    return [latest[slug] for slug in sorted(latest)]


def install_system_workflows(db: Database) -> list[str]:
    """Publish the catalog revisions not yet stored, each as the next version of its workflow;
    return the slugs that got one. A new revision becomes the published version unless an
    operator's own version is published, which stays so."""
    installed = []
    for entry in system_catalog():
        with transaction(db):
            workflow = get_workflow(db, entry.definition.slug)
            if workflow is not None and has_revision(db, workflow["id"], entry.revision):
                continue
            make_published = workflow is None or published_is_system(db, workflow)
            publish(
                db,
                entry.definition,
                system_revision=entry.revision,
                make_published=make_published,
            )
            installed.append(entry.definition.slug)
    return installed


def has_revision(db: Database, workflow_id: str, revision: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM workflow_versions WHERE workflow_id = ? AND system_revision = ?",
        [workflow_id, revision],
    ).fetchone()
    return row is not None


def published_is_system(db: Database, workflow: dict[str, Any]) -> bool:
    """Whether the workflow's published version (if any) came from the system catalog."""
    row = db.execute(
        "SELECT system_revision FROM workflow_versions WHERE workflow_id = ? AND version = ?",
        [workflow["id"], workflow["published_version"]],
    ).fetchone()
    return row is None or row[0] is not None


def publish(
    db: Database,
    definition: WorkflowDefinition,
    *,
    system_revision: int | None = None,
    make_published: bool = True,
) -> dict[str, Any]:
    """Store ``definition`` as the next immutable version of its workflow and (unless
    ``make_published`` is false) publish it."""
    now = now_iso()
    with transaction(db):
        workflow = get_workflow(db, definition.slug)
        if workflow is None:
            workflow = {
                "id": new_id("wf"),
                "slug": definition.slug,
                "is_system": int(system_revision is not None),
                "created_at": now,
                "published_version": 0,
            }
            db.insert(
                "workflows",
                {**workflow, "name": definition.name, "updated_at": now, "published_version": None},
            )
        version = (
            db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM workflow_versions WHERE workflow_id = ?",
                [workflow["id"]],
            ).fetchone()[0]
            + 1
        )
        db.insert(
            "workflow_versions",
            {
                "workflow_id": workflow["id"],
                "version": version,
                "definition": definition.model_dump_json(by_alias=True),
                "created_at": now,
                "system_revision": system_revision,
            },
        )
        if not make_published:
            return {"id": workflow["id"], "slug": definition.slug, "version": version}
        db.execute(
            "UPDATE workflows SET name = ?, description = ?, icon = ?, color = ?, "
            "published_version = ?, updated_at = ? WHERE id = ?",
            [
                definition.name,
                definition.description,
                definition.icon,
                definition.color,
                version,
                now,
                workflow["id"],
            ],
        )
    return {"id": workflow["id"], "slug": definition.slug, "version": version}


def get_workflow(db: Database, slug: str) -> dict[str, Any] | None:
    row = db.execute("SELECT * FROM workflows WHERE slug = ?", [slug]).fetchone()
    return dict(row) if row else None


_definitions: dict[tuple[str, int], WorkflowDefinition] = {}


def get_definition(db: Database, workflow_id: str, version: int) -> WorkflowDefinition | None:
    """The immutable definition of one version (versions never change, so it is cached)."""
    cached = _definitions.get((workflow_id, version))
    if cached is not None:
        return cached
    row = db.execute(
        "SELECT definition FROM workflow_versions WHERE workflow_id = ? AND version = ?",
        [workflow_id, version],
    ).fetchone()
    if row is None:
        return None
    definition = _definitions[(workflow_id, version)] = WorkflowDefinition.model_validate_json(
        row[0]
    )
    return definition


def list_workflows(db: Database) -> list[dict[str, Any]]:
    """Every workflow, with the companies it is assigned to."""
    rows = db.execute(
        "SELECT w.*, (SELECT group_concat(c.slug, ',') FROM company_workflows cw "
        "JOIN companies c ON c.id = cw.company_id WHERE cw.workflow_id = w.id) AS companies "
        "FROM workflows w ORDER BY w.created_at, w.slug"
    )
    return [dict(row) for row in rows]


def assigned_workflows(db: Database, cache: ReadCache, company_id: str) -> list[dict[str, Any]]:
    """:func:`list_assigned`, through the API's read cache."""
    return cache.get(("assigned", company_id), lambda: list_assigned(db, company_id))


def find_assigned(
    db: Database, cache: ReadCache, slug: str, company_id: str
) -> dict[str, Any] | None:
    """The workflow ``slug`` when it is assigned to ``company_id`` and published."""
    return next((w for w in assigned_workflows(db, cache, company_id) if w["slug"] == slug), None)


def assign(db: Database, slug: str, company_id: str) -> None:
    """Let ``company_id`` use workflow ``slug`` (idempotent)."""
    with transaction(db):
        workflow = require_workflow(db, slug)
        db.execute(
            "INSERT OR IGNORE INTO company_workflows (company_id, workflow_id, assigned_at) "
            "VALUES (?, ?, ?)",
            [company_id, workflow["id"], now_iso()],
        )


def unassign(db: Database, slug: str, company_id: str) -> bool:
    """Withdraw workflow ``slug`` from ``company_id``; False when it was not assigned."""
    with transaction(db):
        workflow = require_workflow(db, slug)
        cursor = db.execute(
            "DELETE FROM company_workflows WHERE company_id = ? AND workflow_id = ?",
            [company_id, workflow["id"]],
        )
    return cursor.rowcount == 1


def assign_all_system(db: Database, company_id: str) -> None:
    """Assign every system workflow to ``company_id``."""
    for workflow in list_workflows(db):
        if workflow["is_system"]:
            assign(db, workflow["slug"], company_id)


def require_workflow(db: Database, slug: str) -> dict[str, Any]:
    workflow = get_workflow(db, slug)
    if workflow is None:
        raise NotFound(f"no workflow with slug {slug!r}")
    return workflow


def list_assigned(db: Database, company_id: str) -> list[dict[str, Any]]:
    """Published workflows assigned to ``company_id``, by slug."""
    rows = db.execute(
        "SELECT w.* FROM workflows w JOIN company_workflows cw ON cw.workflow_id = w.id "
        "WHERE cw.company_id = ? AND w.published_version IS NOT NULL ORDER BY w.slug",
        [company_id],
    )
    return [dict(row) for row in rows]
