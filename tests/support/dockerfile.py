"""Reading the repository's Dockerfile and devstack compose file, so tests follow the files.

Only the instruction forms the Dockerfile uses are understood: line continuations, comments,
``FROM image [AS name]``, ``ENV k=v ...``, and exec-form (JSON) ``CMD`` and ``HEALTHCHECK CMD``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "devstack" / "compose.yaml"

VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|"
                      r"(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")  # fmt: skip


def expand(value: str, env: Mapping[str, str]) -> str:
    """``$NAME``, ``${NAME}`` and ``${NAME:-default}`` replaced from ``env`` (unset: default or
    empty), the way both Dockerfile ENV and compose interpolation read them."""

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        found = env.get(name, "")
        if found == "" and match["default"] is not None:
            return match["default"]
        return found

    return VARIABLE.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


@dataclass
class Stage:
    """One ``FROM`` and the instructions after it."""

    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"the stage FROM {self.image} has no {keyword}"
        return found[-1]


def read_instructions(text: str) -> list[Instruction]:
    """Logical instructions: comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        continued = line.endswith("\\")
        pending.append(line[:-1].strip() if continued else line)
        if not continued:
            joined = " ".join(part for part in pending if part)
            keyword, _, arguments = joined.partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
            pending = []
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def read_stages(path: Path = DOCKERFILE) -> list[Stage]:
    stages: list[Stage] = []
    for instruction in read_instructions(path.read_text()):
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            words = [w for w in words if not w.startswith("--")]  # --platform=...
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        else:
            assert stages, f"{instruction.keyword} before the first FROM"
            stages[-1].instructions.append(instruction)
    return stages


def stage_chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """``stage`` and the earlier stages it is built FROM, oldest first."""
    by_name = {s.name: s for s in stages if s.name}
    chain = [stage]
    while chain[0].image in by_name:
        chain.insert(0, by_name[chain[0].image])
    return chain


def parse_env(arguments: str, env: Mapping[str, str]) -> dict[str, str]:
    """``ENV a=1 b="two words" PATH=/x:$PATH`` (or the old ``ENV key value``), expanded."""
    words = shlex.split(arguments)
    if words and "=" not in words[0]:
        return {words[0]: expand(" ".join(words[1:]), env)}
    values: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        assert sep, f"ENV word without '=': {word!r}"
        values[key] = expand(value, {**env, **values})
    return values


def exec_form(arguments: str) -> list[str]:
    """A JSON-array command; shell form is refused (signals would go to /bin/sh)."""
    command = json.loads(arguments)
    assert isinstance(command, list) and all(isinstance(w, str) for w in command), arguments
    return command


@dataclass(frozen=True)
class Image:
    """What the final stage of the Dockerfile declares."""

    stages: list[Stage]
    env: dict[str, str]  # what the Dockerfile's ENV lines set, expanded over the base env
    cmd: list[str]
    healthcheck: list[str]
    healthcheck_options: dict[str, str]
    user: str
    volumes: list[str]
    exposed: list[str]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def read_image(base_env: Mapping[str, str] | None = None, path: Path = DOCKERFILE) -> Image:
    """The final stage's ENV (expanded over ``base_env``, standing in for the base image's),
    CMD, HEALTHCHECK, USER, VOLUME and EXPOSE."""
    stages = read_stages(path)
    final = stages[-1]
    env: dict[str, str] = dict(base_env or {})
    declared: dict[str, str] = {}
    for stage in stage_chain(stages, final):
        for instruction in stage.all("ENV"):
            values = parse_env(instruction.arguments, env)
            env.update(values)
            declared.update(values)
    options: dict[str, str] = {}
    words = final.last("HEALTHCHECK").arguments
    while words.startswith("--"):
        option, _, words = words.partition(" ")
        key, _, value = option[2:].partition("=")
        options[key] = value
        words = words.strip()
    keyword, _, command = words.partition(" ")
    assert keyword == "CMD", f"HEALTHCHECK must be CMD [...], not {keyword}"
    volumes: list[str] = []
    for instruction in final.all("VOLUME"):
        text = instruction.arguments
        volumes += json.loads(text) if text.startswith("[") else text.split()
    exposed = [port for i in final.all("EXPOSE") for port in i.arguments.split()]
    return Image(
        stages=stages,
        env=declared,
        cmd=exec_form(final.last("CMD").arguments),
        healthcheck=exec_form(command),
        healthcheck_options=options,
        user=final.last("USER").arguments,
        volumes=volumes,
        exposed=exposed,
    )


def read_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as data (YAML anchors and ``<<`` merges resolved by PyYAML)."""
    with path.open() as file:
        return yaml.safe_load(file)
