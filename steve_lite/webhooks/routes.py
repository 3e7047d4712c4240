"""POST /api/v1/webhooks/test."""

from __future__ import annotations

from functools import partial
from typing import Any, TypedDict

import anyio
from litestar import Request, post
from litestar.params import JSONBody
from pydantic import Field

from steve_lite.http import reference as docs
from steve_lite.http.openapi import problem_responses
from steve_lite.schemas import RequestModel
from steve_lite.security.api_keys import ApiKey
from steve_lite.webhooks.service import test_webhook


class WebhookTestRequest(RequestModel):
    webhook_url: str = Field(min_length=1, max_length=2048)


class WebhookTestResult(TypedDict):
    success: bool
    statusCode: int | None
    error: str | None
    checkedAt: str


@post(
    "/webhooks/test",
    opt={"bucket": "webhook_test", "legacy_keys": True},
    status_code=200,
    tags=[docs.WEBHOOKS],
    summary="Test a webhook URL",
    description=docs.TEST_WEBHOOK,
    responses=problem_responses(413, 422),
)
async def post_webhook_test(
    request: Request[ApiKey, Any, Any], data: JSONBody[WebhookTestRequest]
) -> WebhookTestResult:
    """Send an unsigned ``webhook.test`` event to a URL and report what happened."""
    state = request.app.state
    probe = partial(test_webhook, state.settings, data.webhook_url)
    # Probes wait on their own few threads: slow targets cannot take the threads submit uses.
    answer = await anyio.to_thread.run_sync(probe, limiter=state.probe_threads)
    return answer  # type: ignore[return-value]


ROUTES = [post_webhook_test]
