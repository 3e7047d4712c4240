"""Shared fixtures: settings on temp dirs, migrated databases and live servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steve_lite.db import Database
from steve_lite.settings import Settings
from steve_lite.storage.embedded import EmbeddedS3
from tests.support.api import LiveApi, make_settings, open_database, start_live_api
from tests.support.databases import BACKEND, POSTGRES, drop_run_databases

pytest_plugins = [
    "tests.fixtures.s3",
    "tests.fixtures.receiver",
    "tests.fixtures.worker",
    "tests.fixtures.redis",
]


def pytest_report_header() -> str:
    return f"backend: {BACKEND} (STEVE_TEST_BACKEND)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On PostgreSQL, skip the tests of what only the SQLite backend has (its files, its
    connection's trace hook)."""
    if not POSTGRES:
        return
    skip = pytest.mark.skip(reason="SQLite only (STEVE_TEST_BACKEND=postgres-redis)")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_run_databases()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def db(settings: Settings) -> Database:
    return open_database(settings)


@pytest.fixture(scope="module")
def live_api(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[LiveApi]:
    """One real server per test module; tests isolate themselves with their own tenants."""
    settings = make_settings(tmp_path_factory.mktemp("api"))
    api, server = start_live_api(settings, embedded_s3)
    yield api
    server.stop()
