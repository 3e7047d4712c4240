"""The webhook sender against a real receiver on 127.0.0.1: outcomes, pinning, TLS and probes."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from steve_lite.signatures import signature_headers
from steve_lite.webhooks.sender import SendResult, probe_webhook, send_webhook
from tests.fixtures.receiver import ScriptedResponse, WebhookReceiver

BODY = b'{"eventId":"evt_1","eventType":"session.completed","state":"completed"}'
SECRET_HEX = "5f" * 32
HEADERS = signature_headers(
    secret_hex=SECRET_HEX,
    event_id="evt_1",
    event_type="session.completed",
    body=BODY,
    timestamp=1_774_432_000,
)


def post(url: str, *, timeout: float = 5.0, **kwargs: object) -> SendResult:
    options: dict[str, object] = {"allow_private": True, **kwargs}
    return send_webhook(url, BODY, HEADERS, timeout=timeout, **options)  # type: ignore[arg-type]


def resolving(mapping: dict[str, list[str]], calls: list[str]) -> Callable[[str, int], list[str]]:
    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return mapping[host]

    return resolver


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_2xx_succeeds_and_the_receiver_gets_the_exact_body_and_headers(
    webhook_receiver: WebhookReceiver,
) -> None:
    result = post(webhook_receiver.url)

    assert result == SendResult(success=True, status_code=200, error=None, body_excerpt="ok")
    [request] = webhook_receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook", BODY)
    for name, value in HEADERS.items():
        assert request.headers[name.lower()] == value
    assert request.headers["host"] == f"127.0.0.1:{webhook_receiver.port}"
    assert request.headers["content-length"] == str(len(BODY))


def test_500_is_a_failure_with_its_status(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script([ScriptedResponse(500, body=b"boom")])

    result = post(webhook_receiver.url)

    assert result == SendResult(
        success=False, status_code=500, error="HTTP 500", body_excerpt="boom"
    )


def test_a_redirect_is_not_followed(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script([ScriptedResponse(302, location=webhook_receiver.url + "/next")])

    result = post(webhook_receiver.url)

    assert (result.success, result.status_code, result.error) == (
        False,
        302,
        "redirect not followed",
    )
    assert [request.path for request in webhook_receiver.requests] == ["/hook"]


def test_a_slow_receiver_fails_at_the_timeout(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script([ScriptedResponse(200, delay=3.0)])

    result = post(webhook_receiver.url, timeout=1.0)

    assert result == SendResult(
        success=False, status_code=None, error="timed out after 1.0s", body_excerpt=""
    )


def test_the_timeout_is_a_total_deadline_not_a_per_read_limit(
    webhook_receiver: WebhookReceiver,
) -> None:
    # One byte every 0.1 s: no single read waits long, but the head takes several seconds.
    webhook_receiver.script([ScriptedResponse(200, trickle=0.1)])

    result = post(webhook_receiver.url, timeout=1.0)

    assert result.error == "timed out after 1.0s"
    assert result.success is False


def test_a_closed_port_is_connection_refused() -> None:
    result = post(f"http://127.0.0.1:{closed_port()}/hook")

    assert result == SendResult(
        success=False, status_code=None, error="connection refused", body_excerpt=""
    )


def test_only_max_response_bytes_of_the_body_are_kept(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script([ScriptedResponse(200, body=b"x" * 100_000)])

    result = post(webhook_receiver.url, max_response_bytes=100)

    assert result.success is True
    assert result.body_excerpt == "x" * 100


def test_connects_to_the_checked_address_and_keeps_the_host_name(
    webhook_receiver: WebhookReceiver,
) -> None:
    calls: list[str] = []
    resolver = resolving({"hooks.test": ["127.0.0.1"]}, calls)

    result = post(f"http://hooks.test:{webhook_receiver.port}/hook", resolver=resolver)

    assert result.success is True
    [request] = webhook_receiver.requests
    assert request.headers["host"] == f"hooks.test:{webhook_receiver.port}"
    assert calls == ["hooks.test"]


def test_tries_the_checked_addresses_in_order(webhook_receiver: WebhookReceiver) -> None:
    # Nothing listens on 127.0.0.2 at that port (the receiver is bound to 127.0.0.1 only).
    calls: list[str] = []
    resolver = resolving({"hooks.test": ["127.0.0.2", "127.0.0.1"]}, calls)

    result = post(f"http://hooks.test:{webhook_receiver.port}/hook", resolver=resolver)

    assert result.success is True
    assert len(webhook_receiver.requests) == 1


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(
    webhook_receiver: WebhookReceiver,
) -> None:
    calls: list[str] = []
    resolver = resolving({"hooks.test": ["127.0.0.1"]}, calls)

    result = post(
        f"https://hooks.test:{webhook_receiver.port}/hook", allow_private=False, resolver=resolver
    )

    assert result == SendResult(
        success=False, status_code=None, error="address not allowed: 127.0.0.1", body_excerpt=""
    )
    assert calls == ["hooks.test"]
    assert webhook_receiver.connections == 0


def test_http_and_private_literals_are_refused_without_allow_private(
    webhook_receiver: WebhookReceiver,
) -> None:
    plain = post(f"http://hooks.test:{webhook_receiver.port}/hook", allow_private=False)
    literal = post(f"https://127.0.0.1:{webhook_receiver.port}/hook", allow_private=False)

    assert plain.error == "webhookUrl must use https"
    assert literal.error == "webhookUrl host is not a public address (127.0.0.1)"
    assert webhook_receiver.connections == 0


def test_a_name_that_does_not_resolve_is_reported() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = post("http://nowhere.test/hook", resolver=resolver)

    assert result.error == "could not resolve host nowhere.test"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `hooks.test`, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=hooks.test",
            "-addext", "subjectAltName=DNS:hooks.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[WebhookReceiver]:
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    receiver = WebhookReceiver(tls=server_context)
    try:
        yield receiver
    finally:
        receiver.stop()


def test_tls_is_verified_against_the_url_host_while_connecting_to_the_pinned_address(
    tls_receiver: WebhookReceiver, certificate: tuple[Path, Path]
) -> None:
    trust = ssl.create_default_context(cafile=certificate[0])
    resolver = resolving({"hooks.test": ["127.0.0.1"]}, [])

    result = post(
        f"https://hooks.test:{tls_receiver.port}/hook", resolver=resolver, ssl_context=trust
    )

    assert result.success is True
    [request] = tls_receiver.requests
    assert request.headers["host"] == f"hooks.test:{tls_receiver.port}"
    assert request.body == BODY


def test_tls_refuses_a_certificate_for_another_name(
    tls_receiver: WebhookReceiver, certificate: tuple[Path, Path]
) -> None:
    trust = ssl.create_default_context(cafile=certificate[0])
    resolver = resolving({"other.test": ["127.0.0.1"]}, [])

    result = post(
        f"https://other.test:{tls_receiver.port}/hook", resolver=resolver, ssl_context=trust
    )

    assert result.success is False
    assert result.error is not None
    assert result.error.startswith("TLS certificate verification failed")
    assert "other.test" in result.error
    assert tls_receiver.requests == []


def test_tls_uses_the_public_trust_store_by_default(tls_receiver: WebhookReceiver) -> None:
    resolver = resolving({"hooks.test": ["127.0.0.1"]}, [])

    result = post(f"https://hooks.test:{tls_receiver.port}/hook", resolver=resolver)

    assert result.error is not None
    assert result.error.startswith("TLS certificate verification failed")
    assert tls_receiver.requests == []


CHECKED_AT = datetime(2026, 3, 25, 10, 5, 30, 123456, tzinfo=UTC)


def test_probe_reports_a_2xx_and_sends_an_unsigned_test_event(
    webhook_receiver: WebhookReceiver,
) -> None:
    webhook_receiver.script([204])

    answer = probe_webhook(webhook_receiver.url, allow_private=True, now=CHECKED_AT)

    assert answer == {
        "success": True,
        "statusCode": 204,
        "error": None,
        "checkedAt": "2026-03-25T10:05:30.123Z",
    }
    [request] = webhook_receiver.requests
    assert request.body == b'{"type": "webhook.test", "timestamp": "2026-03-25T10:05:30.123Z"}'
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "steve-webhook/1.0"
    assert not any("signature" in name for name in request.headers)


def test_probe_reports_a_non_2xx(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script([503])

    answer = probe_webhook(webhook_receiver.url, allow_private=True, now=CHECKED_AT)

    assert answer == {
        "success": False,
        "statusCode": 503,
        "error": "HTTP 503",
        "checkedAt": "2026-03-25T10:05:30.123Z",
    }


def test_probe_reports_a_timeout(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script([ScriptedResponse(200, delay=3.0)])

    answer = probe_webhook(webhook_receiver.url, timeout=0.5, allow_private=True, now=CHECKED_AT)

    assert answer["success"] is False
    assert answer["statusCode"] is None
    assert answer["error"] == "timed out after 0.5s"


def test_probe_reports_a_refused_connection() -> None:
    answer = probe_webhook(
        f"http://127.0.0.1:{closed_port()}/hook", allow_private=True, now=CHECKED_AT
    )

    assert answer == {
        "success": False,
        "statusCode": None,
        "error": "connection refused",
        "checkedAt": "2026-03-25T10:05:30.123Z",
    }


def test_probe_reports_a_refused_address() -> None:
    answer = probe_webhook(
        "https://hooks.example.com/hook",
        allow_private=False,
        resolver=lambda host, port: ["10.0.0.5"],
        now=CHECKED_AT,
    )

    assert answer["success"] is False
    assert answer["error"] == "address not allowed: 10.0.0.5"


def test_probe_checked_at_defaults_to_now(webhook_receiver: WebhookReceiver) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    answer = probe_webhook(webhook_receiver.url, allow_private=True)

    checked_at = datetime.strptime(str(answer["checkedAt"]), "%Y-%m-%dT%H:%M:%S.%fZ")
    assert checked_at.replace(tzinfo=UTC) >= before
    assert str(answer["checkedAt"]).endswith("Z")
