"""Server processes (``steve-lite`` commands and the benchmarks' baselines) and waiting for them."""

from __future__ import annotations

import resource
import signal
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx

from steve_lite.storage.embedded import EmbeddedS3
from tests.support.cli import STEVE_LITE, cli_env
from tests.support.servers import free_port
from tests.support.waiting import wait_until


class Process:
    """A server subprocess listening on ``port`` of 127.0.0.1, its output in ``log_path``: the
    one harness of the tests and the benchmarks."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        env: dict[str, str],
        log_path: Path,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, path: str = "/healthz", timeout: float = 60) -> Self:
        """Until ``path`` answers 200; fails at once if the process exits."""

        def answers() -> bool:
            try:
                return httpx.get(self.url + path, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, timeout, f"{self.name} ready on {path}", self, interval=0.1)
        return self

    def output(self) -> str:
        """Everything the process printed so far."""
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """``sig``, wait, SIGKILL if it hangs; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess(Process):
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
        port = free_port()
        super().__init__(
            f"steve-lite {command}",
            [STEVE_LITE, command],
            port,
            cli_env(data_dir, STEVE_PORT=str(port), **env),
            data_dir.parent / f"{data_dir.name}-{command}-{port}.log",
            memory_limit_hook(memory_limit_bytes) if memory_limit_bytes else None,
        )


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
