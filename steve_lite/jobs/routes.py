"""GET /api/v1/jobs/{sessionId}."""

from __future__ import annotations

from typing import Any, TypedDict

from litestar import Request, get
from litestar.params import FromPath

from steve_lite.errors import NotFound
from steve_lite.http import reference as docs
from steve_lite.jobs.service import job_view, load_job
from steve_lite.security.api_keys import ApiKey
from steve_lite.sessions.schemas import WorkflowPin


class JobView(TypedDict):
    sessionId: str
    submissionId: str
    workflow: WorkflowPin
    companyId: str
    state: str
    submissionStatus: str
    result: dict[str, Any] | None
    failedReason: str | None
    clientSubmissionId: str
    metadata: dict[str, Any] | None
    createdAt: str
    expiresAt: str
    submittedAt: str | None
    processedAt: str | None
    webhookDeliveryStatus: str | None


@get(
    "/jobs/{session_id:str}",
    opt={"legacy_keys": True},
    tags=[docs.JOBS],
    summary="Get a job",
    description=docs.GET_JOB,
)
async def get_job(request: Request[ApiKey, Any, Any], session_id: FromPath[str]) -> JobView:
    """The session's state and, once processed, its result. Visible to the creating key only."""
    db = request.app.state.db
    job = load_job(db, session_id)
    if job is None or job["api_key_id"] != request.user.id:
        raise NotFound(f"job {session_id!r} not found")
    return job_view(db, job)  # type: ignore[return-value]


ROUTES = [get_job]
