"""GET /api/v1/jobs/{sessionId} (contract 2.4) in every state, against real servers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from steve_lite.clock import parse_iso, utcnow
from steve_lite.security.api_keys import create_key
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.photos import make_corrupt_jpeg, make_photo
from tests.support.api import LiveApi, Tenant, make_settings, start_live_api
from tests.support.sessions import get_job, open_session, submit_files, wait_for_job
from tests.support.uploads import put_file
from tests.support.worker import JOB_KEYS, WorkerStack

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
METADATA = {"storeId": "S-42", "visit": {"number": 3, "audited": True}}


def expected_view(tenant: Tenant, session: dict, **changes: object) -> dict:
    """The job view of a session just created with ``METADATA``, plus ``changes``."""
    return {
        "sessionId": session["sessionId"],
        "submissionId": session["submissionId"],
        "workflow": {"slug": "compliance-vm", "version": 2},
        "companyId": tenant.company["id"],
        "state": "pending",
        "submissionStatus": "created",
        "result": None,
        "failedReason": None,
        "clientSubmissionId": session["clientSubmissionId"],
        "metadata": METADATA,
        "createdAt": session["createdAt"],
        "expiresAt": session["expiresAt"],
        "submittedAt": None,
        "processedAt": None,
        "webhookDeliveryStatus": None,
        **changes,
    }


def new_session(api: LiveApi, tenant: Tenant) -> dict:
    session = open_session(
        api, tenant, "compliance-vm", 1, clientSubmissionId=f"job-{time.monotonic_ns()}",
        metadata=METADATA,
    )  # fmt: skip
    job = get_job(api, tenant, session["sessionId"]).json()
    return {
        **session,
        "clientSubmissionId": job["clientSubmissionId"],
        "createdAt": job["createdAt"],
    }


def submit(api: LiveApi, tenant: Tenant, session: dict) -> None:
    with api.client(tenant) as client:
        response = client.post(
            f"/api/v1/workflows/compliance-vm/sessions/{session['sessionId']}/submit"
        )
    assert response.status_code == 200, response.text


def test_pending_job(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = new_session(live_api, tenant)
    response = get_job(live_api, tenant, session["sessionId"])
    assert response.status_code == 200
    job = response.json()
    assert set(job) == JOB_KEYS
    assert job == expected_view(tenant, session)
    assert TIMESTAMP.match(job["createdAt"]) and TIMESTAMP.match(job["expiresAt"])
    ttl = parse_iso(job["expiresAt"]) - parse_iso(job["createdAt"])
    assert ttl == timedelta(seconds=live_api.settings.session_ttl_seconds)


def test_submitted_job_without_a_worker_stays_submitted(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = new_session(live_api, tenant)
    put_file(session["uploadUrls"][0], make_photo(seed=51))
    submit(live_api, tenant, session)
    job = get_job(live_api, tenant, session["sessionId"]).json()
    assert set(job) == JOB_KEYS
    assert job == expected_view(
        tenant,
        session,
        state="submitted",
        submissionStatus="processing",
        submittedAt=job["submittedAt"],
    )
    assert TIMESTAMP.match(job["submittedAt"])
    assert parse_iso(job["createdAt"]) <= parse_iso(job["submittedAt"])


def test_job_is_visible_to_the_creating_key_only(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = new_session(live_api, tenant)
    _, same_company_key = create_key(live_api.db, company_id=tenant.company["id"])
    _, legacy_key = create_key(live_api.db, company_id=None)
    for key in (same_company_key, legacy_key, live_api.tenant().key):
        response = httpx.get(
            f"{live_api.url}/api/v1/jobs/{session['sessionId']}",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 404
        assert response.json()["type"].endswith("/not-found")
    missing = get_job(live_api, tenant, "ses_000000000000000000000000")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
def short_ttl_api(tmp_path: Path, embedded_s3: EmbeddedS3) -> Iterator[LiveApi]:
    api, server = start_live_api(make_settings(tmp_path, session_ttl_seconds=1), embedded_s3)
    yield api
    server.stop()


def test_a_pending_job_past_its_ttl_reads_expired_at_once(short_ttl_api: LiveApi) -> None:
    api = short_ttl_api
    tenant = api.tenant()
    session = new_session(api, tenant)
    deadline = parse_iso(session["expiresAt"])
    while utcnow() <= deadline:
        time.sleep(0.05)
    job = get_job(api, tenant, session["sessionId"]).json()
    assert job == expected_view(tenant, session, state="expired")
    stored = api.db.execute(
        "SELECT state FROM sessions WHERE id = ?", [session["sessionId"]]
    ).fetchone()
    assert stored[0] == "pending"  # nothing marked it: the view reads the TTL itself


def test_completed_and_failed_jobs(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    good = submit_files(api, tenant, "compliance-vm", [make_photo(seed=52)], metadata=METADATA)
    bad = submit_files(api, tenant, "compliance-vm", [make_corrupt_jpeg()], metadata=METADATA)
    for session, state, status in ((good, "completed", "approved"), (bad, "failed", "failed")):
        job = wait_for_job(api, tenant, session["sessionId"])
        assert set(job) == JOB_KEYS
        assert (job["state"], job["submissionStatus"]) == (state, status)
        assert (job["sessionId"], job["submissionId"]) == (
            session["sessionId"],
            session["submissionId"],
        )
        assert job["workflow"] == {"slug": "compliance-vm", "version": 2}
        assert job["companyId"] == tenant.company["id"]
        assert job["metadata"] == METADATA
        assert job["webhookDeliveryStatus"] is None
        for key in ("createdAt", "expiresAt", "submittedAt", "processedAt"):
            assert TIMESTAMP.match(job[key]), key
        assert parse_iso(job["submittedAt"]) <= parse_iso(job["processedAt"])
        if state == "completed":
            assert job["failedReason"] is None
            assert set(job["result"]) >= {"extractedData", "confidence", "fraudStatus"}
            assert set(job["result"]) >= {"fraudScore", "photos"}
            assert job["result"]["extractedData"]["compliant"] is True
        else:
            assert job["result"] is None
            assert job["failedReason"] == "file 0 (photo): image is truncated"
