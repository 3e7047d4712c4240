"""Conventions of every route: request ids, problem documents, camelCase, CORS, OpenAPI."""

from __future__ import annotations

import logging
import re

import pytest

from steve_lite import __version__
from tests.support.api import LiveApi, make_settings, start_live_api

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$|^\$schema$")


def test_request_id_is_echoed_or_generated(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        echoed = client.get("/api/v1/workflows", headers={"X-Request-Id": "trace-42 abc"})
        generated = client.get("/api/v1/workflows")
        longest = client.get("/api/v1/workflows", headers={"X-Request-Id": "x" * 128})
        too_long = client.get("/api/v1/workflows", headers={"X-Request-Id": "x" * 129})
    assert echoed.headers["request-id"] == "trace-42 abc"
    assert re.fullmatch(r"req_[0-9a-f]{36}", generated.headers["request-id"])
    assert longest.status_code == 200
    assert too_long.status_code == 400
    body = too_long.json()
    assert body["type"].endswith("/bad-request")
    assert "X-Request-Id" in body["detail"]
    assert body["requestId"] == too_long.headers["request-id"] != "x" * 129


def test_unknown_route_and_wrong_method_are_problems(live_api: LiveApi) -> None:
    with live_api.client() as client:
        unknown = client.get("/nope", headers={"X-Request-Id": "abc"})
        wrong = client.delete("/healthz")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json() == {
        "type": "https://docs.steve.openloyalty.io/errors/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no route matches GET /nope",
        "instance": "/nope",
        "requestId": "abc",
    }
    assert wrong.status_code == 405
    assert wrong.json()["type"].endswith("/method-not-allowed")


def test_cors_on_api_routes(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        response = client.get("/api/v1/workflows", headers={"Origin": "https://app.example"})
        preflight = client.options(
            "/api/v1/workflows",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
    assert response.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"])
def test_no_cors_outside_the_api(live_api: LiveApi, path: str) -> None:
    origin = {"Origin": "https://app.example"}
    with live_api.client() as client:
        response = client.get(path, headers=origin)
        preflight = client.options(path, headers={**origin, "Access-Control-Request-Method": "GET"})
    assert response.status_code != 500
    for answer in (response, preflight):
        assert not [h for h in answer.headers if h.startswith("access-control-")], answer.headers


def all_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def test_responses_and_openapi_are_camel_case(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        listing = client.get("/api/v1/workflows").json()
        version = client.get("/api/v1/workflows/receipt-ocr/versions/1").json()
        schema = client.get("/openapi.json").json()
    for key in all_keys(listing) | all_keys(version["workflow"]) | {"outputSchema", *version}:
        assert CAMEL.match(key), key
    properties = {
        name
        for component in schema["components"]["schemas"].values()
        for name in component.get("properties", {})
    }
    assert {"publishedVersion", "contractUrl", "nextCursor", "hasMore"} <= properties
    assert all(CAMEL.match(name) for name in properties), properties
    assert "/api/v1/workflows/{slug}" in schema["paths"]
    assert schema["info"]["version"] == __version__


def test_docs_page_uses_no_cdn(live_api: LiveApi) -> None:
    with live_api.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text.split("<body>")[0]
        scripts = re.findall(r'src="([^"]+)"', page.text)
        assert scripts
        for src in scripts:
            assert src.startswith("/docs/static/")
            assert client.get(src).status_code == 200


def test_health_and_metrics(live_api: LiveApi) -> None:
    with live_api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok", "version": __version__}
        ready = client.get("/readyz")
        metrics = client.get("/metrics")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] is True
    assert "steve_build_info" in metrics.text
    assert "process_start_time_seconds" in metrics.text


def test_unexpected_errors_are_logged_with_the_request_id_and_hidden(
    tmp_path, embedded_s3, caplog: pytest.LogCaptureFixture
) -> None:
    api, server = start_live_api(make_settings(tmp_path), embedded_s3)
    try:
        tenant = api.tenant()
        api.db.execute("DROP TABLE company_workflows")  # a broken database, as a disk might be
        with caplog.at_level(logging.ERROR), api.client(tenant) as client:
            response = client.get("/api/v1/workflows", headers={"X-Request-Id": "boom-1"})
    finally:
        server.stop()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/internal-error")
    assert body["requestId"] == "boom-1"
    assert "Traceback" not in response.text and "company_workflows" not in response.text
    logged = [r for r in caplog.records if r.name == "steve_lite.http"]
    assert logged and logged[0].request_id == "boom-1"
    missing = ("no such table", 'relation "company_workflows" does not exist')  # SQLite, PostgreSQL
    assert any(text in logged[0].exc_text for text in missing), logged[0].exc_text


def test_openapi_describes_every_post_body(live_api: LiveApi) -> None:
    with live_api.client() as client:
        document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    posts = {
        path: item["post"]
        for path, item in document["paths"].items()
        if "post" in item and not path.endswith("/submit")
    }
    assert len(posts) == 8
    for path, operation in posts.items():
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = schemas[ref.rsplit("/", 1)[1]]
        assert schema["properties"], path
        assert all(CAMEL.match(name) for name in schema["properties"]), path
    create = schemas["SessionCreate"]
    assert set(create["required"]) == {"fileCount", "contentTypes", "clientSubmissionId"}
    assert posts["/api/v1/workflows/{slug}/sessions"]["requestBody"]["required"] is True
    assert posts["/api/v1/submissions/{submission_id}/approve"]["requestBody"]["required"] is False
