"""What routes declare so that Litestar's one OpenAPI document says how the API really answers,
and the one way that document is served.

Every error is answered as ``application/problem+json`` (:mod:`steve_lite.http.problems`):
:func:`problem_responses` is the ``responses=`` of an ``/api/v1`` route, the problem statuses it
can answer. :class:`OptionalBody` marks a route whose body may be left out. Litestar writes the
document from these declarations and the handlers' bodies; :func:`served_document` only adds
the reference's examples (as JSON, whose ``null`` values Litestar's spec objects would drop),
for ``/openapi.json``, ``/docs/openapi.json`` and the docs page alike.
"""

import copy
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from litestar import Request
from litestar.openapi import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Operation, RequestBody

from steve_lite.http.problems import PROBLEM_JSON
from steve_lite.http.reference import add_examples

DESCRIPTIONS = {
    400: "Bad request: a malformed body, parameter, cursor or X-Request-Id",
    401: "Missing, malformed or unknown API key",
    403: "Revoked key, deactivated company, or a legacy key on a company route",
    404: "Not found, or not visible to this key",
    409: "Conflict: wrong state for this transition, an idempotency clash, or an upload "
    "replaced while it was being submitted",
    410: "The session expired",
    413: "The request body is larger than the limit",
    422: "Validation error: one errors[] entry per field",
    429: "Rate limit exceeded (see Retry-After)",
    500: "Unexpected error (logged with the request id)",
    503: "Object storage is unavailable (see Retry-After)",
}
ALWAYS = (400, 401, 403, 429, 500)


class FieldErrorJson(TypedDict):
    field: str
    message: str
    code: str


# Not ``from __future__ import annotations``: TypedDict must see ``NotRequired`` itself.
class ProblemDetails(TypedDict):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    requestId: str
    errors: NotRequired[list[FieldErrorJson]]


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem answers of a route: those of every ``/api/v1`` route, and ``statuses``."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=DESCRIPTIONS[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in sorted({*ALWAYS, *statuses})
    }


@dataclass
class OptionalBody(Operation):
    """The operation of a route whose body may be left out (every field has a default)."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


def served_document(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as every path serves it: Litestar's, with the examples."""
    return add_examples(copy.deepcopy(document))


class JsonWithExamples(JsonRenderPlugin):
    """``/docs/openapi.json``: :func:`served_document`."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, served_document(openapi_schema))


class SwaggerWithExamples(SwaggerRenderPlugin):
    """The docs page (Swagger UI, offline) on :func:`served_document`."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, served_document(openapi_schema))
