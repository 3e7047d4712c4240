"""Session routes: the generic ones and the ``ocr`` / ``compliance`` wrappers."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from steve_lite.http import reference as docs
from steve_lite.http.openapi import problem_responses
from steve_lite.security.api_keys import ApiKey
from steve_lite.services import ApiServices
from steve_lite.sessions import service
from steve_lite.sessions.schemas import SessionCreate, SessionCreated, SessionSubmitted

REPLAY = ResponseSpec(
    data_container=SessionCreated,
    description="Idempotent replay: the same session, freshly signed URLs",
    generate_examples=False,
)
CREATE_RESPONSES = {200: REPLAY, **problem_responses(404, 409, 413, 422)}
SUBMIT_RESPONSES = problem_responses(404, 409, 410, 422, 503)


def context(request: Request[Any, Any, Any]) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


async def create(
    request: Request[ApiKey, Any, Any], slug: str, body: SessionCreate
) -> Response[SessionCreated]:
    answer, created = await service.create_session(context(request), request.user, slug, body)
    return Response(answer, status_code=201 if created else 200)  # type: ignore[arg-type]


async def submit(
    request: Request[ApiKey, Any, Any], slug: str, session_id: str
) -> SessionSubmitted:
    answer = await service.submit_session(context(request), request.user, slug, session_id)
    queue = request.app.state.queue
    if queue is not None:
        queue.enqueue_processing(session_id)
    return answer  # type: ignore[return-value]


@post(
    "/workflows/{slug:str}/sessions",
    opt={"bucket": "session"},
    status_code=201,
    tags=[docs.SESSIONS],
    summary="Create an upload session",
    description=docs.CREATE_SESSION,
    responses=CREATE_RESPONSES,
)
async def create_session(
    request: Request[ApiKey, Any, Any], slug: FromPath[str], data: JSONBody[SessionCreate]
) -> Response[SessionCreated]:
    """Open an upload session: one presigned PUT URL per file."""
    return await create(request, slug, data)


@post(
    "/workflows/{slug:str}/sessions/{session_id:str}/submit",
    opt={"bucket": "submit"},
    status_code=200,
    tags=[docs.SESSIONS],
    summary="Submit a session",
    description=docs.SUBMIT_SESSION,
    responses=SUBMIT_RESPONSES,
)
async def submit_session(
    request: Request[ApiKey, Any, Any], slug: FromPath[str], session_id: FromPath[str]
) -> SessionSubmitted:
    """Check the uploads and queue the session for processing."""
    return await submit(request, slug, session_id)


@post(
    "/ocr/sessions",
    opt={"bucket": "session"},
    status_code=201,
    tags=[docs.SESSION_SHORTCUTS],
    summary="Create a document-ocr session",
    description=docs.CREATE_SESSION,
    responses=CREATE_RESPONSES,
)
async def create_ocr_session(
    request: Request[ApiKey, Any, Any], data: JSONBody[SessionCreate]
) -> Response[SessionCreated]:
    """Open a ``document-ocr`` session."""
    return await create(request, "document-ocr", data)


@post(
    "/ocr/sessions/{session_id:str}/submit",
    opt={"bucket": "submit"},
    status_code=200,
    tags=[docs.SESSION_SHORTCUTS],
    summary="Submit a document-ocr session",
    description=docs.SUBMIT_SESSION,
    responses=SUBMIT_RESPONSES,
)
async def submit_ocr_session(
    request: Request[ApiKey, Any, Any], session_id: FromPath[str]
) -> SessionSubmitted:
    """Submit a ``document-ocr`` session."""
    return await submit(request, "document-ocr", session_id)


@post(
    "/compliance/sessions",
    opt={"bucket": "session"},
    status_code=201,
    tags=[docs.SESSION_SHORTCUTS],
    summary="Create a compliance-vm session",
    description=docs.CREATE_SESSION,
    responses=CREATE_RESPONSES,
)
async def create_compliance_session(
    request: Request[ApiKey, Any, Any], data: JSONBody[SessionCreate]
) -> Response[SessionCreated]:
    """Open a ``compliance-vm`` session."""
    return await create(request, "compliance-vm", data)


@post(
    "/compliance/sessions/{session_id:str}/submit",
    opt={"bucket": "submit"},
    status_code=200,
    tags=[docs.SESSION_SHORTCUTS],
    summary="Submit a compliance-vm session",
    description=docs.SUBMIT_SESSION,
    responses=SUBMIT_RESPONSES,
)
async def submit_compliance_session(
    request: Request[ApiKey, Any, Any], session_id: FromPath[str]
) -> SessionSubmitted:
    """Submit a ``compliance-vm`` session."""
    return await submit(request, "compliance-vm", session_id)


ROUTES = [
    create_session,
    submit_session,
    create_ocr_session,
    submit_ocr_session,
    create_compliance_session,
    submit_compliance_session,
]
