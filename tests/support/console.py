"""Reviewers, console sign-in over HTTP, and receipts that land in ``review``."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from steve_lite.console import accounts
from steve_lite.db import Database
from tests.factories.receipts import random_receipt_spec, render_receipt
from tests.support.api import LiveApi, Tenant
from tests.support.sessions import submit_files, wait_for_job
from tests.support.worker import WorkerStack

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


def add_reviewer(db: Database, tenant: Tenant, *, password: str | None = PASSWORD) -> str:
    """A reviewer of the tenant's company, with ``password`` set (None: invited only)."""
    email = f"rev-{secrets.token_hex(4)}@example.com"
    row = accounts.add_reviewer(db, tenant.company["id"], email)
    if password is not None:
        token = accounts.issue_link(db, row["id"], 600)
        assert accounts.use_link(db, token, accounts.hash_password(password)) is not None
    return email


def console_client(api: LiveApi) -> httpx.Client:
    """A browser-like client: keeps cookies, does not follow redirects."""
    return httpx.Client(base_url=api.url, timeout=30, follow_redirects=False)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Post the sign-in form as a browser would (form token from the page and its cookie)."""
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    return client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(page), "email": email, "password": password, "next": ""},
    )


@contextmanager
def signed_in_client(api: LiveApi, email: str) -> Iterator[httpx.Client]:
    """A client with an open console session of ``email``."""
    with console_client(api) as client:
        answer = sign_in(client, email)
        assert answer.status_code == 303, answer.text
        yield client


def receipt(seed: int) -> bytes:
    return render_receipt(random_receipt_spec(seed), rotate_degrees=0.0, jpeg_quality=90)


def receipt_in_review(
    stack: WorkerStack, tenant: Tenant, seed: int, **session: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same receipt submitted twice: the second is an exact duplicate, so it waits in
    ``review`` with a fraud match on the first. Returns both job views (first, second)."""
    image = receipt(seed)
    jobs = []
    for _ in range(2):
        created = submit_files(stack.api, tenant, "receipt-ocr", [image], **session)
        jobs.append(wait_for_job(stack.api, tenant, created["sessionId"]))
    assert jobs[1]["submissionStatus"] == "review", jobs[1]
    return jobs[0], jobs[1]
