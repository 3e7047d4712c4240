"""The error vocabulary: one exception class per problem slug, rendered as RFC 9457."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One field-level problem: ``field`` is a JSON path such as ``contentTypes[2]``."""

    field: str
    message: str
    code: str = "invalid"

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


class ApiError(Exception):
    """An error that leaves the API as a problem document."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(ApiError):
    status, slug, title = 400, "bad-request", "Bad Request"


class Unauthorized(ApiError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(ApiError):
    status, slug, title = 403, "forbidden", "Forbidden"


class KeyNotCompanyScoped(ApiError):
    status, slug, title = 403, "key-not-company-scoped", "Key Not Company Scoped"


class NotFound(ApiError):
    status, slug, title = 404, "not-found", "Not Found"


class MethodNotAllowed(ApiError):
    status, slug, title = 405, "method-not-allowed", "Method Not Allowed"


class Conflict(ApiError):
    status, slug, title = 409, "conflict", "Conflict"


class SubmitConflict(Conflict):
    """Submit on a session that is not pending: 400 with slug ``conflict``, as Steve documents."""

    status = 400


class Gone(ApiError):
    status, slug, title = 410, "gone", "Gone"


class PayloadTooLarge(ApiError):
    status, slug, title = 413, "payload-too-large", "Payload Too Large"


class ValidationFailed(ApiError):
    status, slug, title = 422, "validation-error", "Validation Error"


class FilesMissing(ApiError):
    status, slug, title = 422, "files-missing", "Files Missing"


class RateLimitExceeded(ApiError):
    status, slug, title = 429, "rate-limit-exceeded", "Rate Limit Exceeded"


class InternalError(ApiError):
    status, slug, title = 500, "internal-error", "Internal Server Error"


class ServiceUnavailable(ApiError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"


ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PayloadTooLarge,
        ValidationFailed,
        RateLimitExceeded,
        InternalError,
        ServiceUnavailable,
    )
}


def problem_body(
    error: ApiError, *, type_base: str, instance: str, request_id: str
) -> dict[str, Any]:
    """The RFC 9457 document for ``error``."""
    body: dict[str, Any] = {
        "type": f"{type_base.rstrip('/')}/{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": instance,
        "requestId": request_id,
    }
    if error.errors:
        body["errors"] = [item.to_json() for item in error.errors]
    return body
