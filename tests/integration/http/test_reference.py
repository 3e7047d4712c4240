"""The API reference in the OpenAPI document and on the docs page: tags in order, a summary and
the rules of every operation, and examples that fit the schemas and the real answers."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from steve_lite.http import reference
from tests.support.api import LiveApi
from tests.support.uploads import create_body, jpeg, put_file

API = "/api/v1/"


@pytest.fixture(scope="module")
def document(live_api: LiveApi) -> dict[str, Any]:
    with live_api.client() as client:
        return client.get("/openapi.json").json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if path.startswith(API) and method in ("get", "post", "patch")
    ]


def expected_bucket(path: str, method: str) -> str:
    if method == "get":
        return "read"
    if path.endswith("/submit"):
        return "submit"
    if path.endswith("/sessions"):
        return "session"
    if path.endswith("/webhooks/test"):
        return "webhook_test"
    return "review"


def test_operations_are_grouped_by_tag_in_the_order_an_integrator_meets_them(
    document: dict[str, Any],
) -> None:
    names = [tag["name"] for tag in document["tags"]]
    assert names[:5] == ["Workflows", "Sessions", "Session shortcuts", "Jobs", "Webhooks"]
    assert names[-1] == "Service"
    used = {tag for _, _, operation in operations(document) for tag in operation["tags"]}
    assert used == set(names) - {"Service"}
    assert all(len(operation["tags"]) == 1 for _, _, operation in operations(document))
    assert document["paths"]["/healthz"]["get"]["tags"] == ["Service"]


def test_every_operation_states_its_status_codes_idempotency_and_rate_bucket(
    document: dict[str, Any],
) -> None:
    found = operations(document)
    assert len(found) == 20
    for path, method, operation in found:
        description = operation["description"]
        assert operation["summary"] and not operation["summary"].startswith("Api"), path
        assert f"**Rate bucket:** `{expected_bucket(path, method)}`" in description, path
        assert "**Idempotency:**" in description and "**Answers:** 20" in description, path
        for status in operation["responses"]:
            if status.startswith("4") and status not in ("400", "401", "403", "429"):
                assert status in description, (path, status)


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]})


def test_examples_exist_and_fit_the_documented_schemas(document: dict[str, Any]) -> None:
    for path, _, operation in operations(document):
        if "requestBody" in operation:
            [media] = operation["requestBody"]["content"].values()
            assert "example" in media, path
            schema_validator(document, media["schema"]).validate(media["example"])
        success = [s for s in operation["responses"] if s.startswith("2")]
        for status in success:
            [media] = operation["responses"][status]["content"].values()
            assert "example" in media, (path, status)
            schema_validator(document, media["schema"]).validate(media["example"])


def keys(value: Any) -> Any:
    """The shape of a JSON value: nested key sets, lists by their first item."""
    if isinstance(value, dict):
        return {key: keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


def test_examples_have_the_shape_of_real_answers(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    examples = reference.EXAMPLES
    slug = "compliance-vm"
    with live_api.client(tenant) as client:
        created = client.post(f"/api/v1/workflows/{slug}/sessions", json=create_body(1)).json()
        assert put_file(created["uploadUrls"][0], jpeg(seed=2102)).status_code == 200
        session_id = created["sessionId"]
        submitted = client.post(f"/api/v1/workflows/{slug}/sessions/{session_id}/submit").json()
        job = client.get(f"/api/v1/jobs/{session_id}").json()
        listing = client.get("/api/v1/workflows").json()
        invalid = client.post(
            f"/api/v1/workflows/{slug}/sessions",
            json={**create_body(1), "contentTypes": ["image/gif"]},
        ).json()
    assert keys(created) == keys(examples[("/api/v1/workflows/{slug}/sessions", "post")]["201"])
    assert keys(submitted) == keys(examples[(reference.SUBMIT, "post")]["200"])
    assert set(job) == set(examples[("/api/v1/jobs/{session_id}", "get")]["200"])
    # the example lists receipt-ocr, whose upload contract states maxPages (it accepts PDF)
    receipts = {**listing, "data": [w for w in listing["data"] if w["slug"] == "receipt-ocr"]}
    assert keys(receipts) == keys(examples[("/api/v1/workflows", "get")]["200"])
    assert keys(invalid) == keys(reference.PROBLEM_EXAMPLE)
    assert invalid["title"] == reference.PROBLEM_EXAMPLE["title"]


def test_the_docs_page_shows_the_reference_offline(live_api: LiveApi) -> None:
    with live_api.client() as client:
        page = client.get("/docs")
    assert page.status_code == 200
    assert "Submission review" in page.text
    assert "checked against the paper receipt" in page.text  # an approve request example
    assert "**Rate bucket:**" in page.text
