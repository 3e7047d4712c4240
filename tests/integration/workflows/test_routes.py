"""Workflow discovery over real HTTP."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx

import steve_lite.workflows
from steve_lite.workflows.files import load_definition
from steve_lite.workflows.service import assign, publish, unassign
from tests.support.api import LiveApi

SYSTEM = ["compliance-vm", "document-ocr", "receipt-ocr"]
SYSTEM_DIR = Path(steve_lite.workflows.__file__).parent / "catalog"
RECEIPT_V2_FORMATS = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "image/heif",
    "application/pdf",
]


def test_system_workflows_keep_version_1_and_publish_version_2(live_api: LiveApi) -> None:
    """Revision 2 of the catalog (HEIC/HEIF, PDF) is a new version; version 1 keeps its
    contract."""
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        v1 = client.get("/api/v1/workflows/receipt-ocr/versions/1").json()
        v2 = client.get("/api/v1/workflows/receipt-ocr/versions/2").json()
        photos = client.get("/api/v1/workflows/compliance-vm/versions/2").json()
    assert v1["upload"]["acceptedFormats"] == ["image/jpeg", "image/png", "image/webp"]
    assert v2["upload"]["acceptedFormats"] == RECEIPT_V2_FORMATS
    assert "maxPages" not in v1["upload"]
    assert v2["upload"]["maxPages"] == 20
    assert "maxPages" not in photos["upload"]
    assert photos["upload"]["acceptedFormats"] == [
        "image/jpeg",
        "image/png",
        "image/heic",
        "image/heif",
    ]


def test_lists_assigned_system_workflows(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        body = client.get("/api/v1/workflows").json()
    assert [item["slug"] for item in body["data"]] == SYSTEM
    assert body["pagination"] == {"hasMore": False, "nextCursor": None}
    receipt = body["data"][2]
    assert receipt["publishedVersion"] == 2
    assert receipt["contractUrl"] == "/api/v1/workflows/receipt-ocr/versions/2"
    assert receipt["upload"] == {
        "minFiles": 1,
        "maxFiles": 5,
        "acceptedFormats": RECEIPT_V2_FORMATS,
        "fileLabels": ["receipt"],
        "maxFileSizeMb": 10.0,
        "maxPages": 20,
    }
    assert set(receipt) == {
        "id",
        "slug",
        "name",
        "description",
        "icon",
        "color",
        "publishedVersion",
        "contractUrl",
        "upload",
    }


def test_pagination_across_pages_and_tampered_cursor(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    seen, cursor = [], None
    with live_api.client(tenant) as client:
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/v1/workflows", params=params).json()
            seen += [item["slug"] for item in body["data"]]
            cursor = body["pagination"]["nextCursor"]
            assert body["pagination"]["hasMore"] is (cursor is not None)
            if cursor is None:
                break
        assert seen == SYSTEM
        first = client.get("/api/v1/workflows", params={"limit": 1}).json()
        good = first["pagination"]["nextCursor"]
        tampered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
        response = client.get("/api/v1/workflows", params={"cursor": tampered})
        assert response.status_code == 400
        assert response.json()["type"].endswith("/bad-request")
        other = live_api.tenant()
        foreign = client.get("/api/v1/workflows", params={"cursor": good}, headers=other.headers)
        assert foreign.status_code == 400
        assert len(client.get("/api/v1/workflows", params={"limit": 0}).json()["data"]) == 1
        assert len(client.get("/api/v1/workflows", params={"limit": 500}).json()["data"]) == 3


def test_unassigned_workflow_is_404_like_a_missing_one(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    assert unassign(live_api.db, "receipt-ocr", tenant.company["id"])
    with live_api.client(tenant) as client:
        hidden = client.get("/api/v1/workflows/receipt-ocr")
        missing = client.get("/api/v1/workflows/no-such-flow")
        version = client.get("/api/v1/workflows/receipt-ocr/versions/1")
        listed = [w["slug"] for w in client.get("/api/v1/workflows").json()["data"]]
    assert hidden.status_code == missing.status_code == version.status_code == 404
    assert hidden.json()["type"].endswith("/not-found")
    assert "receipt-ocr" not in listed


def test_the_list_follows_assignments_and_publications_at_once(live_api: LiveApi) -> None:
    """The API caches each company's list; changes made by another connection (the CLI) show at
    the next request."""
    tenant = live_api.tenant()
    company_id = tenant.company["id"]

    def listed(client: httpx.Client) -> dict[str, int]:
        data = client.get("/api/v1/workflows").json()["data"]
        return {item["slug"]: item["publishedVersion"] for item in data}

    with live_api.client(tenant) as client:
        assert listed(client) == dict.fromkeys(SYSTEM, 2)
        assert unassign(live_api.db, "receipt-ocr", company_id)
        assert listed(client) == {"compliance-vm": 2, "document-ocr": 2}
        assign(live_api.db, "receipt-ocr", company_id)
        assert listed(client) == dict.fromkeys(SYSTEM, 2)
        flow = load_definition(SYSTEM_DIR / "document-ocr.json").model_copy(
            update={"slug": f"flow-{company_id[-6:]}"}
        )
        publish(live_api.db, flow)
        assign(live_api.db, flow.slug, company_id)
        assert listed(client)[flow.slug] == 1
        publish(live_api.db, flow)
        assert listed(client)[flow.slug] == 2


def test_version_contract_and_new_publication(live_api: LiveApi, tmp_path) -> None:
    tenant = live_api.tenant()
    definition = tmp_path / "flow.toml"
    definition.write_text(
        """
slug = "test-flow"
name = "Test flow"
processor = "document-ocr"
outputJsonSchema = {type = "object"}

[upload]
minFiles = 1
maxFiles = 2
acceptedFormats = ["image/png"]
fileLabels = ["front", "back"]
maxFileSizeMb = 1

[[outputSchema]]
name = "text"
label = "Text"
type = "string"
required = true
"""
    )
    parsed = load_definition(definition)
    assert publish(live_api.db, parsed)["version"] == 1
    assign(live_api.db, "test-flow", tenant.company["id"])
    assert publish(live_api.db, parsed.model_copy(update={"name": "Test flow v2"}))["version"] == 2
    with live_api.client(tenant) as client:
        summary = client.get("/api/v1/workflows/test-flow").json()
        v1 = client.get("/api/v1/workflows/test-flow/versions/1").json()
        v2 = client.get("/api/v1/workflows/test-flow/versions/2").json()
        v3 = client.get("/api/v1/workflows/test-flow/versions/3")
    assert summary["publishedVersion"] == 2
    assert summary["name"] == "Test flow v2"
    assert v1["workflow"]["name"] == "Test flow"
    assert v2["workflow"]["name"] == "Test flow v2"
    assert v1["outputSchema"][0]["required"] is True
    assert v1["outputJsonSchema"] == {"type": "object"}
    assert v3.status_code == 404


def test_system_versions_carry_real_json_schemas(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    with live_api.client(tenant) as client:
        for slug, number in itertools.product(SYSTEM, (1, 2)):
            version = client.get(f"/api/v1/workflows/{slug}/versions/{number}").json()
            schema = version["outputJsonSchema"]
            assert schema["type"] == "object"
            required = {f["name"] for f in version["outputSchema"] if f["required"]}
            assert required <= set(schema["properties"])
