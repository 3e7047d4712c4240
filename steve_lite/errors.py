"""The error tree: one root, and the domain errors every layer raises.

Domain errors say what went wrong, never how to answer it: they carry a ``detail`` and, when
fields are at fault, ``errors``, but no HTTP status. The HTTP layer maps them to RFC 9457
problem documents (:mod:`steve_lite.http.problems`); ``cli.main`` maps them to a message on
stderr and an exit status. Errors that exist only on the wire (a missing API key, a rate limit,
an unknown route) are HTTP errors, defined in :mod:`steve_lite.http.errors` on the same root.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One field-level problem: ``field`` is a JSON path such as ``contentTypes[2]``."""

    field: str
    message: str
    code: str = "invalid"

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


class SteveLiteError(Exception):
    """The root of every error steve-lite raises on purpose."""

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(SteveLiteError):
    """The thing does not exist, or is not visible to the caller."""


class Conflict(SteveLiteError):
    """The thing is in a state that does not allow the change, or an idempotency key clashes."""


class NotPending(Conflict):
    """A session or submission that is no longer waiting for its uploads was submitted."""


class Expired(SteveLiteError):
    """The session's time to live has passed."""


class Invalid(SteveLiteError):
    """The input is well formed but breaks a rule; ``errors`` names each field at fault."""


class FilesMissing(Invalid):
    """Fewer files were uploaded than the workflow needs."""


class Malformed(SteveLiteError):
    """The input cannot be read at all: not JSON, a tampered cursor, a bad request id."""


class ConfigurationError(SteveLiteError):
    """The settings or the data directory do not let steve-lite start."""


class StorageError(SteveLiteError):
    """Object storage could not be reached or answered with an unexpected error."""
