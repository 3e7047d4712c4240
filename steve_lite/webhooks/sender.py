"""Send one webhook POST safely: checked addresses only, no redirects, one total deadline.

The host is resolved once by `resolve_checked` and the connection goes to exactly those
addresses, so DNS rebinding between the check and the connection cannot redirect it. The URL's
hostname is still used for the `Host` header, TLS SNI and certificate verification.

This talks to httpcore, httpx's own transport layer, directly: `httpx.HTTPTransport` takes no
network backend, and pinning addresses needs one. httpcore reads no proxy settings from the
environment. Trust for https comes from `httpx.create_ssl_context` (certifi's CA bundle).
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpcore
import httpx

from steve_lite.clock import to_iso, utcnow
from steve_lite.security.urls import Resolver, UrlRejected, resolve_checked, validate_webhook_url
from steve_lite.signatures import CONTENT_TYPE, USER_AGENT

DEFAULT_PORTS = {"http": 80, "https": 443}
PROBE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class SendResult:
    """The outcome of one POST: `success` only for a 2xx received before the deadline."""

    success: bool
    status_code: int | None
    error: str | None
    body_excerpt: str


def send_webhook(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    allow_private: bool,
    resolver: Resolver | None = None,
    max_response_bytes: int = 4096,
    ssl_context: ssl.SSLContext | None = None,
) -> SendResult:
    """POST `body` to `url` and report the outcome; never raises for network failures.

    `timeout` bounds connecting, sending and receiving the response head together. At most
    `max_response_bytes` of the response body are kept, as a best-effort excerpt read within
    the same deadline. Redirects are reported, never followed. `ssl_context` replaces the
    default trust store (tests, private CAs).
    """
    deadline = time.monotonic() + timeout
    try:
        parts = urlsplit(validate_webhook_url(url, allow_private=allow_private))
    except UrlRejected as exc:
        return _failure(str(exc))
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    try:
        addresses = resolve_checked(host, port, allow_private=allow_private, resolver=resolver)
    except UrlRejected as exc:
        return _failure(str(exc))
    except OSError:
        return _failure(f"could not resolve host {host}")

    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    request_url = httpcore.URL(scheme=parts.scheme, host=host, port=port, target=target)
    request_headers = [*{**headers, "Host": parts.netloc}.items()]
    pool = httpcore.ConnectionPool(
        ssl_context=ssl_context or default_ssl_context(),
        network_backend=PinnedBackend(addresses, deadline),
        max_connections=1,
    )
    try:
        with pool, pool.stream("POST", request_url, headers=request_headers, content=body) as reply:
            excerpt = _read_excerpt(reply.iter_stream(), max_response_bytes)
            status = reply.status
    except httpcore.TimeoutException:
        return _failure(f"timed out after {float(timeout)}s")
    except httpcore.NetworkError as exc:
        return _failure(str(exc))
    except httpcore.ProtocolError as exc:
        return _failure(f"invalid response: {exc}")
    return _result_for_status(status, excerpt)


def probe_webhook(
    url: str,
    *,
    timeout: float = PROBE_TIMEOUT_SECONDS,
    allow_private: bool,
    resolver: Resolver | None = None,
    now: datetime | None = None,
) -> dict[str, bool | int | str | None]:
    """POST an unsigned `webhook.test` event and return the `POST /webhooks/test` answer."""
    checked_at = to_iso(now or utcnow())
    body = json.dumps({"type": "webhook.test", "timestamp": checked_at}).encode()
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT}
    result = send_webhook(
        url, body, headers, timeout=timeout, allow_private=allow_private, resolver=resolver
    )
    return {
        "success": result.success,
        "statusCode": result.status_code,
        "error": result.error,
        "checkedAt": checked_at,
    }


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The public trust store (certifi's bundle), built once and shared by every send.

    Loading the bundle takes about 20 ms of CPU, several times the cost of a local delivery;
    an `SSLContext` is safe to share between threads once configured.
    """
    return httpx.create_ssl_context(trust_env=False)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to pre-checked addresses, in order, whatever host name it is asked for.

    Every connection and every read and write on it must finish before `deadline`
    (a `time.monotonic()` value).
    """

    def __init__(self, addresses: Sequence[str], deadline: float) -> None:
        self._addresses = addresses
        self._deadline = deadline
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Open a TCP connection to the first checked address that accepts one."""
        last_error = httpcore.ConnectError("no address to connect to")
        for address in self._addresses:
            remaining = _remaining(self._deadline, httpcore.ConnectTimeout)
            try:
                with _short_network_errors():
                    stream = self._tcp.connect_tcp(
                        address,
                        port,
                        timeout=remaining,
                        local_address=local_address,
                        socket_options=socket_options,
                    )
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return DeadlineStream(stream, self._deadline)
        raise last_error


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation must finish before one shared deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read up to `max_bytes`, waiting no longer than the deadline allows."""
        remaining = _remaining(self._deadline, httpcore.ReadTimeout)
        with _short_network_errors():
            return self._stream.read(max_bytes, remaining)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write `buffer`, waiting no longer than the deadline allows."""
        remaining = _remaining(self._deadline, httpcore.WriteTimeout)
        with _short_network_errors():
            self._stream.write(buffer, remaining)

    def close(self) -> None:
        """Close the underlying stream."""
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """Upgrade to TLS for `server_hostname` (the URL's host), within the deadline."""
        remaining = _remaining(self._deadline, httpcore.ConnectTimeout)
        with _short_network_errors():
            tls = self._stream.start_tls(ssl_context, server_hostname, remaining)
        return DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> object:
        """Pass through connection details (`ssl_object`, `is_readable`, ...)."""
        return self._stream.get_extra_info(info)


def _remaining(deadline: float, timeout_error: type[httpcore.TimeoutException]) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise timeout_error("deadline exceeded")
    return remaining


def _read_excerpt(chunks: Iterable[bytes], limit: int) -> str:
    data = bytearray()
    try:
        for chunk in chunks:
            data += chunk
            if len(data) >= limit:
                break
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError):
        pass  # The status line decides the outcome; the body is only an excerpt.
    return bytes(data[:limit]).decode("utf-8", errors="replace")


@contextmanager
def _short_network_errors() -> Iterator[None]:
    # httpcore's connection pool drops the OS-level cause of its errors ("from None"), so the
    # short description is put in the message here, where the cause is still attached.
    try:
        yield
    except httpcore.NetworkError as exc:
        raise type(exc)(_describe_os_error(exc.__cause__)) from exc.__cause__


def _describe_os_error(cause: BaseException | None) -> str:
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return "connection reset"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake failed: {cause.reason or cause}"
    if isinstance(cause, OSError) and cause.strerror:
        return f"connection failed: {cause.strerror.lower()}"
    return f"connection failed: {cause}" if cause else "connection failed"


def _result_for_status(status: int, excerpt: str) -> SendResult:
    if 200 <= status < 300:
        return SendResult(success=True, status_code=status, error=None, body_excerpt=excerpt)
    error = "redirect not followed" if 300 <= status < 400 else f"HTTP {status}"
    return SendResult(success=False, status_code=status, error=error, body_excerpt=excerpt)


def _failure(error: str) -> SendResult:
    return SendResult(success=False, status_code=None, error=error, body_excerpt="")
