"""The embedded server as ``up`` and ``steve-lite s3`` run it: restarted on the same ports."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from steve_lite.storage.setup import SupervisedS3, endpoint_record, running_embedded
from tests.support.api import make_settings
from tests.support.waiting import wait_until


def test_a_killed_server_comes_back_on_the_same_address(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    supervised = SupervisedS3(settings)
    try:
        server = supervised.server
        endpoint, first_pid = server.endpoint, server.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)

        wait_until(lambda: server.pid != first_pid and server.storage().ping(), 60, "restart")
        assert server.endpoint == endpoint
        assert running_embedded(settings).endpoint == endpoint  # what serve and worker read
    finally:
        supervised.stop()
    assert not endpoint_record(settings).exists()


def test_a_new_run_serves_the_ports_of_the_last_one(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = SupervisedS3(settings)
    ports = dict(first.server.ports)
    first.stop()

    second = SupervisedS3(settings)
    try:
        assert second.server.ports == ports
        assert second.server.storage().ping()
    finally:
        second.stop()
