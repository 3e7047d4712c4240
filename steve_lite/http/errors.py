"""Errors that exist only on the wire: raised by middleware and the router, never by services.

They join the one error tree (:class:`~steve_lite.errors.SteveLiteError`) and carry the headers
their answer needs (``Allow``, ``Retry-After``, rate-limit counts).
"""

from __future__ import annotations

from steve_lite.errors import FieldError, SteveLiteError


class HttpError(SteveLiteError):
    """An error of the HTTP layer, with the headers its problem document is sent with."""

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors)
        self.headers = headers or {}


class Unauthorized(HttpError):
    """No API key, a malformed one, or one that is not recognised."""


class Forbidden(HttpError):
    """A revoked key, or a key of a deactivated company."""


class KeyNotCompanyScoped(HttpError):
    """A legacy key (no company) on a route that needs a company."""


class MethodNotAllowed(HttpError):
    """The route exists, but not for this method."""


class PayloadTooLarge(HttpError):
    """The request body is larger than ``STEVE_MAX_BODY_BYTES``."""


class RateLimitExceeded(HttpError):
    """The key used up its requests of this window in the route's bucket."""


class InternalError(HttpError):
    """Something failed that nobody planned for (logged with the request id)."""


class ServiceUnavailable(HttpError):
    """A dependency is down; worth a retry after ``Retry-After``."""
