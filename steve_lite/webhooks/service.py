"""The webhook reachability test (``POST /api/v1/webhooks/test``)."""

from __future__ import annotations

from typing import Any

from steve_lite.errors import FieldError, Invalid
from steve_lite.security.urls import UrlRejected, validate_webhook_url
from steve_lite.settings import Settings
from steve_lite.webhooks.sender import probe_webhook

# Webhook tests running at once per API process; more wait their turn. Each may take the whole
# STEVE_WEBHOOK_TEST_TIMEOUT_SECONDS, and none may take a thread from the rest of the API.
PROBE_THREADS = 8


def test_webhook(settings: Settings, url: str) -> dict[str, Any]:
    """Check the URL like a session's, then send the unsigned ``webhook.test`` probe."""
    try:
        validate_webhook_url(url, allow_private=settings.webhook_allow_private)
    except UrlRejected as exc:
        raise Invalid(
            "the request body is invalid: webhookUrl",
            errors=[FieldError("webhookUrl", str(exc), "url_rejected")],
        ) from None
    return probe_webhook(
        url,
        timeout=settings.webhook_test_timeout_seconds,
        allow_private=settings.webhook_allow_private,
    )
