"""Session routes: the generic ones and the ``ocr`` / ``compliance`` wrappers."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath

from steve_lite.http import reference as docs
from steve_lite.http.bodies import read_json
from steve_lite.security.api_keys import ApiKey
from steve_lite.sessions import service
from steve_lite.sessions.schemas import SessionCreate, SessionCreated, SessionSubmitted


def context(request: Request[Any, Any, Any]) -> service.SessionContext:
    state = request.app.state
    return service.SessionContext(
        db=state.db,
        writes=state.writes,
        cache=state.cache,
        storage=state.storage,
        settings=state.settings,
    )


async def create(request: Request[ApiKey, Any, Any], slug: str) -> Response[SessionCreated]:
    body = await read_json(request, SessionCreate)
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
)
async def create_session(
    request: Request[ApiKey, Any, Any], slug: FromPath[str]
) -> Response[SessionCreated]:
    """Open an upload session: one presigned PUT URL per file."""
    return await create(request, slug)


@post(
    "/workflows/{slug:str}/sessions/{session_id:str}/submit",
    opt={"bucket": "submit"},
    status_code=200,
    tags=[docs.SESSIONS],
    summary="Submit a session",
    description=docs.SUBMIT_SESSION,
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
)
async def create_ocr_session(request: Request[ApiKey, Any, Any]) -> Response[SessionCreated]:
    """Open a ``document-ocr`` session."""
    return await create(request, "document-ocr")


@post(
    "/ocr/sessions/{session_id:str}/submit",
    opt={"bucket": "submit"},
    status_code=200,
    tags=[docs.SESSION_SHORTCUTS],
    summary="Submit a document-ocr session",
    description=docs.SUBMIT_SESSION,
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
)
async def create_compliance_session(
    request: Request[ApiKey, Any, Any],
) -> Response[SessionCreated]:
    """Open a ``compliance-vm`` session."""
    return await create(request, "compliance-vm")


@post(
    "/compliance/sessions/{session_id:str}/submit",
    opt={"bucket": "submit"},
    status_code=200,
    tags=[docs.SESSION_SHORTCUTS],
    summary="Submit a compliance-vm session",
    description=docs.SUBMIT_SESSION,
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
