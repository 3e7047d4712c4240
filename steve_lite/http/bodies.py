"""Request bodies: handlers declare them (``data: SessionCreate``); this module reads them.

:class:`ApiRequest` parses the body as strict JSON (no ``NaN``, no ``1e999``, a clear 400 when
nested too deeply), and :class:`RequestBodies` has Litestar validate every
:class:`~steve_lite.schemas.RequestModel` with :func:`read_model`, so that a body that is not an
object is :class:`~steve_lite.errors.Malformed` (400) and invalid fields are
:class:`~steve_lite.errors.Invalid` (422) with one ``errors[]`` entry per field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from litestar import Request
from litestar.plugins.pydantic import PydanticInitPlugin
from litestar.types import Empty
from pydantic import ValidationError

from steve_lite.errors import FieldError, Invalid, Malformed
from steve_lite.schemas import RequestModel

TOO_DEEP = "the request body is nested too deeply"
BODY_REQUIRED = "a JSON object body is required"


def field_path(location: tuple[str | int, ...]) -> str:
    """``("contentTypes", 2)`` -> ``contentTypes[2]``; ``("externalUser", "email")`` -> dotted."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def validation_problem(exc: ValidationError) -> Invalid:
    """One ``errors[]`` entry per invalid field."""
    errors = []
    seen = set()
    for item in exc.errors(include_url=False):
        location = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        field = field_path(location)
        if field in seen:
            continue
        seen.add(field)
        message = item["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=field, message=message, code=item["type"]))
    fields = ", ".join(error.field for error in errors)
    return Invalid(f"the request body is invalid: {fields}", errors=errors)


def finite_float(text: str) -> float:
    """A JSON number as a float; ``1e999`` (infinite in Python) is refused."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:32]} is out of range")
    return value


def refuse_constant(name: str) -> NoReturn:
    """``NaN`` and ``Infinity`` are not JSON, although Python's parser accepts them."""
    raise ValueError(f"{name} is not a JSON value")


def parse_json(raw: bytes) -> Any:
    """A request body as strict JSON; :class:`Malformed` when it is not."""
    try:
        return json.loads(raw, parse_float=finite_float, parse_constant=refuse_constant)
    except RecursionError:
        raise Malformed(TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"the request body is not valid JSON: {exc}") from None


class ApiRequest(Request[Any, Any, Any]):
    """The request class of the app: its JSON body is read by :func:`parse_json`; a body of
    white space only is no body, as an empty one is."""

    async def json(self) -> Any:
        raw = await self.body()
        return parse_json(raw) if raw.strip() else Empty


def read_model(model: type[RequestModel], value: Any) -> RequestModel:
    """Validate a parsed body against ``model``: not an object: 400; invalid fields: 422."""
    if not isinstance(value, dict):
        raise Malformed("the request body must be a JSON object")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    except RecursionError:  # validators that walk a value nested nearly to the parser's limit
        raise Malformed(TOO_DEEP) from None


def is_request_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, RequestModel)


class RequestBodies(PydanticInitPlugin):
    """Litestar's pydantic support, with request bodies validated by :func:`read_model`."""

    @classmethod
    def decoders(
        cls, validate_strict: bool = False
    ) -> list[tuple[Callable[[Any], bool], Callable[[Any, Any], Any]]]:
        return [(is_request_model, read_model), *super().decoders(validate_strict)]
