"""The one renderer: every error that leaves the API becomes an RFC 9457 problem document.

:data:`PROBLEMS` is the one place where an error of the tree gets its status, slug and title;
the most specific class in an error's MRO wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from steve_lite.errors import (
    Conflict,
    Expired,
    FieldError,
    FilesMissing,
    Invalid,
    Malformed,
    NotFound,
    NotPending,
    SteveLiteError,
    StorageError,
)
from steve_lite.http.bodies import BODY_REQUIRED
from steve_lite.http.errors import (
    Forbidden,
    HttpError,
    InternalError,
    KeyNotCompanyScoped,
    MethodNotAllowed,
    PayloadTooLarge,
    RateLimitExceeded,
    ServiceUnavailable,
    Unauthorized,
)
from steve_lite.http.request_id import request_id_for

PROBLEM_JSON = "application/problem+json"
# RFC 3986 sub-delims, ":" and "@" may stay as they are in a path segment.
PATH_SAFE = "/!$&'()*+,;=:@"
STORAGE_RETRY_AFTER_SECONDS = 5
logger = logging.getLogger("steve_lite.http")


@dataclass(frozen=True)
class Problem:
    """How one kind of error is answered."""

    status: int
    slug: str
    title: str


BAD_REQUEST = Problem(400, "bad-request", "Bad Request")
INTERNAL = Problem(500, "internal-error", "Internal Server Error")
PROBLEMS: dict[type[SteveLiteError], Problem] = {
    Malformed: BAD_REQUEST,
    # Submit on a session that is not pending: 400 with slug ``conflict``, as Steve documents.
    NotPending: Problem(400, "conflict", "Conflict"),
    Unauthorized: Problem(401, "unauthorized", "Unauthorized"),
    Forbidden: Problem(403, "forbidden", "Forbidden"),
    KeyNotCompanyScoped: Problem(403, "key-not-company-scoped", "Key Not Company Scoped"),
    NotFound: Problem(404, "not-found", "Not Found"),
    MethodNotAllowed: Problem(405, "method-not-allowed", "Method Not Allowed"),
    Conflict: Problem(409, "conflict", "Conflict"),
    Expired: Problem(410, "gone", "Gone"),
    PayloadTooLarge: Problem(413, "payload-too-large", "Payload Too Large"),
    Invalid: Problem(422, "validation-error", "Validation Error"),
    FilesMissing: Problem(422, "files-missing", "Files Missing"),
    RateLimitExceeded: Problem(429, "rate-limit-exceeded", "Rate Limit Exceeded"),
    InternalError: INTERNAL,
    ServiceUnavailable: Problem(503, "service-unavailable", "Service Unavailable"),
}
# Litestar's own HTTP errors of other statuses, by status.
BY_STATUS = {problem.status: problem for problem in reversed(PROBLEMS.values())}


def problem_for(error: SteveLiteError) -> Problem:
    """The answer for ``error``: that of the nearest class in its MRO that has one."""
    for cls in type(error).__mro__:
        problem = PROBLEMS.get(cls)
        if problem is not None:
            return problem
    return INTERNAL


def problem_body(
    error: SteveLiteError, problem: Problem, *, type_base: str, instance: str, request_id: str
) -> dict[str, Any]:
    """The RFC 9457 document for ``error``."""
    body: dict[str, Any] = {
        "type": f"{type_base.rstrip('/')}/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": error.detail,
        "instance": instance,
        "requestId": request_id,
    }
    if error.errors:
        body["errors"] = [item.to_json() for item in error.errors]
    return body


def render_problem(
    request: Request[Any, Any, Any], error: SteveLiteError, problem: Problem | None = None
) -> Response[dict[str, Any]]:
    """The problem response for ``error`` (answered as ``problem``, by default its own)."""
    problem = problem or problem_for(error)
    request_id = request_id_for(request.scope)
    type_base = request.app.state.settings.error_type_base
    # ``instance`` is a URI reference (RFC 9457): the decoded path, percent-encoded again.
    instance = quote(request.url.path, safe=PATH_SAFE)
    body = problem_body(
        error, problem, type_base=type_base, instance=instance, request_id=request_id
    )
    headers = {"Request-Id": request_id}
    if isinstance(error, HttpError):
        headers.update(error.headers)
    return Response(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def handle_error(request: Request[Any, Any, Any], exc: SteveLiteError) -> Response[dict[str, Any]]:
    """Any error of the tree; object storage failures answer 503, worth a retry."""
    if isinstance(exc, StorageError):
        logger.warning("object storage failed on %s %s: %s", request.method, request.url.path, exc)
        exc = ServiceUnavailable(
            "object storage is unavailable; try again shortly",
            headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
        )
    return render_problem(request, exc)


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    """Litestar's own errors (unknown route, wrong method, body too large...) as problems."""
    status = exc.status_code
    if isinstance(exc, NotFoundException) or status == 404:
        error: SteveLiteError = NotFound(f"no route matches {request.method} {request.url.path}")
    elif status == 405:
        allowed = (exc.headers or {}).get("allow")
        error = MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}",
            headers={"Allow": allowed} if allowed else None,
        )
    elif status == 413:
        error = PayloadTooLarge("request body is too large")
    elif status >= 500:
        return handle_unexpected(request, exc)
    elif isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        error = invalid_parameters(exc.extra)
    else:
        problem = BY_STATUS.get(status, BAD_REQUEST)
        return render_problem(request, HttpError(str(exc.detail) or problem.title), problem)
    return render_problem(request, error)


def invalid_parameters(extra: list[Any]) -> Malformed:
    """Litestar's validation of a route's parameters. Bodies are validated by
    :func:`~steve_lite.http.bodies.read_model`; only a missing body reaches here."""
    if any(isinstance(item, dict) and item.get("source") == "body" for item in extra):
        return Malformed(BODY_REQUIRED)
    return Malformed(
        "invalid request parameters",
        errors=[
            FieldError(str(item.get("key")), str(item.get("message")), "invalid_parameter")
            for item in extra
            if isinstance(item, dict)
        ],
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Anything else: logged with the request id, answered without a stack trace."""
    request_id = request_id_for(request.scope)
    logger.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return render_problem(request, InternalError("an unexpected error occurred"))


EXCEPTION_HANDLERS = {
    SteveLiteError: handle_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
