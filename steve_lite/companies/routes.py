"""Company routes."""

from __future__ import annotations

from typing import Any, TypedDict

from litestar import Request, get
from litestar.params import FromQuery

from steve_lite.companies import service
from steve_lite.http import reference as docs
from steve_lite.http.openapi import problem_responses
from steve_lite.pagination import Pagination, page, paginate
from steve_lite.security.api_keys import ApiKey


class CompanyJson(TypedDict):
    id: str
    name: str
    slug: str
    createdAt: str


class CompanyPage(TypedDict):
    data: list[CompanyJson]
    pagination: Pagination


def company_json(row: dict[str, Any]) -> CompanyJson:
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "createdAt": row["created_at"],
    }


@get(
    "/companies",
    opt={"legacy_keys": True},
    tags=[docs.COMPANIES],
    summary="List companies",
    description=docs.LIST_COMPANIES,
    responses=problem_responses(),
)
async def list_companies(
    request: Request[ApiKey, Any, Any],
    limit: FromQuery[int | None] = None,
    cursor: FromQuery[str | None] = None,
) -> CompanyPage:
    """The key's own company; every active company for a legacy key. Oldest first."""
    db = request.app.state.db
    company_id = request.user.company_id
    rows, next_cursor = paginate(
        db,
        scope=f"companies:{company_id or 'all'}",
        limit=limit,
        cursor=cursor,
        fetch=lambda after, n: service.list_companies(db, only_id=company_id, after=after, limit=n),
        position=lambda row: row["id"],
    )
    return page([company_json(row) for row in rows], next_cursor)  # type: ignore[return-value]


ROUTES = [list_companies]
