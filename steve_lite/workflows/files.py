"""Reading a workflow definition file (TOML or JSON) with errors that name the key and line."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from steve_lite.errors import Invalid
from steve_lite.workflows.schemas import WorkflowDefinition


class DefinitionFileError(Invalid):
    """The file is malformed or does not describe a valid workflow."""


def key_line(text: str, key: str) -> int | None:
    """The first line (1-based) where ``key`` is written as a TOML or JSON key."""
    pattern = re.compile(
        rf'^\s*(?:"{re.escape(key)}"\s*:|{re.escape(key)}\s*=|\[+\s*{re.escape(key)}\s*\]+)'
    )
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return number
    return None


def parse(path: Path, text: str) -> dict[str, Any]:
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DefinitionFileError(f"{path}: invalid TOML: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionFileError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise DefinitionFileError(f"{path}: the top level must be an object")
    return data


def load_definition(path: Path) -> WorkflowDefinition:
    """Read and validate a definition file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionFileError(f"{path}: {exc.strerror or exc}") from None
    data = parse(path, text)
    try:
        return WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            location = ".".join(str(part) for part in error["loc"]) or "(top level)"
            keys = [part for part in reversed(error["loc"]) if isinstance(part, str)]
            line = next((n for n in (key_line(text, k) for k in keys) if n is not None), None)
            where = f" (line {line})" if line else ""
            problems.append(f"  {location}{where}: {error['msg']}")
        raise DefinitionFileError(
            f"{path}: invalid workflow definition:\n" + "\n".join(problems)
        ) from None
