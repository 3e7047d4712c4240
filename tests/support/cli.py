"""Running the ``steve-lite`` command as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.databases import backend_env

STEVE_LITE = str(Path(sys.executable).parent / "steve-lite")


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without a developer's STEVE_* variables, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEVE_")}
    return {**env, **backend_env(data_dir), "STEVE_DATA_DIR": str(data_dir), **extra}


def run_cli(
    data_dir: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [STEVE_LITE, *args],
        env=cli_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"steve-lite {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def run_json(data_dir: Path, *args: str) -> Any:
    """Run a command with ``--json`` and parse the one JSON object it prints."""
    return json.loads(run_cli(data_dir, *args, "--json").stdout)
