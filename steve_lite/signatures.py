"""Webhook signatures (contract 2.7): steve's `sha256=` scheme and Standard Webhooks `v1`.

Standard library only: the server signs with it and `steve_lite.client` verifies with it.

The signing key is the lowercase hex SHA-256 of the plaintext API key, the string the server
stores; the HMAC key is that string's ASCII bytes.

Standard Webhooks libraries take a base64 secret, usually prefixed `whsec_`, and HMAC with the
base64-decoded bytes. So a receiver using such a library must be given
`"whsec_" + base64(secret_hex.encode("ascii"))`, which `standard_webhooks_secret` returns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

CONTENT_TYPE = "application/json"
USER_AGENT = "steve-webhook/1.0"
SHA256_PREFIX = "sha256="
STANDARD_VERSION = "v1"


def signing_secret(api_key: str) -> str:
    """The signing key of deliveries for sessions created with `api_key`: the lowercase hex
    SHA-256 of the plaintext key, the form the server stores."""
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def sign_sha256(secret_hex: str, body: bytes) -> str:
    """Return the `X-Webhook-Signature` value: `sha256=` and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret_hex.encode("ascii"), body, hashlib.sha256).hexdigest()
    return f"{SHA256_PREFIX}{digest}"


def sign_standard(secret_hex: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` value: `v1,` and the base64 HMAC of `id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_hex.encode("ascii"), signed, hashlib.sha256).digest()
    return f"{STANDARD_VERSION},{base64.b64encode(digest).decode('ascii')}"


def standard_webhooks_secret(secret_hex: str) -> str:
    """Return the secret a Standard Webhooks library needs to verify our `v1` signatures."""
    return "whsec_" + base64.b64encode(secret_hex.encode("ascii")).decode("ascii")


def signature_headers(
    *, secret_hex: str, event_id: str, event_type: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """Return every header of a signed webhook delivery attempt (contract 2.7)."""
    return {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        "X-Webhook-Event": event_type,
        "X-Webhook-Id": event_id,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": sign_sha256(secret_hex, body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(secret_hex, event_id, timestamp, body),
    }


def verify_signature(
    secret_hex: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_seconds: int = 300,
    now: int | None = None,
) -> bool:
    """Tell whether a delivery is authentic, as a receiver would check it.

    True when the `X-Webhook-Signature` or the `webhook-signature` header matches and that
    scheme's timestamp header is within `tolerance_seconds` of `now` (default: the clock).
    Header names are case-insensitive; comparisons are constant-time.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    current = int(time.time()) if now is None else now
    return _verify_sha256(secret_hex, body, lowered, tolerance_seconds, current) or (
        _verify_standard(secret_hex, body, lowered, tolerance_seconds, current)
    )


def _verify_sha256(
    secret_hex: str, body: bytes, headers: Mapping[str, str], tolerance: int, now: int
) -> bool:
    signature = headers.get("x-webhook-signature")
    if signature is None or not _is_fresh(headers.get("x-webhook-timestamp"), tolerance, now):
        return False
    return hmac.compare_digest(signature.encode(), sign_sha256(secret_hex, body).encode())


def _verify_standard(
    secret_hex: str, body: bytes, headers: Mapping[str, str], tolerance: int, now: int
) -> bool:
    msg_id = headers.get("webhook-id")
    signatures = headers.get("webhook-signature")
    timestamp = headers.get("webhook-timestamp")
    if msg_id is None or signatures is None or timestamp is None:
        return False
    if not _is_fresh(timestamp, tolerance, now):
        return False
    expected = sign_standard(secret_hex, msg_id, int(timestamp), body).encode()
    # The header may carry several space-separated signatures (key rotation); one must match.
    return any(
        hmac.compare_digest(candidate.encode(), expected) for candidate in signatures.split()
    )


def _is_fresh(timestamp: str | None, tolerance: int, now: int) -> bool:
    if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()):
        return False
    return abs(now - int(timestamp)) <= tolerance
