"""A private ``redis-server`` for a test that flushes it whole (FLUSHALL) as a lost Redis would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import redis

from tests.support.processes import Process
from tests.support.redis import ping_error, unavailable
from tests.support.servers import free_port
from tests.support.waiting import wait_until


class RedisServer(Process):
    """A private ``redis-server`` on a free port, without persistence: a test may flush it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(directory)]
        super().__init__("redis-server", argv, port, dict(os.environ), directory / "redis.log")
        self.url = f"redis://127.0.0.1:{port}/0"
        wait_until(lambda: ping_error(self.url) is None, 30, "redis", self)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def require_redis_server() -> None:
    """Skip (or fail) the calling test when no ``redis-server`` binary is installed."""
    found = shutil.which("redis-server")
    unavailable("a private redis-server is needed", None if found else "not on PATH")
