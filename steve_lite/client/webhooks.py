"""Checking a webhook delivery on the receiving side."""

from __future__ import annotations

from collections.abc import Mapping

from steve_lite.signatures import signing_secret, verify_signature


def verify_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    api_key: str,
    *,
    tolerance_seconds: int = 300,
    now: int | None = None,
) -> bool:
    """Tell whether a delivery is authentic: signed for ``api_key`` (the key that created the
    session) with either scheme (``X-Webhook-Signature`` or Standard Webhooks'
    ``webhook-signature``) and timestamped within ``tolerance_seconds`` of ``now`` (default: the
    clock). Pass the body exactly as received, before any JSON parsing."""
    return verify_signature(
        signing_secret(api_key), raw_body, headers, tolerance_seconds=tolerance_seconds, now=now
    )
