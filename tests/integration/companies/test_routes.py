"""GET /api/v1/companies."""

from __future__ import annotations

import httpx

from steve_lite.companies.service import create_company, deactivate_company
from steve_lite.security.api_keys import create_key
from tests.support.api import LiveApi


def list_all(client: httpx.Client) -> tuple[list[str], dict]:
    """Every page of GET /api/v1/companies (two a page): the slugs and the last page."""
    slugs, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/companies", params=params).json()
        assert len(body["data"]) <= 2
        slugs += [item["slug"] for item in body["data"]]
        cursor = body["pagination"]["nextCursor"]
        if cursor is None:
            return slugs, body


def test_a_company_key_lists_only_its_own_company(live_api: LiveApi) -> None:
    tenant, other = live_api.tenant(), live_api.tenant()
    with live_api.client(tenant) as client:
        slugs, body = list_all(client)
        first_page = client.get("/api/v1/companies", params={"limit": 1}).json()
    assert slugs == [tenant.company["slug"]]
    assert other.company["slug"] not in slugs
    assert body["data"] == [
        {
            "id": tenant.company["id"],
            "name": tenant.company["name"],
            "slug": tenant.company["slug"],
            "createdAt": tenant.company["created_at"],
        }
    ]
    assert first_page["pagination"] == {"hasMore": False, "nextCursor": None}


def test_a_legacy_key_lists_every_active_company_in_pages(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    _, legacy = create_key(live_api.db, company_id=None, name="migration tooling")
    gone = create_company(live_api.db, "Gone Co", f"gone-{tenant.company['slug']}")
    deactivate_company(live_api.db, gone["slug"])
    with httpx.Client(
        base_url=live_api.url, headers={"Authorization": f"Bearer {legacy}"}
    ) as client:
        slugs, body = list_all(client)
    expected = [
        row[0]
        for row in live_api.db.execute(
            "SELECT slug FROM companies WHERE active = 1 ORDER BY created_at, id"
        )
    ]
    assert slugs == expected
    assert tenant.company["slug"] in slugs
    assert gone["slug"] not in slugs
    assert body["data"], "the last page holds the rest of the companies"
    assert set(body["data"][-1]) == {"id", "name", "slug", "createdAt"}
