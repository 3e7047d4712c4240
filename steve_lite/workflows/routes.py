"""Workflow discovery routes."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromPath, FromQuery

from steve_lite.db import Database
from steve_lite.errors import NotFound
from steve_lite.http import reference as docs
from steve_lite.http.openapi import problem_responses
from steve_lite.pagination import page, paginate
from steve_lite.security.api_keys import ApiKey
from steve_lite.workflows import service
from steve_lite.workflows.schemas import WorkflowPage, WorkflowSummary, WorkflowVersionJson


def summary_json(db: Database, workflow: dict[str, Any]) -> dict[str, Any]:
    slug, version = workflow["slug"], workflow["published_version"]
    definition = service.get_definition(db, workflow["id"], version)
    assert definition is not None
    return {
        "id": workflow["id"],
        "slug": slug,
        "name": workflow["name"],
        "description": workflow["description"],
        "icon": workflow["icon"],
        "color": workflow["color"],
        "publishedVersion": version,
        "contractUrl": f"/api/v1/workflows/{slug}/versions/{version}",
        "upload": definition.upload_json,
    }


@get(
    "/workflows",
    tags=[docs.WORKFLOWS],
    summary="List your workflows",
    description=docs.LIST_WORKFLOWS,
    responses=problem_responses(),
)
async def list_workflows(
    request: Request[ApiKey, Any, Any],
    limit: FromQuery[int | None] = None,
    cursor: FromQuery[str | None] = None,
) -> WorkflowPage:
    """Workflows assigned to the key's company, by slug."""
    db, company_id = request.app.state.db, request.user.company
    cache = request.app.state.cache
    summaries = [summary_json(db, row) for row in service.assigned_workflows(db, cache, company_id)]
    rows, next_cursor = paginate(
        db,
        scope=f"workflows:{company_id}",
        limit=limit,
        cursor=cursor,
        fetch=lambda after, n: [s for s in summaries if after is None or s["slug"] > after][:n],
        position=lambda summary: summary["slug"],
    )
    return page(rows, next_cursor)  # type: ignore[return-value]


def assigned_or_404(request: Request[ApiKey, Any, Any], slug: str) -> dict[str, Any]:
    state = request.app.state
    workflow = service.find_assigned(state.db, state.cache, slug, request.user.company)
    if workflow is None:
        raise NotFound(f"workflow {slug!r} not found")
    return workflow


@get(
    "/workflows/{slug:str}",
    tags=[docs.WORKFLOWS],
    summary="Get a workflow",
    description=docs.GET_WORKFLOW,
    responses=problem_responses(404),
)
async def get_workflow(request: Request[ApiKey, Any, Any], slug: FromPath[str]) -> WorkflowSummary:
    """The summary of the published version."""
    workflow = assigned_or_404(request, slug)
    return summary_json(request.app.state.db, workflow)  # type: ignore[return-value]


MAX_VERSION = 2**63 - 1  # the largest SQLite integer: anything above cannot be looked up


@get(
    "/workflows/{slug:str}/versions/{version:int}",
    tags=[docs.WORKFLOWS],
    summary="Get a workflow version's contract",
    description=docs.GET_WORKFLOW_VERSION,
    responses=problem_responses(404),
)
async def get_workflow_version(
    request: Request[ApiKey, Any, Any], slug: FromPath[str], version: FromPath[int]
) -> WorkflowVersionJson:
    """The immutable contract of one version."""
    workflow = assigned_or_404(request, slug)
    definition = (
        service.get_definition(request.app.state.db, workflow["id"], version)
        if 1 <= version <= MAX_VERSION
        else None
    )
    if definition is None:
        raise NotFound(f"workflow {slug!r} has no version {version}")
    data = definition.model_dump(by_alias=True)
    return {
        "workflow": {
            "id": workflow["id"],
            "slug": slug,
            "name": data["name"],
            "description": data["description"],
            "icon": data["icon"],
            "color": data["color"],
        },
        "version": version,
        "upload": definition.upload_json,
        "outputSchema": data["outputSchema"],
        "outputJsonSchema": data["outputJsonSchema"],
    }


ROUTES = [list_workflows, get_workflow, get_workflow_version]
