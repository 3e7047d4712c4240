"""Test helpers: settings on temp dirs, migrated databases, tenants and live API servers."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from steve_lite import db as database
from steve_lite.bootstrap import prepare_database
from steve_lite.companies.service import create_company
from steve_lite.db import Database
from steve_lite.security.api_keys import create_key
from steve_lite.settings import Settings
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.wiring import build_api
from steve_lite.workflows.service import assign_all_system
from tests.support.databases import backend_settings
from tests.support.servers import ThreadedServer


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: its own data dir, nothing read from a developer's STEVE_* env."""
    defaults: dict[str, Any] = {
        **backend_settings(data_dir),
        "data_dir": data_dir,
        "run_worker": False,
        "workers": 1,
        "ready_requires_worker": False,  # most test APIs run without a worker process
    }
    return Settings(**{**defaults, **overrides})


def open_database(settings: Settings) -> Database:
    db = database.open_database(settings)
    prepare_database(db)
    return db


@dataclass
class Tenant:
    """A company with every system workflow and one API key."""

    company: dict[str, Any]
    key_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(db: Database, *, workflows: bool = True) -> Tenant:
    slug = f"t-{secrets.token_hex(4)}"
    company = create_company(db, f"Company {slug}", slug)
    if workflows:
        assign_all_system(db, company["id"])
    row, key = create_key(db, company_id=company["id"])
    return Tenant(company=company, key_id=row["id"], key=key)


@dataclass
class LiveApi:
    """A real server on a free port, its settings and its database."""

    url: str
    settings: Settings
    db: Database
    storage: ObjectStorage

    def tenant(self, **kwargs: Any) -> Tenant:
        return make_tenant(self.db, **kwargs)

    def client(self, tenant: Tenant | None = None, **kwargs: Any) -> httpx.Client:
        headers = tenant.headers if tenant else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


def start_live_api(
    settings: Settings, s3: EmbeddedS3, *, bucket: str | None = None, **state: Any
) -> tuple[LiveApi, ThreadedServer]:
    """Serve the app for ``settings`` on ``bucket`` of the embedded S3 server (default: a fresh
    one), so that a worker process can be pointed at the same bucket."""
    db = open_database(settings)
    storage = s3.storage(bucket=bucket or f"test-{uuid.uuid4().hex[:20]}")
    storage.ensure_bucket()
    app = build_api(settings, storage, db=database.open_database(settings), **state)
    server = ThreadedServer(app).start()
    return LiveApi(url=server.url, settings=settings, db=db, storage=storage), server
