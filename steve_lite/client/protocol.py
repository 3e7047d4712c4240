"""The wire side of the client, shared by the sync and async clients: configuration, the
request for each route, and the decoding of answers. Nothing here does I/O."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import version
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from steve_lite.client.errors import NETWORK_ERROR, SteveError, problem_error

Json = dict[str, Any]
DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "STEVE_URL"
API_KEY_ENV = "STEVE_API_KEY"
PAGE_SIZE = 100


def base_url_from(base_url: str | None) -> str:
    """``base_url``, else ``STEVE_URL``, else the local default."""
    return base_url or os.environ.get(URL_ENV) or DEFAULT_URL


def api_key_from(api_key: str | None) -> str:
    """``api_key``, else ``STEVE_API_KEY``; a ValueError when neither is set."""
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise ValueError(f"no API key: pass api_key or set {API_KEY_ENV}")
    return key


def api_headers(api_key: str) -> dict[str, str]:
    """The headers of every API call."""
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": f"steve-lite-client/{version('steve-lite')}",
    }


@dataclass(frozen=True)
class ApiRequest:
    """One call to the API, independent of the HTTP client that sends it."""

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    body: Json | None = None

    def next_page(self, cursor: str) -> ApiRequest:
        """The same list request for the page at ``cursor``."""
        return replace(self, params={**(self.params or {}), "cursor": cursor})


def _path(*segments: str | int) -> str:
    return "/api/v1/" + "/".join(quote(str(segment), safe="") for segment in segments)


def _without_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def list_workflows() -> ApiRequest:
    return ApiRequest("GET", _path("workflows"), {"limit": PAGE_SIZE})


def get_workflow(slug: str) -> ApiRequest:
    return ApiRequest("GET", _path("workflows", slug))


def get_workflow_version(slug: str, number: int) -> ApiRequest:
    return ApiRequest("GET", _path("workflows", slug, "versions", number))


class SessionOptions(TypedDict, total=False):
    """The optional fields of a new session (contract 2.2)."""

    client_submission_id: str | None  # the idempotency key; default: a new UUID
    webhook_url: str | None
    metadata: Json | None
    external_user: Json | None  # {id, name, email}


def create_session(
    workflow: str, content_types: Sequence[str], **options: Unpack[SessionOptions]
) -> ApiRequest:
    """A session for one file per content type."""
    body = _without_none(
        fileCount=len(content_types),
        contentTypes=list(content_types),
        clientSubmissionId=options.get("client_submission_id") or f"steve-lite-{uuid.uuid4()}",
        webhookUrl=options.get("webhook_url"),
        metadata=options.get("metadata"),
        externalUser=options.get("external_user"),
    )
    return ApiRequest("POST", _path("workflows", workflow, "sessions"), body=body)


def submit(workflow: str, session_id: str) -> ApiRequest:
    return ApiRequest("POST", _path("workflows", workflow, "sessions", session_id, "submit"))


def get_job(session_id: str) -> ApiRequest:
    return ApiRequest("GET", _path("jobs", session_id))


def list_submissions(
    workflow: str | None, status: str | None, fraud_status: str | None, page_size: int
) -> ApiRequest:
    params = _without_none(
        workflow=workflow, status=status, fraudStatus=fraud_status, limit=page_size
    )
    return ApiRequest("GET", _path("submissions"), params)


def get_submission(submission_id: str) -> ApiRequest:
    return ApiRequest("GET", _path("submissions", submission_id))


def review(submission_id: str, action: str, **body: str | None) -> ApiRequest:
    """``approve``, ``reject`` or ``cancel``, with the body fields that are set."""
    return ApiRequest(
        "POST", _path("submissions", submission_id, action), body=_without_none(**body)
    )


def list_fraud_matches(submission_id: str) -> ApiRequest:
    return ApiRequest(
        "GET", _path("submissions", submission_id, "fraud-matches"), {"limit": PAGE_SIZE}
    )


def resolve_fraud_match(
    submission_id: str, match_id: str, resolution: str, note: str | None
) -> ApiRequest:
    path = _path("submissions", submission_id, "fraud-matches", match_id, "resolve")
    return ApiRequest("POST", path, body=_without_none(resolution=resolution, note=note))


def test_webhook(webhook_url: str) -> ApiRequest:
    return ApiRequest("POST", _path("webhooks", "test"), body={"webhookUrl": webhook_url})


def decode(response: httpx.Response) -> Json:
    """The JSON object of a 2xx answer; raise SteveError for any other."""
    if not response.is_success:
        raise problem_error(response.status_code, response.headers, response.content)
    return response.json() if response.content else {}


def next_cursor(page: Json) -> str | None:
    """The cursor of the page after ``page``, None on the last one."""
    pagination = page.get("pagination") or {}
    return pagination.get("nextCursor") if pagination.get("hasMore") else None


def network_error(exc: httpx.TransportError, what: str) -> SteveError:
    """The error for a call that got no answer."""
    return SteveError(NETWORK_ERROR, f"{what}: {type(exc).__name__}: {exc}".rstrip(": "))
