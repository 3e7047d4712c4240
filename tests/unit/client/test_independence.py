"""``steve_lite.client`` stands alone: importing it loads httpx and the standard library only,
besides the two dependency-free modules it shares with the server."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PACKAGES = {
    "PIL", "imagehash", "numpy", "sqlite3", "psycopg", "pydantic", "litestar", "minio", "huey",
    "onnxruntime", "rapidocr", "uvicorn",
}  # fmt: skip
SHARED = {"steve_lite", "steve_lite.formats", "steve_lite.signatures"}


def test_importing_the_client_loads_no_server_dependency() -> None:
    probe = "import json, sys, steve_lite.client; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert not {name.split(".")[0] for name in loaded} & SERVER_PACKAGES
    ours = {name for name in loaded if name.split(".")[0] == "steve_lite"}
    assert "steve_lite.client" in ours
    assert ours - SHARED == {name for name in ours if name.startswith("steve_lite.client")}
