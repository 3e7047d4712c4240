"""``upload_files``: parallel PUTs to presigned URLs, retried on network errors and 5xx, against
a real local HTTP server standing in for object storage."""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from steve_lite.client import AsyncSteveClient, SteveClient, SteveError

DROP = "drop"  # close the connection without answering
KEY = "aok_" + "0" * 64  # never sent to the storage server; the API is not called here
FILES = [bytes([index]) * (150_000 + index) for index in range(4)]


@dataclass
class StorageState:
    script: list[int | str] = field(default_factory=list)
    stored: dict[str, bytes] = field(default_factory=dict)
    attempts: list[str] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FlakyStorage(ThreadingHTTPServer):
    """Accepts PUTs on 127.0.0.1, answering scripted statuses (or dropping the connection)
    first; each answer takes ``delay`` seconds so that parallel uploads overlap."""

    daemon_threads = True

    def __init__(self, delay: float = 0.3) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = StorageState()
        self.delay = delay
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup of the host name
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def session(self, count: int) -> dict[str, Any]:
        """A create-session answer whose upload URLs point here."""
        return {
            "uploadUrls": [
                {
                    "fileIndex": index,
                    "uploadUrl": f"{self.url}/bucket/file-{index}?X-Amz-Signature=x",
                    "method": "PUT",
                    "headers": {"Content-Type": "image/png"},
                }
                for index in reversed(range(count))  # the order of fileIndex decides, not this
            ]
        }


class _Handler(BaseHTTPRequestHandler):
    server: FlakyStorage

    def do_PUT(self) -> None:
        state = self.server.state
        with state.lock:
            state.in_flight += 1
            state.most_in_flight = max(state.most_in_flight, state.in_flight)
            state.attempts.append(self.path)
            state.authorization.append(self.headers.get("Authorization"))
            action = state.script.pop(0) if state.script else 200
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.server.delay)
        with state.lock:
            state.in_flight -= 1
            if action == 200:
                state.stored[self.path.split("?")[0]] = body
        if action == DROP:
            self.close_connection = True
            return
        self.send_response(int(action))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


@pytest.fixture
def storage() -> Iterator[FlakyStorage]:
    server = FlakyStorage()
    yield server
    server.shutdown()
    server.server_close()


def stored_files(storage: FlakyStorage) -> list[bytes]:
    return [storage.state.stored[f"/bucket/file-{index}"] for index in range(len(FILES))]


def test_uploads_run_in_parallel_and_retry_5xx_and_dropped_connections(
    storage: FlakyStorage,
) -> None:
    storage.state.script = [503, DROP]
    progress: dict[int, tuple[int, int]] = {}
    started = time.monotonic()
    with SteveClient("http://127.0.0.1:9", KEY) as steve:
        steve.upload_files(
            storage.session(len(FILES)),
            FILES,
            on_progress=lambda index, sent, total: progress.update({index: (sent, total)}),
        )
    elapsed = time.monotonic() - started
    assert stored_files(storage) == FILES
    assert len(storage.state.attempts) == len(FILES) + 2
    assert storage.state.most_in_flight >= 2
    assert elapsed < len(FILES) * storage.delay + 1  # not one after the other
    assert progress == {index: (len(data), len(data)) for index, data in enumerate(FILES)}
    assert set(storage.state.authorization) == {None}  # the API key stays with the API


def test_async_uploads_run_in_parallel_and_retry(storage: FlakyStorage) -> None:
    storage.state.script = [502, DROP, 500]

    async def run() -> None:
        async with AsyncSteveClient("http://127.0.0.1:9", KEY, upload_concurrency=3) as steve:
            await steve.upload_files(storage.session(len(FILES)), FILES)

    asyncio.run(run())
    assert stored_files(storage) == FILES
    assert len(storage.state.attempts) == len(FILES) + 3
    assert 2 <= storage.state.most_in_flight <= 3


def test_a_refused_upload_is_not_retried(storage: FlakyStorage) -> None:
    storage.delay, storage.state.script = 0, [403]
    with SteveClient("http://127.0.0.1:9", KEY) as steve, pytest.raises(SteveError) as refused:
        steve.upload_files(storage.session(1), FILES[:1])
    assert (refused.value.slug, refused.value.status) == ("upload-failed", 403)
    assert "file 0" in refused.value.detail
    assert len(storage.state.attempts) == 1


def test_retries_end(storage: FlakyStorage) -> None:
    storage.delay, storage.state.script = 0, [503, 503, 503]
    with (
        SteveClient("http://127.0.0.1:9", KEY, upload_retries=2) as steve,
        pytest.raises(SteveError) as failed,
    ):
        steve.upload_files(storage.session(1), FILES[:1])
    assert (failed.value.slug, failed.value.status) == ("upload-failed", 503)
    assert "after 3 attempt(s)" in failed.value.detail


def test_the_file_count_must_match_the_session(storage: FlakyStorage) -> None:
    with SteveClient("http://127.0.0.1:9", KEY) as steve, pytest.raises(ValueError):
        steve.upload_files(storage.session(2), FILES[:1])
