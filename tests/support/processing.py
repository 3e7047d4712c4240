"""Running the worker's services in the test process, for tests that need processed sessions
without a worker process (the worker itself is tested in tests/e2e/test_worker.py)."""

from __future__ import annotations

from typing import Any

import httpx

from steve_lite.processing.pipeline import process_session
from steve_lite.services import WorkerServices
from steve_lite.wiring import worker_services
from tests.support.api import LiveApi, Tenant
from tests.support.sessions import submit_files
from tests.support.uploads import jpeg


def runtime_for(api: LiveApi) -> WorkerServices:
    return worker_services(api.settings, api.storage)


def submitted_session(
    api: LiveApi, tenant: Tenant, images: list[bytes], slug: str = "compliance-vm", **extra: Any
) -> dict[str, Any]:
    """Create a session, upload ``images`` (JPEG) and submit it; return the create answer."""
    return submit_files(api, tenant, slug, images, **extra)


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
