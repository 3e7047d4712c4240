"""POST /api/v1/webhooks/test."""

from __future__ import annotations

from functools import partial
from typing import Any, TypedDict

import anyio
from litestar import Request, post
from pydantic import Field

from steve_lite.http import reference as docs
from steve_lite.http.bodies import read_json
from steve_lite.security.api_keys import ApiKey
from steve_lite.sessions.schemas import RequestModel
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
)
async def post_webhook_test(request: Request[ApiKey, Any, Any]) -> WebhookTestResult:
    """Send an unsigned ``webhook.test`` event to a URL and report what happened."""
    body = await read_json(request, WebhookTestRequest)
    state = request.app.state
    probe = partial(test_webhook, state.settings, body.webhook_url)
    # Probes wait on their own few threads: slow targets cannot take the threads submit uses.
    result = await anyio.to_thread.run_sync(probe, limiter=state.probe_threads)
    return result  # type: ignore[return-value]


ROUTES = [post_webhook_test]
