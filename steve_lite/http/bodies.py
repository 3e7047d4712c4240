"""Reading JSON request bodies into pydantic models, with problems that name the field."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn, TypeVar

from litestar import Request
from pydantic import BaseModel, ValidationError

from steve_lite.errors import BadRequest, FieldError, PayloadTooLarge, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)
TOO_DEEP = "the request body is nested too deeply"


def field_path(location: tuple[str | int, ...]) -> str:
    """``("contentTypes", 2)`` -> ``contentTypes[2]``; ``("externalUser", "email")`` -> dotted."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def validation_problem(exc: ValidationError) -> ValidationFailed:
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
    return ValidationFailed(f"the request body is invalid: {fields}", errors=errors)


def finite_float(text: str) -> float:
    """A JSON number as a float; ``1e999`` (infinite in Python) is refused."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:32]} is out of range")
    return value


def refuse_constant(name: str) -> NoReturn:
    """``NaN`` and ``Infinity`` are not JSON, although Python's parser accepts them."""
    raise ValueError(f"{name} is not a JSON value")


async def read_json(
    request: Request[Any, Any, Any], model: type[ModelT], *, optional: bool = False
) -> ModelT:
    """Parse and validate the body. Not JSON or not an object: 400; invalid fields: 422."""
    raw = await request.body()
    if len(raw) > request.app.state.settings.max_body_bytes:
        raise PayloadTooLarge("request body is larger than 64 KiB")
    if not raw.strip():
        if optional:
            return model.model_validate({})
        raise BadRequest("a JSON object body is required")
    try:
        payload = json.loads(raw, parse_float=finite_float, parse_constant=refuse_constant)
    except RecursionError:
        raise BadRequest(TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    except RecursionError:  # validators that walk a value nested nearly to the parser's limit
        raise BadRequest(TOO_DEEP) from None
