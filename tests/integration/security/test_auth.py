"""API-key authentication and the company-scope guard, over real HTTP."""

from __future__ import annotations

from steve_lite.security.api_keys import create_key, hash_key, revoke_key
from tests.support.api import LiveApi
from tests.support.waiting import wait_until


def test_missing_key_is_401_problem(live_api: LiveApi) -> None:
    with live_api.client() as client:
        response = client.get("/api/v1/workflows")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://docs.steve.openloyalty.io/errors/unauthorized"
    assert body["status"] == 401
    assert body["instance"] == "/api/v1/workflows"
    assert body["requestId"] == response.headers["request-id"]


def test_malformed_and_unknown_keys_are_401(live_api: LiveApi) -> None:
    with live_api.client() as client:
        for header in (
            "Bearer nope",
            "Bearer aok_" + "A" * 64,
            "Basic aok_" + "a" * 64,
            "Bearer aok_" + "a" * 64,
        ):
            response = client.get("/api/v1/workflows", headers={"Authorization": header})
            assert response.status_code == 401, header
            assert response.json()["type"].endswith("/unauthorized")


def test_revoked_key_is_403_forbidden(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    assert revoke_key(live_api.db, tenant.key_id)
    with live_api.client(tenant) as client:
        response = client.get("/api/v1/workflows")
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_a_key_revoked_after_use_is_refused_at_once(live_api: LiveApi) -> None:
    """The API caches keys it has seen; a revocation by another connection (the CLI) ends that
    at the next request."""
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        assert client.get("/api/v1/workflows").status_code == 200
        assert client.get("/api/v1/workflows").status_code == 200
        assert revoke_key(live_api.db, tenant.key_id)
        response = client.get("/api/v1/workflows")
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_key_of_deactivated_company_is_403(live_api: LiveApi) -> None:
    from steve_lite.companies.service import deactivate_company

    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        assert client.get("/api/v1/workflows").status_code == 200  # the key is now cached
        deactivate_company(live_api.db, tenant.company["slug"])
        response = client.get("/api/v1/workflows")
    assert response.status_code == 403


def test_legacy_key_may_list_companies_only(live_api: LiveApi) -> None:
    _, key = create_key(live_api.db, company_id=None)
    headers = {"Authorization": f"Bearer {key}"}
    with live_api.client() as client:
        assert client.get("/api/v1/companies", headers=headers).status_code == 200
        response = client.get("/api/v1/workflows", headers=headers)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/key-not-company-scoped")


def test_only_the_hash_is_stored_and_last_used_is_recorded(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    stored = live_api.db.execute("SELECT * FROM api_keys WHERE id = ?", [tenant.key_id]).fetchone()
    assert stored["key_hash"] == hash_key(tenant.key)
    assert tenant.key not in [str(value) for value in dict(stored).values()]
    assert stored["last_used_at"] is None
    with live_api.client(tenant) as client:
        assert client.get("/api/v1/workflows").status_code == 200

    def last_used() -> str | None:
        sql = "SELECT last_used_at FROM api_keys WHERE id = ?"
        return live_api.db.execute(sql, [tenant.key_id]).fetchone()[0]

    # Written in the request's group transaction, which may commit just after the answer.
    wait_until(lambda: last_used() is not None, 5, "lastUsedAt written")
    assert last_used().endswith("Z")
