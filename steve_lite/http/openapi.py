"""The responses of the OpenAPI document as the API really answers them.

Litestar documents a 400 ``{status_code, detail, extra}`` as ``application/json`` for every
route with parameters, and nothing else. steve-lite answers every error with
``application/problem+json`` (:mod:`steve_lite.http.problems`), so :func:`document_problems`
replaces that 400 and adds, per ``/api/v1`` operation, the problem statuses it can answer, and
the 200 of an idempotent session create (a replay) beside its 201.
"""

from __future__ import annotations

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from steve_lite.http.problems import PROBLEM_JSON

API_PREFIX = "/api/v1/"
PROBLEM_SCHEMA = "ProblemDetails"
DESCRIPTIONS = {
    400: "Bad request: a malformed body, parameter, cursor or X-Request-Id",
    401: "Missing, malformed or unknown API key",
    403: "Revoked key, deactivated company, or a legacy key on a company route",
    404: "Not found, or not visible to this key",
    409: "Conflict: wrong state for this transition, or an idempotency clash",
    410: "The session expired",
    413: "The request body is larger than the limit",
    422: "Validation error: one errors[] entry per field",
    429: "Rate limit exceeded (see Retry-After)",
    500: "Unexpected error (logged with the request id)",
    503: "Object storage is unavailable (see Retry-After)",
}
ALWAYS = (400, 401, 403, 429, 500)
REVIEW_ACTIONS = ("/approve", "/reject", "/cancel", "/resolve")


def problem_schema() -> Schema:
    string = Schema(type=OpenAPIType.STRING)
    field_error = Schema(
        type=OpenAPIType.OBJECT,
        required=["field", "message", "code"],
        properties={"field": string, "message": string, "code": string},
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["type", "title", "status", "detail", "instance", "requestId"],
        properties={
            "type": string,
            "title": string,
            "status": Schema(type=OpenAPIType.INTEGER),
            "detail": string,
            "instance": string,
            "requestId": string,
            "errors": Schema(type=OpenAPIType.ARRAY, items=field_error),
        },
        description="An RFC 9457 problem document",
    )


def problem_statuses(method: str, path: str) -> list[int]:
    """The error statuses an ``/api/v1`` operation can answer."""
    statuses = set(ALWAYS)
    if "{" in path:
        statuses.add(404)
    if method == "get" and path.endswith("/submissions"):
        statuses.add(422)  # an unknown status or fraudStatus filter
    if method == "post":
        statuses.add(422)
        if path.endswith("/submit"):
            statuses.update((404, 410, 503))
        else:
            statuses.add(413)
        if path.endswith("/sessions"):
            statuses.update((404, 409))
        if path.endswith(REVIEW_ACTIONS):
            statuses.add(409)
    return sorted(statuses)


def document_problems(openapi: OpenAPI) -> None:
    """Document every ``/api/v1`` error response as ``application/problem+json`` (in place)."""
    if openapi.components.schemas is None:
        openapi.components.schemas = {}
    openapi.components.schemas[PROBLEM_SCHEMA] = problem_schema()
    reference = Reference(ref=f"#/components/schemas/{PROBLEM_SCHEMA}")
    for path, item in (openapi.paths or {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method in ("get", "post"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            created = responses.get("201")
            if path.endswith("/sessions") and isinstance(created, OpenAPIResponse):
                responses["200"] = OpenAPIResponse(
                    description="Idempotent replay: the same session, freshly signed URLs",
                    content=created.content,
                )
            for status in problem_statuses(method, path):
                responses[str(status)] = OpenAPIResponse(
                    description=DESCRIPTIONS[status],
                    content={PROBLEM_JSON: OpenAPIMediaType(schema=reference)},
                )
            operation.responses = responses
