"""Uploading to presigned URLs and POST .../submit against the real embedded S3 server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.workflows.schemas import WorkflowDefinition
from steve_lite.workflows.service import assign, get_definition, get_workflow, publish
from tests.factories.photos import make_text_file
from tests.support.api import LiveApi, make_settings, start_live_api
from tests.support.sessions import open_session, submit
from tests.support.uploads import create_body, jpeg, png, put_file


def test_upload_with_httpx_and_curl_then_submit(live_api: LiveApi, tmp_path: Path) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant, count=2)
    first, second = session["uploadUrls"]
    assert put_file(first, jpeg(1)).status_code == 200
    photo = tmp_path / "page.jpg"
    photo.write_bytes(jpeg(2))
    curl = subprocess.run(
        [
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--upload-file", str(photo),
            "-H", "Content-Type: image/jpeg", second["uploadUrl"],
        ],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert curl.stdout == "200"
    response = submit(live_api, tenant, session)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sessionId": session["sessionId"],
        "submissionId": session["submissionId"],
        "state": "submitted",
        "submissionStatus": "processing",
        "workflow": {"slug": "document-ocr", "version": 2},
    }
    assert response.headers["x-ratelimit-limit"] == "20"
    sizes = [
        row[0]
        for row in live_api.db.execute(
            "SELECT size_bytes FROM session_files WHERE session_id = ? ORDER BY file_index",
            [session["sessionId"]],
        )
    ]
    assert sizes == [len(jpeg(1)), photo.stat().st_size]
    again = submit(live_api, tenant, session)
    assert again.status_code == 400
    assert again.json()["type"].endswith("/conflict")


def test_storage_refuses_a_changed_signature(live_api: LiveApi) -> None:
    session = open_session(live_api, live_api.tenant())
    url = session["uploadUrls"][0]["uploadUrl"]
    marker = "X-Amz-Signature="
    start = url.index(marker) + len(marker)
    flipped = "0" if url[start] != "0" else "1"
    tampered = url[:start] + flipped + url[start + 1 :]
    response = httpx.put(tampered, content=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text


def test_missing_files_are_422_files_missing(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant, count=2)
    response = submit(live_api, tenant, session)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/files-missing")
    assert [e["field"] for e in problem["errors"]] == ["files[0]", "files[1]"]
    assert put_file(session["uploadUrls"][0], b"").status_code == 200
    assert submit(live_api, tenant, session).json()["type"].endswith("/files-missing")


def test_some_files_may_be_missing_above_min_files(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant, count=3)
    put_file(session["uploadUrls"][1], jpeg())
    assert submit(live_api, tenant, session).status_code == 200


@pytest.mark.parametrize(
    ("declared", "data", "message"),
    [
        ("image/jpeg", png(), "PNG"),
        ("image/png", make_text_file(), "not a JPEG, PNG, WebP, HEIC/HEIF or PDF file"),
        ("image/png", jpeg(), "JPEG"),
    ],
)
def test_magic_bytes_must_match_the_declared_type(
    live_api: LiveApi, declared: str, data: bytes, message: str
) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant, content_type=declared)
    put_file(session["uploadUrls"][0], data)
    response = submit(live_api, tenant, session)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "files[0].contentType"
    assert message in error["message"]


def test_object_over_the_size_limit_is_422(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    base = get_definition(live_api.db, get_workflow(live_api.db, "document-ocr")["id"], 1)
    small = WorkflowDefinition.model_validate(
        {**base.model_dump(by_alias=True), "slug": f"tiny-{tenant.company['slug']}"}
    )
    small.upload.max_file_size_mb = 0.01
    publish(live_api.db, small)
    assign(live_api.db, small.slug, tenant.company["id"])
    session = open_session(live_api, tenant, slug=small.slug, content_type="image/png")
    data = png()
    assert len(data) > 0.01 * 1024 * 1024
    put_file(session["uploadUrls"][0], data)
    response = submit(live_api, tenant, session, slug=small.slug)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/validation-error")
    assert problem["errors"][0]["field"] == "files[0]"


def test_other_keys_and_wrong_workflow_get_404(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant)
    put_file(session["uploadUrls"][0], jpeg())
    stranger = live_api.tenant()
    with live_api.client(stranger) as client:
        path = f"/api/v1/workflows/document-ocr/sessions/{session['sessionId']}/submit"
        assert client.post(path).status_code == 404
    wrong = submit(live_api, tenant, session, slug="receipt-ocr")
    assert wrong.status_code == 404
    with live_api.client(tenant) as client:
        assert (
            client.post(f"/api/v1/compliance/sessions/{session['sessionId']}/submit").status_code
            == 404
        )
        assert client.post(f"/api/v1/ocr/sessions/{session['sessionId']}/submit").status_code == 200


def test_submitted_session_cannot_be_replayed(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    body = create_body(1)
    with live_api.client(tenant) as client:
        first = client.post("/api/v1/workflows/document-ocr/sessions", json=body).json()
        put_file(first["uploadUrls"][0], jpeg())
        assert submit(live_api, tenant, first).status_code == 200
        replay = client.post("/api/v1/workflows/document-ocr/sessions", json=body)
    assert replay.status_code == 409
    assert "submitted" in replay.json()["detail"] and first["sessionId"] in replay.json()["detail"]


@pytest.fixture
def short_ttl_api(tmp_path: Path, embedded_s3: EmbeddedS3) -> Iterator[LiveApi]:
    settings = make_settings(tmp_path, session_ttl_seconds=2, upload_url_ttl_seconds=1)
    api, server = start_live_api(settings, embedded_s3)
    yield api
    server.stop()


def test_expired_urls_and_sessions(short_ttl_api: LiveApi) -> None:
    api = short_ttl_api
    tenant = api.tenant()
    session = open_session(api, tenant)
    time.sleep(2.2)
    refused = put_file(session["uploadUrls"][0], jpeg())
    assert refused.status_code == 403
    response = submit(api, tenant, session)
    assert response.status_code == 410
    assert response.json()["type"].endswith("/gone")
    row = api.db.execute(
        "SELECT s.state, sub.status, sub.cancel_reason FROM sessions s "
        "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
        [session["sessionId"]],
    ).fetchone()
    assert tuple(row) == ("expired", "cancelled", "session expired")
    assert submit(api, tenant, session).status_code == 410
