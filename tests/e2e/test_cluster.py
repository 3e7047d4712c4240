"""A cluster on one machine: two ``steve-lite serve`` and two ``steve-lite worker`` processes,
each with a data directory of its own as if on a machine of its own, sharing one PostgreSQL
database, one Redis (a private server, so that a test may FLUSHALL it) and one bucket of the
embedded S3 server.

Sessions created through either API are processed once; rate limits count across both APIs; a
worker killed with SIGKILL mid-session leaves it to the other, which finishes it once with one
webhook; a Redis flushed mid-run loses no submitted session."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from steve_lite.postgres import PostgresDatabase
from steve_lite.queue import Queue
from steve_lite.storage.embedded import EmbeddedS3
from tests.factories.pages import render_page
from tests.factories.photos import make_photo
from tests.fixtures.receiver import WebhookReceiver
from tests.support.api import LiveApi, make_settings
from tests.support.cli import run_cli
from tests.support.databases import empty_database
from tests.support.processes import ServerProcess, s3_env
from tests.support.redis import queue_name
from tests.support.redis_server import RedisServer, require_redis_server
from tests.support.sessions import create_session, submit_files, upload_and_submit, wait_for_job
from tests.support.uploads import create_body
from tests.support.waiting import wait_until
from tests.support.worker import event_types, wait_for_event, wait_worker_ready

LEASE_SECONDS = 3
SESSION_LIMIT = 5
COMPLETED_EVENTS = ["created", "submitted", "processing_started", "processing_completed"]


@dataclass
class Cluster:
    """The shared servers' settings, the two APIs (as :class:`LiveApi`), the workers started."""

    root: Path
    env: dict[str, str]
    apis: list[LiveApi]
    servers: list[ServerProcess]
    redis: RedisServer
    workers: dict[str, ServerProcess] = field(default_factory=dict)

    def start_worker(self, name: str) -> ServerProcess:
        worker = ServerProcess(self.root / name, "worker", **self.env)
        self.workers[name] = worker
        wait_worker_ready(worker, 1, timeout=120)
        return worker

    def both_workers(self) -> list[ServerProcess]:
        """worker-1 and worker-2, started when not yet running (a test run on its own)."""
        for name in ("worker-1", "worker-2"):
            if name not in self.workers or self.workers[name].process.poll() is not None:
                self.start_worker(name)
        return [self.workers["worker-1"], self.workers["worker-2"]]

    def stop(self) -> None:
        for process in [*self.workers.values(), *self.servers]:
            process.stop()


@contextmanager
def paused(workers: list[ServerProcess], redis: RedisServer) -> Iterator[None]:
    """The workers stopped (SIGSTOP) and none of them waiting in a BRPOP that would still take
    a task pushed now; SIGCONT on exit."""
    for worker in workers:
        worker.process.send_signal(signal.SIGSTOP)
    try:
        client = redis.client()
        wait_until(
            lambda: not any("b" in c["flags"] for c in client.client_list()),
            10,
            "the workers' blocking pops to time out",
        )
        yield
    finally:
        for worker in workers:
            worker.process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3) -> Iterator[Cluster]:
    require_redis_server()
    root = tmp_path_factory.mktemp("cluster")
    redis = RedisServer(root / "redis")
    url = empty_database()
    env = {
        **s3_env(embedded_s3),
        "STEVE_DATABASE_URL": url,
        "STEVE_QUEUE_URL": redis.url,
        "STEVE_QUEUE_NAME": queue_name(),
        "STEVE_WORKERS": "1",
        "STEVE_WORKER_POLL_SECONDS": "0.05",
        "STEVE_PROCESSING_LEASE_SECONDS": str(LEASE_SECONDS),
        "STEVE_SWEEP_INTERVAL_SECONDS": "1",
        "STEVE_RATE_LIMIT_SESSION": str(SESSION_LIMIT),
        "STEVE_WEBHOOK_ALLOW_PRIVATE": "true",
        "STEVE_READY_REQUIRES_WORKER": "false",
    }
    run_cli(root / "migrate", "migrate", **env)
    servers = [ServerProcess(root / f"api-{n}", "serve", **env) for n in (1, 2)]
    db = PostgresDatabase(url)
    storage = embedded_s3.storage(bucket=env["STEVE_S3_BUCKET"])
    apis = []
    for server in servers:
        server.wait_ready("/readyz")
        settings = make_settings(root / "tests", database_url=url, queue_url=redis.url)
        apis.append(LiveApi(url=server.url, settings=settings, db=db, storage=storage))
    cluster = Cluster(root=root, env=env, apis=apis, servers=servers, redis=redis)
    yield cluster
    cluster.stop()
    redis.stop()


def document(pages: int) -> list[bytes]:
    lines = ["Page of the long document", "Lorem ipsum dolor sit amet"]
    return [render_page(lines, width=736, height=736, fmt="JPEG") for _ in range(pages)]


def outbox(api: LiveApi, session_id: str) -> list[tuple[str, str, int]]:
    rows = api.db.execute(
        "SELECT event_type, status, attempts FROM webhook_events WHERE session_id = ?",
        [session_id],
    )
    return [tuple(row) for row in rows]


def test_a_worker_killed_mid_session_leaves_it_to_the_other_which_finishes_it_once(
    cluster: Cluster, webhook_receiver: WebhookReceiver
) -> None:
    api = cluster.apis[0]
    tenant = api.tenant()
    first = cluster.start_worker("worker-1")
    session = submit_files(
        api, tenant, "document-ocr", document(12), webhookUrl=webhook_receiver.url
    )
    session_id, submission_id = session["sessionId"], session["submissionId"]
    wait_for_event(api.db, submission_id, "processing_started")
    first.process.send_signal(signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL
    assert event_types(api.db, submission_id) == ["created", "submitted", "processing_started"]

    second = cluster.start_worker("worker-2")  # its own data dir: it shares only the servers
    job = wait_for_job(cluster.apis[1], tenant, session_id, timeout=180, worker=second)
    assert (job["state"], job["submissionStatus"]) == ("completed", "approved"), job
    assert event_types(api.db, submission_id) == COMPLETED_EVENTS
    assert f"re-queued session {session_id}" in second.output()
    (delivered,) = webhook_receiver.wait_for(1, timeout=30)
    assert delivered.headers["x-webhook-event"] == "session.completed"
    wait_until(
        lambda: outbox(api, session_id) == [("session.completed", "delivered", 1)],
        30,
        "the delivery being recorded",
    )
    assert len(webhook_receiver.requests) == 1
    cluster.workers["worker-1"] = cluster.start_worker("worker-1")  # two workers from here on


def test_sessions_created_through_either_api_are_processed_once(cluster: Cluster) -> None:
    cluster.both_workers()
    tenant = cluster.apis[0].tenant()
    sessions = [
        (api, submit_files(api, tenant, "compliance-vm", [make_photo(seed=90 + n)]))
        for n, api in enumerate(cluster.apis * 2)
    ]
    for api, session in sessions:
        job = wait_for_job(api, tenant, session["sessionId"], timeout=120)
        assert job["state"] == "completed", job
        assert event_types(api.db, session["submissionId"]) == COMPLETED_EVENTS
        other = cluster.apis[1 - cluster.apis.index(api)]
        assert wait_for_job(other, tenant, session["sessionId"]) == job  # one state everywhere


def test_rate_limits_count_across_both_apis(cluster: Cluster) -> None:
    tenant = cluster.apis[0].tenant()
    answers = []
    for n in range(SESSION_LIMIT + 2):
        api = cluster.apis[n % 2]
        with api.client(tenant) as http:
            response = http.post("/api/v1/workflows/compliance-vm/sessions", json=create_body())
        answers.append(response.status_code)
    assert answers == [201] * SESSION_LIMIT + [429, 429], answers


def test_a_redis_flushed_mid_run_loses_no_submitted_session(cluster: Cluster) -> None:
    workers = cluster.both_workers()
    tenants = [api.tenant() for api in cluster.apis]  # three creates each, within the limit
    sessions = []
    settings = cluster.apis[0].settings
    queue = Queue(settings.model_copy(update={"queue_name": cluster.env["STEVE_QUEUE_NAME"]}))
    with ExitStack() as pause:
        # The first three wait in Redis for sure (no worker can pop them) when it is flushed.
        pause.enter_context(paused(workers, cluster.redis))
        for n in range(6):
            api, tenant = cluster.apis[n % 2], tenants[n % 2]
            with api.client(tenant) as http:
                session = create_session(http, "compliance-vm", 1)
                upload_and_submit(http, "compliance-vm", session, [make_photo(seed=100 + n)])
            sessions.append((api, tenant, session))
            if n == 2:
                queued = [t.args[0] for t in queue.huey.pending() if t.name == "process_session"]
                assert sorted(queued) == sorted(s["sessionId"] for _, _, s in sessions)
                assert cluster.redis.client().flushall()  # what was queued so far is gone
                pause.close()  # the rest are submitted while the workers run
    assert cluster.redis.client().flushall()
    for api, tenant, session in sessions:
        job = wait_for_job(api, tenant, session["sessionId"], timeout=120)
        assert job["state"] == "completed", job
        assert event_types(api.db, session["submissionId"]) == COMPLETED_EVENTS
    logs = "".join(worker.output() for worker in cluster.workers.values())
    assert "re-queued session" in logs
    for _, _, session in sessions[:3]:  # lost from Redis: the sweep queued each again
        assert f"re-queued session {session['sessionId']}" in logs
    with httpx.Client(base_url=cluster.apis[1].url) as http:
        assert http.get("/readyz").status_code == 200
