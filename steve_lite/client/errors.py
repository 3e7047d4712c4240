"""The client's one exception type, carrying the problem document (RFC 9457) of a failed call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

NETWORK_ERROR = "network-error"
UPLOAD_FAILED = "upload-failed"
WAIT_TIMEOUT = "timeout"
UNEXPECTED_RESPONSE = "unexpected-response"


class SteveError(Exception):
    """A failed call: the problem's ``slug``, ``status``, ``detail``, field ``errors`` and
    ``request_id``; ``problem`` is the whole body.

    Failures the API did not answer for have a client-side slug: ``network-error`` (no answer,
    ``status`` None), ``upload-failed`` (object storage refused a file), ``timeout`` (``wait``
    reached its deadline, ``status`` None) or ``unexpected-response`` (an answer that is not a
    problem document).
    """

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.status = status
        self.errors = errors or []
        self.request_id = request_id
        self.problem = problem or {}

    def __str__(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        lines = [f"{self.slug}{status}: {self.detail}"]
        lines += [f"  {item.get('field')}: {item.get('message')}" for item in self.errors]
        if self.request_id:
            lines.append(f"  request id: {self.request_id}")
        return "\n".join(lines)


def problem_error(status: int, headers: Mapping[str, str], content: bytes) -> SteveError:
    """The error for a non-2xx API answer; the slug is the last segment of the problem's
    ``type``."""
    request_id = headers.get("request-id")
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        text = content.decode("utf-8", "replace").strip()[:200] or "(empty body)"
        return SteveError(
            UNEXPECTED_RESPONSE, f"HTTP {status}: {text}", status=status, request_id=request_id
        )
    errors = body.get("errors")
    return SteveError(
        body["type"].rstrip("/").rsplit("/", 1)[-1],
        str(body.get("detail") or body.get("title") or f"HTTP {status}"),
        status=body.get("status", status),
        errors=errors if isinstance(errors, list) else [],
        request_id=body.get("requestId") or request_id,
        problem=body,
    )
