"""Checking an RFC 9457 answer: the wire format of every error."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is the problem ``slug`` with ``status``, for this request; its body."""
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"].endswith(f"/{slug}"), body
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    assert body["requestId"] == response.headers["request-id"]
    return body
