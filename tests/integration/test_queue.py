"""The queue (``steve_lite.queue``) on its two storages: the SQLite file and a real Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pydantic
import pytest
import redis
from huey import RedisHuey, SqliteHuey

from steve_lite.queue import Queue
from steve_lite.settings import Settings
from tests.support.api import make_settings
from tests.support.redis import queue_name
from tests.support.waiting import wait_until


def redis_settings(tmp_path: Path, url: str, name: str) -> Settings:
    return make_settings(tmp_path, queue_url=url, queue_name=name)


def test_without_a_queue_url_the_queue_is_the_data_dirs_sqlite_file(tmp_path: Path) -> None:
    queue = Queue(make_settings(tmp_path, queue_url=None))  # whatever backend the run selected
    assert isinstance(queue.huey, SqliteHuey)
    queue.enqueue_processing("ses_1")
    assert (tmp_path / "queue.db").exists()
    assert Queue(make_settings(tmp_path, queue_url=None)).pending_count() == 1
    assert queue.location == str(tmp_path / "queue.db")


def test_a_redis_queue_is_shared_by_name_and_kept_apart_from_other_names(
    tmp_path: Path, redis_url: str
) -> None:
    name = queue_name()
    api_side = Queue(redis_settings(tmp_path / "api", redis_url, name))
    assert isinstance(api_side.huey, RedisHuey)
    api_side.enqueue_processing("ses_1")
    api_side.enqueue_delivery("evt_1", delay=60)

    # Another machine: its own data dir, the same URL and name.
    worker_side = Queue(redis_settings(tmp_path / "worker", redis_url, name))
    # A delayed task waits in the queue until a worker moves it to the schedule.
    tasks = [(task.name, task.args, task.eta is None) for task in worker_side.huey.pending()]
    assert tasks == [("process_session", ("ses_1",), True), ("deliver_webhook", ("evt_1",), False)]
    assert worker_side.pending_count() == 2
    assert not (tmp_path / "worker" / "queue.db").exists()

    other = Queue(redis_settings(tmp_path / "other", redis_url, queue_name()))
    assert other.pending_count() == 0
    keys = redis.Redis.from_url(redis_url).keys(f"huey.*{name}")
    assert [key.decode() for key in keys] == [f"huey.redis.{name}"]
    assert worker_side.location == f"Redis, name {name}"


def test_the_consumer_queues_the_sweep_every_sweep_interval(tmp_path: Path) -> None:
    queue = Queue(make_settings(tmp_path, sweep_interval_seconds=1))
    swept: list[float] = []
    queue.handle("sweep", lambda: swept.append(time.monotonic()))
    consumer = queue.consumer(workers=1, worker_type="thread", periodic=True, max_delay=0.05)
    consumer.start()
    try:
        wait_until(lambda: len(swept) >= 3, 10, "three sweeps")  # Huey's own period: 60 s
    finally:
        consumer.stop(graceful=True)
    assert 0.5 < swept[2] - swept[1] < 2


@pytest.mark.parametrize("url", ["postgresql://host/db", "http://127.0.0.1:6379", "6379"])
def test_a_queue_url_that_is_not_redis_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="queue_url"):
        make_settings(tmp_path, queue_url=url)
