"""Webhook signatures: known answers, Standard Webhooks interop and receiver-side checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from steve_lite.signatures import (
    sign_sha256,
    sign_standard,
    signature_headers,
    standard_webhooks_secret,
    verify_signature,
)

API_KEY = "aok_" + "ab" * 32
SECRET_HEX = hashlib.sha256(API_KEY.encode()).hexdigest()
BODY = json.dumps({"eventId": "evt_1", "eventType": "session.completed", "note": "ü"}).encode()
EVENT_ID = "evt_01HZX3"
TIMESTAMP = 1_774_432_000


def expected_sha256(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET_HEX.encode("ascii"), body, hashlib.sha256).hexdigest()


def expected_standard(msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(SECRET_HEX.encode("ascii"), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_sha256_signature_matches_an_independent_hmac() -> None:
    assert sign_sha256(SECRET_HEX, BODY) == expected_sha256(BODY)


def test_sha256_signature_of_an_empty_body_with_a_fixed_key() -> None:
    # HMAC-SHA256(key="key", data="") from a reference implementation.
    assert sign_sha256("key", b"") == (
        "sha256=5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"
    )


def test_standard_signature_matches_an_independent_hmac() -> None:
    assert sign_standard(SECRET_HEX, EVENT_ID, TIMESTAMP, BODY) == expected_standard(
        EVENT_ID, TIMESTAMP, BODY
    )


def test_standard_webhooks_secret_encodes_the_hex_string() -> None:
    secret = standard_webhooks_secret(SECRET_HEX)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == SECRET_HEX.encode("ascii")


def test_signature_headers_carry_every_contract_header() -> None:
    headers = signature_headers(
        secret_hex=SECRET_HEX,
        event_id=EVENT_ID,
        event_type="session.completed",
        body=BODY,
        timestamp=TIMESTAMP,
    )
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "steve-webhook/1.0",
        "X-Webhook-Event": "session.completed",
        "X-Webhook-Id": EVENT_ID,
        "X-Webhook-Timestamp": str(TIMESTAMP),
        "X-Webhook-Signature": expected_sha256(BODY),
        "webhook-id": EVENT_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": expected_standard(EVENT_ID, TIMESTAMP, BODY),
    }


def test_standardwebhooks_package_verifies_our_headers() -> None:
    now = int(time.time())
    headers = signature_headers(
        secret_hex=SECRET_HEX,
        event_id=EVENT_ID,
        event_type="session.completed",
        body=BODY,
        timestamp=now,
    )
    receiver = Webhook(standard_webhooks_secret(SECRET_HEX))
    assert receiver.verify(BODY, headers) == json.loads(BODY)


def test_standardwebhooks_package_refuses_the_raw_hex_as_secret() -> None:
    # Documented trap: the library base64-decodes its secret, so the hex string itself is wrong.
    now = int(time.time())
    headers = signature_headers(
        secret_hex=SECRET_HEX, event_id=EVENT_ID, event_type="t", body=BODY, timestamp=now
    )
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + SECRET_HEX).verify(BODY, headers)


def make_headers(body: bytes = BODY, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return signature_headers(
        secret_hex=SECRET_HEX,
        event_id=EVENT_ID,
        event_type="session.completed",
        body=body,
        timestamp=timestamp,
    )


def only(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {name: headers[name] for name in names}


SHA256_HEADERS = ("X-Webhook-Signature", "X-Webhook-Timestamp")
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@pytest.mark.parametrize("names", [SHA256_HEADERS, STANDARD_HEADERS])
def test_verify_accepts_each_scheme_alone(names: tuple[str, ...]) -> None:
    headers = only(make_headers(), *names)
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP + 10) is True


def test_verify_ignores_header_name_case() -> None:
    headers = {name.upper(): value for name, value in make_headers().items()}
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP) is True


@pytest.mark.parametrize("names", [SHA256_HEADERS, STANDARD_HEADERS])
def test_verify_rejects_a_tampered_body(names: tuple[str, ...]) -> None:
    headers = only(make_headers(), *names)
    assert verify_signature(SECRET_HEX, BODY + b" ", headers, now=TIMESTAMP) is False


@pytest.mark.parametrize("names", [SHA256_HEADERS, STANDARD_HEADERS])
def test_verify_rejects_a_wrong_key(names: tuple[str, ...]) -> None:
    headers = only(make_headers(), *names)
    other_secret = hashlib.sha256(b"aok_other").hexdigest()
    assert verify_signature(other_secret, BODY, headers, now=TIMESTAMP) is False


@pytest.mark.parametrize("names", [SHA256_HEADERS, STANDARD_HEADERS])
@pytest.mark.parametrize("skew", [-301, 301, -100_000])
def test_verify_rejects_timestamps_outside_the_tolerance(names: tuple[str, ...], skew: int) -> None:
    headers = only(make_headers(), *names)
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP - skew) is False


def test_verify_accepts_the_tolerance_boundary() -> None:
    headers = make_headers()
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP + 300) is True
    assert verify_signature(
        SECRET_HEX, BODY, headers, now=TIMESTAMP + 60, tolerance_seconds=59
    ) is (False)


def test_verify_rejects_a_standard_signature_replayed_with_another_timestamp() -> None:
    headers = only(make_headers(), *STANDARD_HEADERS)
    headers["webhook-timestamp"] = str(TIMESTAMP + 5)
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP) is False


def test_verify_finds_a_match_among_several_standard_signatures() -> None:
    headers = only(make_headers(), *STANDARD_HEADERS)
    headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP) is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Webhook-Signature": "sha256=00"},
        {"X-Webhook-Signature": expected_sha256(BODY), "X-Webhook-Timestamp": "soon"},
        {"webhook-id": EVENT_ID, "webhook-signature": expected_standard(EVENT_ID, 1, BODY)},
    ],
)
def test_verify_rejects_missing_or_malformed_headers(headers: dict[str, str]) -> None:
    assert verify_signature(SECRET_HEX, BODY, headers, now=TIMESTAMP) is False
