"""Running the worker's services in the test process, for tests that need processed sessions
without a worker process (the worker itself is tested in tests/e2e/test_worker.py)."""

from __future__ import annotations

from typing import Any

import httpx

from steve_lite.processing.pipeline import process_session
from steve_lite.queue import Queue
from steve_lite.worker import Runtime
from tests.support.api import LiveApi, Tenant
from tests.support.uploads import create_body, jpeg, put_file


def runtime_for(api: LiveApi) -> Runtime:
    return Runtime(api.settings, api.storage, Queue(api.settings))


def submitted_session(
    api: LiveApi, tenant: Tenant, images: list[bytes], slug: str = "compliance-vm", **extra: Any
) -> dict[str, Any]:
    """Create a session, upload ``images`` (JPEG) and submit it; return the create answer."""
    with api.client(tenant) as client:
        created = client.post(
            f"/api/v1/workflows/{slug}/sessions", json=create_body(len(images), **extra)
        )
        assert created.status_code == 201, created.text
        session = created.json()
        for upload, data in zip(session["uploadUrls"], images, strict=True):
            assert put_file(upload, data).status_code == 200
        submitted = client.post(f"/api/v1/workflows/{slug}/sessions/{session['sessionId']}/submit")
        assert submitted.status_code == 200, submitted.text
    return session


def processed_session(
    api: LiveApi, tenant: Tenant, images: list[bytes] | None = None, **extra: Any
) -> dict[str, Any]:
    """A compliance session processed by the real pipeline in this process.

    The default image is blurred, so the submission lands in ``review``.
    """
    session = submitted_session(api, tenant, images or [jpeg(seed=7, blur=6)], **extra)
    process_session(runtime_for(api), session["sessionId"])
    return session


def detail(api: LiveApi, tenant: Tenant, submission_id: str) -> httpx.Response:
    with api.client(tenant) as client:
        return client.get(f"/api/v1/submissions/{submission_id}")
