"""POST /api/v1/workflows/{slug}/sessions and the wrappers."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest

from steve_lite.clock import parse_iso, utcnow
from steve_lite.workflows.service import unassign
from tests.support.api import LiveApi
from tests.support.uploads import create_body


def test_create_answers_the_contract_shape(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    body = create_body(2, metadata={"store": "42", "visit": {"n": 3}}, externalUser={"id": "u1"})
    with live_api.client(tenant) as client:
        response = client.post("/api/v1/workflows/document-ocr/sessions", json=body)
    assert response.status_code == 201
    data = response.json()
    assert data["sessionId"].startswith("ses_") and len(data["sessionId"]) >= 4 + 20
    assert data["submissionId"].startswith("sub_")
    assert data["state"] == "pending" and data["submissionStatus"] == "created"
    assert data["workflow"] == {"slug": "document-ocr", "version": 2}
    assert response.headers["x-ratelimit-limit"] == "60"
    urls = data["uploadUrls"]
    assert [u["fileIndex"] for u in urls] == [0, 1]
    for entry in urls:
        assert entry["method"] == "PUT"
        assert entry["label"] == "page"
        assert entry["contentType"] == "image/jpeg"
        assert entry["headers"] == {"Content-Type": "image/jpeg"}
        assert "X-Amz-Signature=" in entry["uploadUrl"]
        path = urlsplit(entry["uploadUrl"]).path
        assert path.endswith(f"/sessions/{data['sessionId']}/{entry['fileIndex']}")
        assert tenant.company["id"] in path
        assert entry["r2Url"].endswith(path) and "Signature" not in entry["r2Url"]
    now = utcnow()
    assert 1790 <= (parse_iso(data["expiresAt"]) - now).total_seconds() <= 1800
    assert 890 <= (parse_iso(data["uploadUrlsExpireAt"]) - now).total_seconds() <= 900
    row = live_api.db.execute(
        "SELECT s.state, s.workflow_version, sub.status FROM sessions s "
        "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
        [data["sessionId"]],
    ).fetchone()
    assert tuple(row) == ("pending", 2, "created")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fileCount": 0}, "fileCount"),
        ({"fileCount": 21, "contentTypes": ["image/png"] * 21}, "fileCount"),
        ({"fileCount": "abc"}, "fileCount"),
        ({"fileCount": None}, "fileCount"),
        ({"fileCount": 2}, "contentTypes"),
        ({"contentTypes": "image/png"}, "contentTypes"),
        ({"contentTypes": ["image/gif"]}, "contentTypes[0]"),
        ({"contentTypes": ["image/webp"]}, "contentTypes[0]"),
        ({"clientSubmissionId": ""}, "clientSubmissionId"),
        ({"clientSubmissionId": "x" * 129}, "clientSubmissionId"),
        ({"clientSubmissionId": 5}, "clientSubmissionId"),
        ({"webhookUrl": "http://example.com/hook"}, "webhookUrl"),
        ({"webhookUrl": "https://127.0.0.1/hook"}, "webhookUrl"),
        ({"webhookUrl": "https://10.0.0.5/hook"}, "webhookUrl"),
        ({"webhookUrl": "https://foo.internal/hook"}, "webhookUrl"),
        ({"metadata": {"big": "x" * 4100}}, "metadata"),
        ({"metadata": {"a": {"b": {"c": 1}}}}, "metadata"),
        ({"metadata": {"a": None}}, "metadata"),
        ({"metadata": {"a": [1, 2]}}, "metadata"),
        ({"metadata": "text"}, "metadata"),
        ({"externalUser": {"email": "not-an-email"}}, "externalUser.email"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    live_api: LiveApi, changes: dict, field: str
) -> None:
    tenant = live_api.tenant()
    body = {**create_body(1, "image/png"), **changes}
    with live_api.client(tenant) as client:
        response = client.post("/api/v1/workflows/document-ocr/sessions", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/validation-error")
    assert field in [error["field"] for error in problem["errors"]]
    assert (
        live_api.db.execute(
            "SELECT COUNT(*) FROM sessions WHERE api_key_id = ?", [tenant.key_id]
        ).fetchone()[0]
        == 0
    )


def test_missing_fields_are_each_named(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        response = client.post("/api/v1/workflows/document-ocr/sessions", json={})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"fileCount", "contentTypes", "clientSubmissionId"}


def test_bodies_that_are_not_json_objects_are_400(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    url = "/api/v1/workflows/document-ocr/sessions"
    with live_api.client(tenant) as client:
        for content in (b"{not json", b"[1, 2]", b'"text"', b""):
            response = client.post(
                url, content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, content
            assert response.json()["type"].endswith("/bad-request")
        huge = client.post(url, json={**create_body(), "metadata": {"x": "y" * 70_000}})
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"


def test_unknown_fields_are_ignored_and_valid_extras_kept(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    body = create_body(
        1,
        surprise=True,
        webhookUrl="https://hooks.example.com/steve",
        externalUser={"id": "u-1", "name": "Ann", "email": "ann@example.com"},
    )
    with live_api.client(tenant) as client:
        response = client.post("/api/v1/workflows/receipt-ocr/sessions", json=body)
    assert response.status_code == 201
    assert response.json()["uploadUrls"][0]["label"] == "receipt"


def test_unassigned_and_unknown_workflows_are_404(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    unassign(live_api.db, "receipt-ocr", tenant.company["id"])
    with live_api.client(tenant) as client:
        for slug in ("receipt-ocr", "nope"):
            response = client.post(f"/api/v1/workflows/{slug}/sessions", json=create_body())
            assert response.status_code == 404


def test_replay_returns_same_ids_and_fresh_urls(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    body = create_body(2)
    url = "/api/v1/workflows/document-ocr/sessions"
    with live_api.client(tenant) as client:
        first = client.post(url, json=body)
        time.sleep(1.1)  # presigned URLs carry a signing time to the second
        replay = client.post(url, json={**body, "metadata": {"ignored": "on replay"}})
        different = client.post(url, json={**body, "fileCount": 1, "contentTypes": ["image/jpeg"]})
        other_key = live_api.tenant()
        elsewhere = client.post(url, json=body, headers=other_key.headers)
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json()["sessionId"] == first.json()["sessionId"]
    assert replay.json()["submissionId"] == first.json()["submissionId"]
    assert replay.json()["uploadUrls"][0]["uploadUrl"] != first.json()["uploadUrls"][0]["uploadUrl"]
    assert different.status_code == 409
    assert different.json()["type"].endswith("/conflict")
    assert first.json()["sessionId"] in different.json()["detail"]
    assert "pending" in different.json()["detail"]
    assert elsewhere.status_code == 201
    assert elsewhere.json()["sessionId"] != first.json()["sessionId"]


def test_twenty_concurrent_identical_creates_make_one_session(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    body = create_body(3)
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(20)

    def create() -> None:
        with live_api.client(tenant) as client:
            barrier.wait()
            response = client.post("/api/v1/workflows/document-ocr/sessions", json=body)
            results.append((response.status_code, response.json()["sessionId"]))

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert sorted(code for code, _ in results) == [200] * 19 + [201]
    assert len({session for _, session in results}) == 1
    count = live_api.db.execute(
        "SELECT COUNT(*) FROM sessions WHERE api_key_id = ?", [tenant.key_id]
    ).fetchone()[0]
    assert count == 1


def test_wrappers_reach_their_workflows(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        ocr = client.post("/api/v1/ocr/sessions", json=create_body(1))
        compliance = client.post("/api/v1/compliance/sessions", json=create_body(1))
    assert ocr.status_code == compliance.status_code == 201
    assert ocr.json()["workflow"]["slug"] == "document-ocr"
    assert compliance.json()["workflow"]["slug"] == "compliance-vm"
    assert compliance.json()["uploadUrls"][0]["label"] == "photo"
