"""Starting ``steve-lite`` server processes and waiting for them."""

from __future__ import annotations

import resource
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from steve_lite.storage.embedded import EmbeddedS3
from tests.support.cli import STEVE_LITE, cli_env
from tests.support.servers import free_port


class ServerProcess:
    """``steve-lite <command>`` on a free port, its output in a log file."""

    def __init__(
        self,
        data_dir: Path,
        command: str = "serve",
        *,
        memory_limit_bytes: int | None = None,
        **env: str,
    ) -> None:
        """``memory_limit_bytes`` caps the process's data segment (``RLIMIT_DATA``, inherited
        by its children), so that a memory regression fails a test instead of the machine."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-{command}-{self.port}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [STEVE_LITE, command],
            env=cli_env(data_dir, STEVE_PORT=str(self.port), **env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=memory_limit_hook(memory_limit_bytes) if memory_limit_bytes else None,
        )

    def wait_ready(self, path: str = "/healthz", timeout: float = 60) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def memory_limit_hook(limit: int) -> Callable[[], None]:
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    return limit_memory


def s3_env(s3: EmbeddedS3) -> dict[str, str]:
    """Environment that points a steve-lite process at a fresh bucket of the test S3 server."""
    bucket = f"e2e-{uuid.uuid4().hex[:16]}"
    s3.storage(bucket=bucket).ensure_bucket()
    return {
        "STEVE_S3_ENDPOINT": f"http://{s3.endpoint}",
        "STEVE_S3_ACCESS_KEY": s3.access_key,
        "STEVE_S3_SECRET_KEY": s3.secret_key,
        "STEVE_S3_BUCKET": bucket,
        "STEVE_S3_REGION": "us-east-1",
        "STEVE_S3_SECURE": "false",
    }
