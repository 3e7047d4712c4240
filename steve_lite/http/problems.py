"""The one renderer: every error that leaves the API becomes an RFC 9457 problem document."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from steve_lite.errors import (
    ERRORS_BY_STATUS,
    ApiError,
    BadRequest,
    FieldError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    problem_body,
)
from steve_lite.http.request_id import request_id_for
from steve_lite.storage.s3 import StorageError

PROBLEM_JSON = "application/problem+json"
# RFC 3986 sub-delims, ":" and "@" may stay as they are in a path segment.
PATH_SAFE = "/!$&'()*+,;=:@"
STORAGE_RETRY_AFTER_SECONDS = 5
logger = logging.getLogger("steve_lite.http")


def render_problem(request: Request[Any, Any, Any], error: ApiError) -> Response[dict[str, Any]]:
    """The problem response for ``error``."""
    request_id = request_id_for(request.scope)
    type_base = request.app.state.settings.error_type_base
    # ``instance`` is a URI reference (RFC 9457): the decoded path, percent-encoded again.
    instance = quote(request.url.path, safe=PATH_SAFE)
    body = problem_body(error, type_base=type_base, instance=instance, request_id=request_id)
    headers = {"Request-Id": request_id, **error.headers}
    return Response(body, status_code=error.status, media_type=PROBLEM_JSON, headers=headers)


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return render_problem(request, exc)


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    """Litestar's own errors (unknown route, wrong method, body too large...) as problems."""
    status = exc.status_code
    if isinstance(exc, NotFoundException) or status == 404:
        error: ApiError = NotFound(f"no route matches {request.method} {request.url.path}")
    elif status == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        allowed = (exc.headers or {}).get("allow")
        if allowed:
            error.headers["Allow"] = allowed
    elif status == 413:
        error = PayloadTooLarge("request body is too large")
    elif status >= 500:
        return handle_unexpected(request, exc)
    elif isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        error = BadRequest(
            "invalid request parameters",
            errors=[
                FieldError(str(item.get("key")), str(item.get("message")), "invalid_parameter")
                for item in exc.extra
                if isinstance(item, dict)
            ],
        )
    else:
        error_class = ERRORS_BY_STATUS.get(status, BadRequest)
        error = error_class(str(exc.detail) or error_class.title)
    return render_problem(request, error)


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


def handle_storage_error(
    request: Request[Any, Any, Any], exc: StorageError
) -> Response[dict[str, Any]]:
    """Object storage down or failing (submit reads the uploads): 503, worth a retry."""
    logger.warning("object storage failed on %s %s: %s", request.method, request.url.path, exc)
    error = ServiceUnavailable(
        "object storage is unavailable; try again shortly",
        headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
    )
    return render_problem(request, error)


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    StorageError: handle_storage_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
