"""GET /api/v1/companies."""

from __future__ import annotations

from steve_lite.companies.service import create_company, deactivate_company
from tests.support.api import LiveApi


def test_lists_active_companies_in_pages(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    gone = create_company(live_api.db, "Gone Co", "gone-co")
    deactivate_company(live_api.db, "gone-co")
    slugs, cursor = [], None
    with live_api.client(tenant) as client:
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/v1/companies", params=params).json()
            assert len(body["data"]) <= 2
            slugs += [item["slug"] for item in body["data"]]
            cursor = body["pagination"]["nextCursor"]
            if cursor is None:
                break
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
