"""Sessions through the routes, as an integrator drives them: open, upload, submit, poll."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from tests.support.api import LiveApi, Tenant
from tests.support.processes import ServerProcess
from tests.support.uploads import create_body, put_file
from tests.support.waiting import wait_until

FINAL_STATES = ("completed", "failed")
POLL_SECONDS = 0.2


def create_session(
    http: httpx.Client, slug: str, count: int = 1, content_type: str = "image/jpeg", **body: Any
) -> dict[str, Any]:
    """``POST /api/v1/workflows/{slug}/sessions`` on an authenticated client; the 201 answer."""
    response = http.post(
        f"/api/v1/workflows/{slug}/sessions", json=create_body(count, content_type, **body)
    )
    assert response.status_code == 201, response.text
    return response.json()


def upload_and_submit(
    http: httpx.Client, slug: str, session: dict[str, Any], files: Sequence[bytes | None]
) -> None:
    """PUT each file that is not None to its slot, then submit (200)."""
    for upload, data in zip(session["uploadUrls"], files, strict=True):
        if data is not None:
            assert put_file(upload, data).status_code == 200
    response = http.post(f"/api/v1/workflows/{slug}/sessions/{session['sessionId']}/submit")
    assert response.status_code == 200, response.text


def open_session(
    api: LiveApi,
    tenant: Tenant,
    slug: str = "document-ocr",
    count: int = 1,
    content_type: str = "image/jpeg",
    **body: Any,
) -> dict[str, Any]:
    """A pending session of ``tenant`` with ``count`` file slots."""
    with api.client(tenant) as http:
        return create_session(http, slug, count, content_type, **body)


def submit(
    api: LiveApi, tenant: Tenant, session: dict[str, Any], slug: str = "document-ocr"
) -> httpx.Response:
    """``POST .../submit``, whatever it answers."""
    with api.client(tenant) as http:
        return http.post(f"/api/v1/workflows/{slug}/sessions/{session['sessionId']}/submit")


def submit_files(
    api: LiveApi,
    tenant: Tenant,
    slug: str,
    files: Sequence[bytes | None],
    content_type: str = "image/jpeg",
    **body: Any,
) -> dict[str, Any]:
    """Open a session with one slot per entry, upload the non-None ones, submit; the session."""
    with api.client(tenant) as http:
        session = create_session(http, slug, len(files), content_type, **body)
        upload_and_submit(http, slug, session, files)
    return session


def get_job(api: LiveApi, tenant: Tenant, session_id: str) -> httpx.Response:
    with api.client(tenant) as http:
        return http.get(f"/api/v1/jobs/{session_id}")


def wait_for_job(
    api: LiveApi,
    tenant: Tenant,
    session_id: str,
    states: Iterable[str] = FINAL_STATES,
    timeout: float = 90,
    *,
    worker: ServerProcess | None = None,
) -> dict[str, Any]:
    """Poll GET /api/v1/jobs/{id} until its ``state`` is one of ``states``; the job view."""
    wanted = set(states)
    job: dict[str, Any] = {}

    def reached() -> bool:
        response = get_job(api, tenant, session_id)
        assert response.status_code == 200, response.text
        job.update(response.json())
        return job["state"] in wanted

    try:
        wait_until(reached, timeout, f"job {session_id} in {sorted(wanted)}", interval=POLL_SECONDS)
    except AssertionError as exc:
        log = f"\nworker log:\n{worker.output()[-4000:]}" if worker else ""
        raise AssertionError(f"{exc}: {job}{log}") from None
    return job
