"""Every ``/api/v1`` route against every kind of caller, the routes read from the OpenAPI document.

For each operation the server publishes: no key is 401 ``unauthorized``, a revoked key is 403
``forbidden``, a legacy key (no company) is 403 ``key-not-company-scoped`` except on the three
routes the contract allows it, and another company's ids are 404 ``not-found`` on every route
that takes one, while the owner's key gets past the lookup with the same request (so the 404
is about ownership, not a malformed request). A route added without an entry in ``ROUTES``
fails the test.

Key comparison is timing-safe by construction, not by a constant-time compare: the plaintext is
never compared with anything. The middleware hashes the presented key (SHA-256, whose running
time does not depend on the key's content) and looks the hash up with one equality probe of a
UNIQUE index. What an attacker controls is the plaintext; how far a lookup walks the B-tree
depends on the hash, and learning bytes of a stored hash does not yield a key (that needs a
SHA-256 preimage). The tests below check that structure on the real server: the SQL it runs
for an authenticated request, never the plaintext, and a query plan that is an index search.
"""

from __future__ import annotations

import inspect
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from steve_lite import db as database
from steve_lite.security import api_keys, auth
from steve_lite.security.api_keys import create_key, hash_key, revoke_key
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.wiring import build_api
from steve_lite.workflows.service import unassign
from tests.support.api import LiveApi, Tenant, make_settings, make_tenant, open_database
from tests.support.problems import assert_problem
from tests.support.processing import processed_session
from tests.support.servers import ThreadedServer
from tests.support.uploads import create_body

SLUG = "compliance-vm"  # the owner's workflow; the other company does not have it
LEGACY_ALLOWED = {
    ("GET", "/api/v1/companies"),
    ("GET", "/api/v1/jobs/{session_id}"),
    ("POST", "/api/v1/webhooks/test"),
}


@dataclass(frozen=True)
class Route:
    """How to call one operation: a body that passes validation, so that only the caller's
    identity decides the outcome."""

    body: dict[str, Any] | None = None

    def json(self) -> dict[str, Any] | None:
        if self.body is None or "fileCount" not in self.body:
            return self.body
        # A fresh idempotency key per call: a replay would not show anything about the caller.
        return {**self.body, "clientSubmissionId": f"m-{uuid.uuid4().hex}"}


CREATE = Route(create_body(1))
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v1/companies"): Route(),
    ("GET", "/api/v1/workflows"): Route(),
    ("GET", "/api/v1/workflows/{slug}"): Route(),
    ("GET", "/api/v1/workflows/{slug}/versions/{version}"): Route(),
    ("POST", "/api/v1/workflows/{slug}/sessions"): CREATE,
    ("POST", "/api/v1/workflows/{slug}/sessions/{session_id}/submit"): Route(),
    ("POST", "/api/v1/ocr/sessions"): CREATE,
    ("POST", "/api/v1/ocr/sessions/{session_id}/submit"): Route(),
    ("POST", "/api/v1/compliance/sessions"): CREATE,
    ("POST", "/api/v1/compliance/sessions/{session_id}/submit"): Route(),
    ("GET", "/api/v1/jobs/{session_id}"): Route(),
    ("GET", "/api/v1/submissions"): Route(),
    ("GET", "/api/v1/submissions/{submission_id}"): Route(),
    ("PATCH", "/api/v1/submissions/{submission_id}"): Route({"extractedData": {"compliant": True}}),
    ("POST", "/api/v1/submissions/{submission_id}/approve"): Route({"note": "matrix"}),
    ("POST", "/api/v1/submissions/{submission_id}/reject"): Route({"reason": "matrix"}),
    ("POST", "/api/v1/submissions/{submission_id}/cancel"): Route({"reason": "matrix"}),
    ("GET", "/api/v1/submissions/{submission_id}/fraud-matches"): Route(),
    (
        "POST",
        "/api/v1/submissions/{submission_id}/fraud-matches/{match_id}/resolve",
    ): Route({"resolution": "false_positive"}),
    ("POST", "/api/v1/webhooks/test"): Route({"webhookUrl": "https://127.0.0.1/refused"}),
}


@dataclass
class Matrix:
    api: LiveApi
    owner: Tenant
    other: Tenant
    ids: dict[str, str]
    operations: list[tuple[str, str]]

    def url(self, path: str) -> str:
        if path.startswith("/api/v1/ocr/"):  # a session must belong to the path's workflow
            return path.format(session_id=self.ids["ocr_session_id"])
        return path.format(**self.ids)

    def call(self, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
        with self.api.client() as client:
            return client.request(
                method, self.url(path), json=ROUTES[(method, path)].json(), headers=headers
            )


@pytest.fixture(scope="module")
def matrix(live_api: LiveApi) -> Matrix:
    """The owner's company with two processed submissions over one photo (both in review, the
    second with a fraud match) and a pending ``document-ocr`` session; another company with
    every workflow but the owner's."""
    owner, other = live_api.tenant(), live_api.tenant()
    assert unassign(live_api.db, SLUG, other.company["id"])
    processed_session(live_api, owner)
    session = processed_session(live_api, owner)
    match_id = live_api.db.execute(
        "SELECT id FROM fraud_matches WHERE submission_id = ?", [session["submissionId"]]
    ).fetchone()[0]
    with live_api.client(owner) as client:
        ocr = client.post("/api/v1/ocr/sessions", json=create_body(1)).json()
    ids = {
        "ocr_session_id": ocr["sessionId"],
        "slug": SLUG,
        "version": "1",
        "session_id": session["sessionId"],
        "submission_id": session["submissionId"],
        "match_id": match_id,
    }
    with live_api.client() as client:
        document = client.get("/openapi.json").json()
    operations = sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
    )
    return Matrix(live_api, owner, other, ids, operations)


def test_every_published_route_is_in_the_matrix(matrix: Matrix) -> None:
    assert set(matrix.operations) == set(ROUTES)
    assert len(matrix.operations) == 20


def test_no_key_is_401_on_every_route(matrix: Matrix) -> None:
    for method, path in matrix.operations:
        assert_problem(matrix.call(method, path, {}), 401, "unauthorized")
        malformed = {"Authorization": "Bearer aok_" + "G" * 64}
        assert_problem(matrix.call(method, path, malformed), 401, "unauthorized")


def test_revoked_key_is_403_on_every_route(matrix: Matrix) -> None:
    revoked = make_tenant(matrix.api.db)
    assert revoke_key(matrix.api.db, revoked.key_id)
    for method, path in matrix.operations:
        assert_problem(matrix.call(method, path, revoked.headers), 403, "forbidden")


def test_legacy_key_is_refused_except_on_three_routes(matrix: Matrix) -> None:
    _, key = create_key(matrix.api.db, company_id=None, name="legacy")
    headers = {"Authorization": f"Bearer {key}"}
    for method, path in matrix.operations:
        response = matrix.call(method, path, headers)
        if (method, path) in LEGACY_ALLOWED:
            assert response.status_code != 403, (method, path, response.text)
        else:
            assert_problem(response, 403, "key-not-company-scoped")
    jobs = matrix.call("GET", "/api/v1/jobs/{session_id}", headers)
    assert_problem(jobs, 404, "not-found")  # the legacy key did not create the session
    assert matrix.call("GET", "/api/v1/companies", headers).status_code == 200


def test_another_companys_ids_are_404_on_every_route_that_takes_one(matrix: Matrix) -> None:
    # ``/compliance/sessions`` names the owner's workflow by its path.
    id_routes = [
        (method, path)
        for method, path in matrix.operations
        if "{" in path or path == "/api/v1/compliance/sessions"
    ]
    assert len(id_routes) == 15
    for method, path in id_routes:
        assert_problem(matrix.call(method, path, matrix.other.headers), 404, "not-found")
    # The same requests with the owner's key get past the lookup (run after, since some change
    # state): the 404 above is about whose ids they are.
    for method, path in id_routes:
        response = matrix.call(method, path, matrix.owner.headers)
        assert response.status_code != 404, (method, path, response.text)
        assert response.status_code < 500, (method, path, response.text)


def test_lists_hold_only_the_callers_company(matrix: Matrix) -> None:
    with matrix.api.client(matrix.other) as client:
        submissions = client.get("/api/v1/submissions", params={"limit": 100}).json()["data"]
        workflows = client.get("/api/v1/workflows").json()["data"]
        filtered = client.get("/api/v1/submissions", params={"workflow": SLUG}).json()["data"]
    assert matrix.ids["submission_id"] not in {item["id"] for item in submissions}
    assert SLUG not in {workflow["slug"] for workflow in workflows}
    assert filtered == []
    with matrix.api.client(matrix.owner) as client:
        own = client.get("/api/v1/submissions", params={"limit": 100}).json()["data"]
    assert matrix.ids["submission_id"] in {item["id"] for item in own}


# ---------------------------------------------------------------- timing-safe key lookup


@pytest.fixture
def traced_api(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[tuple[str, Tenant, list[str], sqlite3.Connection]]:
    """A server whose database connection records every statement, values expanded."""
    settings = make_settings(tmp_path_factory.mktemp("traced"))
    tenant = make_tenant(open_database(settings))
    db = database.connect(settings.database_path)  # SQLite whatever the backend: its trace hook
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    storage = embedded_s3.storage(bucket=f"test-{uuid.uuid4().hex[:20]}")
    server = ThreadedServer(build_api(settings, storage, db=db)).start()
    try:
        yield server.url, tenant, statements, db.conn
    finally:
        server.stop()


@pytest.mark.sqlite_only  # the statements are read from SQLite's trace hook
def test_the_plaintext_key_is_never_compared_only_its_hash_is_looked_up(
    traced_api: tuple[str, Tenant, list[str], sqlite3.Connection],
) -> None:
    url, tenant, statements, conn = traced_api
    wrong = "aok_" + hash_key(tenant.key)[:64]  # well formed, unknown
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/api/v1/workflows", headers=tenant.headers).status_code == 200
        refused = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status_code == 401
    assert not [s for s in statements if tenant.key in s or wrong in s]
    lookups = [s for s in statements if "FROM api_keys" in s and "key_hash =" in s]
    assert len(lookups) == 2
    assert f"k.key_hash = '{hash_key(tenant.key)}'" in lookups[0]
    assert f"k.key_hash = '{hash_key(wrong)}'" in lookups[1]
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM api_keys k WHERE k.key_hash = ?", ["0" * 64]
    ).fetchall()
    assert any("SEARCH k USING" in row[3] and "INDEX" in row[3] for row in plan), plan


def test_the_key_lookup_takes_a_hash_and_the_middleware_passes_one() -> None:
    """The code path, not only its effect: ``find_key`` takes ``key_hash``, and the middleware
    gives it ``hash_key(token)`` (or finds that hash in its cache); nothing in it compares
    tokens."""
    assert list(inspect.signature(api_keys.find_key).parameters) == ["db", "key_hash"]
    source = inspect.getsource(auth.ApiKeyMiddleware)
    assert "key_hash = hash_key(token)" in source
    assert "find_key(db, key_hash)" in source
    assert "token ==" not in source and "== token" not in source
