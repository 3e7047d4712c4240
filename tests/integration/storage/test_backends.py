"""One behaviour on every S3 backend: the session and processing paths, run against the embedded
SeaweedFS server and against a real MinIO (Docker, through testcontainers).

The ``minio`` cases carry the ``minio`` marker. They skip when no Docker engine answers a ping and
fail instead when ``STEVE_REQUIRE_DOCKER=1``: ``STEVE_REQUIRE_DOCKER=1 pytest -m minio``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from steve_lite.errors import Conflict
from steve_lite.processing.pipeline import process_session
from steve_lite.sessions.service import seal_uploads, sealed_key_for
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.photos import make_text_file
from tests.support.api import LiveApi, Tenant, make_settings
from tests.support.backends import MinioServer, require_docker, running_minio, start_live_api_on
from tests.support.processing import detail, runtime_for, submitted_session
from tests.support.sessions import open_session, submit
from tests.support.uploads import jpeg, png, put_file

BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("minio", id="minio", marks=pytest.mark.minio),
]


@pytest.fixture(scope="session")
def minio_server() -> Iterator[MinioServer]:
    """One MinIO container for the whole run, started only when a minio case runs."""
    require_docker()
    with running_minio() as server:
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def backend_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """A live API whose object storage is a fresh bucket on the backend named by the param."""
    if request.param == "minio":
        server: MinioServer = request.getfixturevalue("minio_server")
        storage = server.storage()
    else:
        embedded: EmbeddedS3 = request.getfixturevalue("embedded_s3")
        storage = embedded.storage(bucket=f"test-{uuid.uuid4().hex[:20]}")
        storage.ensure_bucket()
    settings = make_settings(tmp_path_factory.mktemp(f"backend-{request.param}"))
    api, server_thread = start_live_api_on(settings, storage)
    yield api
    server_thread.stop()


# ---------------------------------------------------------------- sessions


def test_upload_urls_are_signed_for_the_backend(backend_api: LiveApi) -> None:
    session = open_session(backend_api, backend_api.tenant(), count=2)
    backend = urlsplit(backend_api.storage.endpoint_url)
    for entry in session["uploadUrls"]:
        url = urlsplit(entry["uploadUrl"])
        assert (url.scheme, url.netloc) == (backend.scheme, backend.netloc)
        assert url.path.startswith(f"/{backend_api.storage.bucket}/")
        assert url.path.endswith(f"/sessions/{session['sessionId']}/{entry['fileIndex']}")
        assert "X-Amz-Signature=" in url.query
        assert entry["r2Url"] == f"{backend.scheme}://{backend.netloc}{url.path}"


def test_put_with_httpx_then_submit(backend_api: LiveApi) -> None:
    api = backend_api
    tenant = api.tenant()
    session = open_session(api, tenant, count=2)
    files = [jpeg(11), jpeg(12)]
    for upload, data in zip(session["uploadUrls"], files, strict=True):
        assert put_file(upload, data).status_code == 200
    response = submit(api, tenant, session)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "submitted"
    assert response.json()["submissionStatus"] == "processing"
    rows = api.db.execute(
        "SELECT size_bytes, object_key FROM session_files WHERE session_id = ? ORDER BY file_index",
        [session["sessionId"]],
    ).fetchall()
    assert [row[0] for row in rows] == [len(data) for data in files]
    for (_, key), data in zip(rows, files, strict=True):
        head = api.storage.read_head(key, length=3)
        assert head is not None and (head.size, head.head) == (len(data), b"\xff\xd8\xff")
        assert api.storage.download(key, max_bytes=len(data)) == data
    again = submit(api, tenant, session)
    assert again.status_code == 400
    assert again.json()["type"].endswith("/conflict")


def test_a_changed_signature_is_refused(backend_api: LiveApi) -> None:
    session = open_session(backend_api, backend_api.tenant())
    url = session["uploadUrls"][0]["uploadUrl"]
    marker = "X-Amz-Signature="
    start = url.index(marker) + len(marker)
    tampered = url[:start] + ("0" if url[start] != "0" else "1") + url[start + 1 :]
    response = httpx.put(tampered, content=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text


@pytest.mark.parametrize(
    ("declared", "data", "message"),
    [
        ("image/jpeg", png(), "PNG"),
        ("image/png", make_text_file(), "not a JPEG, PNG, WebP, HEIC/HEIF or PDF file"),
    ],
    ids=["png-declared-jpeg", "text-declared-png"],
)
def test_magic_bytes_must_match_the_declared_type(
    backend_api: LiveApi, declared: str, data: bytes, message: str
) -> None:
    tenant = backend_api.tenant()
    session = open_session(backend_api, tenant, content_type=declared)
    assert put_file(session["uploadUrls"][0], data).status_code == 200
    response = submit(backend_api, tenant, session)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "files[0].contentType"
    assert message in error["message"]


def test_missing_and_empty_files_are_files_missing(backend_api: LiveApi) -> None:
    tenant = backend_api.tenant()
    session = open_session(backend_api, tenant, count=2)
    response = submit(backend_api, tenant, session)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/files-missing")
    assert [e["field"] for e in problem["errors"]] == ["files[0]", "files[1]"]
    assert put_file(session["uploadUrls"][0], b"").status_code == 200  # a zero-byte object
    again = submit(backend_api, tenant, session)
    assert again.status_code == 422 and again.json()["type"].endswith("/files-missing")


# ---------------------------------------------------------------- processing


def test_processing_reads_the_uploaded_bytes_and_decides(backend_api: LiveApi) -> None:
    api = backend_api
    tenant = api.tenant()
    photo = jpeg(seed=41, blur=6)
    session = submitted_session(api, tenant, [photo])
    process_session(runtime_for(api), session["sessionId"])
    stored = api.db.execute(
        "SELECT sha256, phash FROM session_files WHERE session_id = ? AND file_index = 0",
        [session["sessionId"]],
    ).fetchone()
    assert stored[0] == hashlib.sha256(photo).hexdigest(), "the backend returned other bytes"
    assert stored[1]
    found = detail(api, tenant, session["submissionId"])
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["submissionStatus"] == "review"
    assert body["result"]["extractedData"]["compliant"] is False
    assert "compliance checks failed" in body["result"]["reviewReasons"]
    state = api.db.execute(
        "SELECT state FROM sessions WHERE id = ?", [session["sessionId"]]
    ).fetchone()[0]
    assert state == "completed"


def file_rows(api: LiveApi, session_id: str) -> list[dict]:
    rows = api.db.execute(
        "SELECT * FROM session_files WHERE session_id = ? ORDER BY file_index", [session_id]
    )
    return [dict(row) for row in rows]


def test_a_sealed_copy_deleted_after_submit_fails_the_session(backend_api: LiveApi) -> None:
    api = backend_api
    tenant = api.tenant()
    session = submitted_session(api, tenant, [jpeg(seed=42)])
    [row] = file_rows(api, session["sessionId"])
    api.storage.delete([row["sealed_key"]])
    process_session(runtime_for(api), session["sessionId"])
    state, reason = api.db.execute(
        "SELECT state, failed_reason FROM sessions WHERE id = ?", [session["sessionId"]]
    ).fetchone()
    assert state == "failed"
    assert reason == "file 0 (photo): the uploaded object is gone"
    assert detail(api, tenant, session["submissionId"]).json()["submissionStatus"] == "failed"


def test_a_sealed_copy_changed_after_submit_fails_the_session(backend_api: LiveApi) -> None:
    """Only the server's own credentials reach the sealed key; a change there is still caught."""
    api = backend_api
    tenant = api.tenant()
    session = submitted_session(api, tenant, [jpeg(seed=43)])
    [row] = file_rows(api, session["sessionId"])
    overwrite = api.storage.presign_put(row["sealed_key"], timedelta(minutes=5))
    assert httpx.put(overwrite, content=jpeg(seed=44)).status_code == 200
    process_session(runtime_for(api), session["sessionId"])
    state, reason = api.db.execute(
        "SELECT state, failed_reason FROM sessions WHERE id = ?", [session["sessionId"]]
    ).fetchone()
    assert (state, reason) == ("failed", "file 0 (photo): the sealed copy changed after submit")


# ---------------------------------------------------------------- sealed uploads


def what_the_submission_shows(api: LiveApi, tenant: Tenant, submission_id: str) -> dict:
    """Everything a reviewer or integrator sees of the files: reported fields, hashes stored
    for fraud checks, and the bytes each downloadUrl serves."""
    body = detail(api, tenant, submission_id).json()
    rows = file_rows(api, body["sessionId"])
    served = [httpx.get(f["downloadUrl"], timeout=30) for f in body["files"]]
    assert all(response.status_code == 200 for response in served)
    return {
        "status": body["submissionStatus"],
        "result": body["result"],
        "files": [
            {k: f[k] for k in ("fileIndex", "contentType", "sizeBytes")} for f in body["files"]
        ],
        "hashes": [(row["sha256"], row["phash"]) for row in rows],
        "served": [hashlib.sha256(response.content).hexdigest() for response in served],
    }


def test_an_upload_overwritten_after_submit_changes_nothing(backend_api: LiveApi) -> None:
    api = backend_api
    tenant = api.tenant()
    original, forged = jpeg(seed=45), jpeg(seed=46, blur=6)
    assert len(forged) != len(original)
    session = submitted_session(api, tenant, [original])
    upload = session["uploadUrls"][0]
    assert put_file(upload, forged).status_code == 200  # still valid: before processing

    process_session(runtime_for(api), session["sessionId"])
    processed = what_the_submission_shows(api, tenant, session["submissionId"])
    assert processed["hashes"][0][0] == hashlib.sha256(original).hexdigest()
    assert processed["served"] == [hashlib.sha256(original).hexdigest()]
    assert processed["files"][0]["sizeBytes"] == len(original)
    assert processed["status"] == "approved"  # the forged photo is blurred: it would be review

    assert put_file(upload, forged).status_code == 200  # after completion
    assert what_the_submission_shows(api, tenant, session["submissionId"]) == processed
    [row] = file_rows(api, session["sessionId"])
    assert api.storage.read_head(row["object_key"]).size == len(forged)  # the overwrite landed


def test_an_upload_replaced_during_submit_is_not_sealed(backend_api: LiveApi) -> None:
    """The race the conditional copy closes: bytes checked, then replaced before the copy."""
    api = backend_api
    tenant = api.tenant()
    session = open_session(api, tenant)
    upload = session["uploadUrls"][0]
    assert put_file(upload, jpeg(seed=47)).status_code == 200
    [row] = file_rows(api, session["sessionId"])
    checked = api.storage.read_head(row["object_key"])
    assert put_file(upload, make_text_file()).status_code == 200

    with pytest.raises(Conflict) as refused:
        anyio.run(seal_uploads, api.storage, [{**row, "etag": checked.etag}])

    assert [e.field for e in refused.value.errors] == ["files[0]"]
    assert api.storage.read_head(sealed_key_for(row["object_key"])) is None


def test_a_polyglot_uploaded_as_html_downloads_as_an_inert_png(backend_api: LiveApi) -> None:
    api = backend_api
    tenant = api.tenant()
    polyglot = png(seed=48) + b"<html><body><script>alert(document.cookie)</script></body></html>"
    session = open_session(api, tenant, content_type="image/png")
    upload = session["uploadUrls"][0]
    stored = httpx.put(upload["uploadUrl"], content=polyglot, headers={"Content-Type": "text/html"})
    assert stored.status_code == 200
    assert submit(api, tenant, session).status_code == 200  # the magic number is PNG's

    [file] = detail(api, tenant, session["submissionId"]).json()["files"]
    served = httpx.get(file["downloadUrl"], timeout=30)

    assert served.status_code == 200 and served.content == polyglot
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == (
        f'attachment; filename="{session["submissionId"]}-0.png"'
    )
