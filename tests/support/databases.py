"""The backend the tests run on: SQLite files and the SQLite queue (the default), or PostgreSQL
and Redis with ``STEVE_TEST_BACKEND=postgres-redis``.

On PostgreSQL every data directory a test makes (one installation) gets a database of its own,
copied from a template migrated once per run, so that tests stay as isolated as their SQLite
files; on Redis a queue name of its own. Everything is named after this test run and dropped when
it ends (:func:`drop_run_databases`, called from ``tests/conftest.py``).
``STEVE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) is the
server's maintenance database; the Redis is ``tests.support.redis``'s.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from steve_lite.bootstrap import prepare_database
from steve_lite.postgres import PostgresDatabase
from tests.support.redis import RUN_PREFIX, TEST_REDIS_URL, redis_unavailable, unavailable

BACKENDS = ("sqlite", "postgres-redis")
BACKEND = os.environ.get("STEVE_TEST_BACKEND", "sqlite")
if BACKEND not in BACKENDS:
    raise RuntimeError(f"STEVE_TEST_BACKEND must be one of {BACKENDS}, not {BACKEND!r}")
POSTGRES = BACKEND == "postgres-redis"
ADMIN_URL = os.environ.get(
    "STEVE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RUN = uuid.uuid4().hex[:10]

_lock = threading.Lock()
_installations: dict[Path, tuple[str, str]] = {}  # data dir -> (database URL, queue name)
_empty: list[str] = []  # databases made empty, by tests of the PostgreSQL backend itself


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


@functools.cache
def postgres_unavailable() -> str | None:
    """Why the test PostgreSQL cannot be used, or None (asked once)."""
    try:
        admin().close()
    except psycopg.Error as exc:
        return f"no PostgreSQL answered at {ADMIN_URL}: {exc}".strip()
    return None


def url_of(database: str) -> str:
    """``ADMIN_URL`` naming ``database`` instead."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


@functools.cache
def template() -> str:
    """This run's template database: migrated, with the system workflows installed."""
    unavailable("PostgreSQL is needed", postgres_unavailable())
    unavailable("Redis is needed", redis_unavailable())
    name = f"steve_test_{RUN}_template"
    with admin() as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    db = PostgresDatabase(url_of(name))
    try:
        prepare_database(db)
    finally:
        db.close()
    return name


def installation(data_dir: Path) -> tuple[str, str]:
    """The database URL and queue name of the installation in ``data_dir`` (made on first use)."""
    key = data_dir.resolve()
    with _lock:
        if key not in _installations:
            name = f"steve_test_{RUN}_{len(_installations)}"
            source = template()
            with admin() as conn:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {source}".encode())
            _installations[key] = (url_of(name), f"{RUN_PREFIX}-{len(_installations)}")
        return _installations[key]


def empty_database() -> str:
    """The URL of a new, empty database of this run (whatever the selected backend)."""
    unavailable("PostgreSQL is needed", postgres_unavailable())
    with _lock:
        name = f"steve_test_{RUN}_empty_{len(_empty)}"
        _empty.append(name)
    with admin() as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return url_of(name)


def backend_settings(data_dir: Path) -> dict[str, str]:
    """Settings that put the installation in ``data_dir`` on the selected backend."""
    if not POSTGRES:
        return {}
    url, queue = installation(data_dir)
    return {"database_url": url, "queue_url": TEST_REDIS_URL, "queue_name": queue}


def backend_env(data_dir: Path) -> dict[str, str]:
    """The same as ``STEVE_*`` variables, for a ``steve-lite`` subprocess."""
    return {f"STEVE_{key.upper()}": value for key, value in backend_settings(data_dir).items()}


def drop_run_databases() -> None:
    """Drop every database this run made (connections still open are ended)."""
    if not (_installations or _empty) or postgres_unavailable() is not None:
        return
    names = [urlsplit(url).path.lstrip("/") for url, _ in _installations.values()] + _empty
    if template.cache_info().currsize:
        names.append(template())
    with admin() as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
