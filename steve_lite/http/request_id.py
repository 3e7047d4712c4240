"""Request ids: the caller's ``X-Request-Id`` or a generated ``req_...``; echoed as Request-Id."""

from __future__ import annotations

from litestar.types import Message, Scope

from steve_lite.errors import Malformed
from steve_lite.ids import new_id

MAX_REQUEST_ID_LENGTH = 128
_STATE_KEY = "steve_request_id"
_INVALID_KEY = "steve_request_id_invalid"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def is_valid_request_id(value: bytes) -> bool:
    """1..128 printable ASCII characters."""
    return 0 < len(value) <= MAX_REQUEST_ID_LENGTH and all(0x20 <= b <= 0x7E for b in value)


def request_id_for(scope: Scope) -> str:
    """The request id of this connection, resolved once and cached in the scope state."""
    state = scope.setdefault("state", {})
    cached = state.get(_STATE_KEY)
    if cached is not None:
        return cached
    given = _header(scope, b"x-request-id")
    if given is not None and is_valid_request_id(given):
        request_id = given.decode("ascii")
    else:
        request_id = new_id("req")
        state[_INVALID_KEY] = given is not None
    state[_STATE_KEY] = request_id
    return request_id


def check_request_id(scope: Scope) -> str:
    """The request id, or 400 when the caller's ``X-Request-Id`` is invalid."""
    request_id = request_id_for(scope)
    if scope["state"].get(_INVALID_KEY):
        raise Malformed(
            f"X-Request-Id must be 1 to {MAX_REQUEST_ID_LENGTH} printable ASCII characters"
        )
    return request_id


async def add_response_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: ``Request-Id`` and any rate-limit headers on every response."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", ()))
    names = {name.lower() for name, _ in headers}
    extra = [(b"request-id", request_id_for(scope).encode("ascii"))]
    extra += scope["state"].get("steve_extra_headers", [])
    for name, value in extra:
        if name not in names:
            headers.append((name, value))
    message["headers"] = headers


def add_headers_to_response(scope: Scope, headers: dict[str, str]) -> None:
    """Ask :func:`add_response_headers` to send ``headers`` with this request's response."""
    pending = scope.setdefault("state", {}).setdefault("steve_extra_headers", [])
    pending.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )
