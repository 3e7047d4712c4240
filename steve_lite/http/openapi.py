"""The responses of the OpenAPI document as the API really answers them.

Litestar documents a 400 ``{status_code, detail, extra}`` as ``application/json`` for every
route with parameters, and nothing else. steve-lite answers every error with
``application/problem+json`` (:mod:`steve_lite.http.problems`), so :func:`document_problems`
replaces that 400 and adds, per ``/api/v1`` operation, the problem statuses it can answer, and
the 200 of an idempotent session create (a replay) beside its 201.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from pydantic import BaseModel

from steve_lite.http.problems import PROBLEM_JSON
from steve_lite.http.reference import add_examples

API_PREFIX = "/api/v1/"
PROBLEM_SCHEMA = "ProblemDetails"
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
    if method == "patch":  # corrections: like a review action
        statuses.update((409, 413, 422))
    if method == "post":
        statuses.add(422)
        if path.endswith("/submit"):
            statuses.update((404, 409, 410, 503))
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
        for method in ("get", "post", "patch"):
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


def request_body_models() -> dict[tuple[str, str], type[BaseModel]]:
    """The JSON body of each ``/api/v1`` POST or PATCH that takes one (routes read bodies
    themselves)."""
    from steve_lite.sessions.schemas import SessionCreate
    from steve_lite.submissions.schemas import (
        ApproveRequest,
        CancelRequest,
        CorrectRequest,
        RejectRequest,
        ResolveRequest,
    )
    from steve_lite.webhooks.routes import WebhookTestRequest

    submission = "/api/v1/submissions/{submission_id}"
    return {
        ("/api/v1/workflows/{slug}/sessions", "required"): SessionCreate,
        ("/api/v1/ocr/sessions", "required"): SessionCreate,
        ("/api/v1/compliance/sessions", "required"): SessionCreate,
        (submission, "required"): CorrectRequest,
        (f"{submission}/approve", "optional"): ApproveRequest,
        (f"{submission}/reject", "required"): RejectRequest,
        (f"{submission}/cancel", "optional"): CancelRequest,
        (f"{submission}/fraud-matches/{{match_id}}/resolve", "required"): ResolveRequest,
        ("/api/v1/webhooks/test", "required"): WebhookTestRequest,
    }


def add_request_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """Describe the request bodies in a rendered OpenAPI document (in place; returned)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for (path, need), model in request_body_models().items():
        item = document.get("paths", {}).get(path, {})
        operation = item.get("post") or item.get("patch")
        if operation is None:
            continue
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        operation["requestBody"] = {
            "required": need == "required",
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    return document


class SwaggerWithBodies(SwaggerRenderPlugin):
    """Swagger UI on the document that :func:`add_request_bodies` completes."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        document = add_request_bodies(copy.deepcopy(openapi_schema))
        return super().render(request, add_examples(document))
