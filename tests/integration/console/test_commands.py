"""``steve-lite reviewers`` and ``steve-lite corrections export`` as real subprocesses on the
data dir of the test session's API and worker."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx

from steve_lite.console import accounts
from tests.support.cli import run_cli
from tests.support.console import PASSWORD, console_client, csrf_of, receipt_in_review, sign_in
from tests.support.worker import WorkerStack

LINK = re.compile(r"(http://\S+)/console/link/(\S+)")


def reviewers(stack: WorkerStack, *args: str, check: bool = True) -> str:
    result = run_cli(
        stack.data_dir, "reviewers", *args, check=check, STEVE_PUBLIC_URL=stack.api.url
    )
    return result.stdout + result.stderr


def use(client: httpx.Client, link: str) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200, page.text
    token = link.rsplit("/", 1)[1]
    return client.post(
        "/console/link",
        data={
            "csrf_token": csrf_of(page),
            "token": token,
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )


def test_add_list_disable_and_reset(worker_stack: WorkerStack) -> None:
    tenant = worker_stack.api.tenant()
    slug = tenant.company["slug"]
    email = f"Cli-{tenant.key_id[-6:]}@Example.com"
    out = reviewers(worker_stack, "add", email, "--company", slug)
    found = LINK.search(out)
    assert found, out
    assert found.group(1) == worker_stack.api.url
    assert "works once, for 30 minutes" in out
    again = reviewers(worker_stack, "add", email, "--company", slug, check=False)
    assert "already exists" in again

    listed = json.loads(reviewers(worker_stack, "list", "--company", slug, "--json"))
    [row] = listed["data"]
    assert (row["email"], row["company"], row["passwordSet"], row["disabled"]) == (
        email.lower(),
        slug,
        False,
        False,
    )

    with console_client(worker_stack.api) as client:
        assert use(client, found.group(0)).status_code == 303
        assert client.get("/console/").status_code == 200
        reviewers(worker_stack, "disable", email)
        assert client.get("/console/").status_code == 303  # signed out at once
        assert sign_in(client, email).status_code == 401

        link = LINK.search(reviewers(worker_stack, "reset", email))
        assert link
        assert sign_in(client, email).status_code == 401  # the old password is gone
        assert client.get(found.group(0)).status_code == 410  # the first link is spent
        assert use(client, link.group(0)).status_code == 303
        assert client.get("/console/").status_code == 200
    listed = json.loads(reviewers(worker_stack, "list", "--company", slug, "--json"))
    assert listed["data"][0]["passwordSet"] is True
    assert listed["data"][0]["disabled"] is False
    assert PASSWORD not in json.dumps(listed)
    row = accounts.find_reviewer(worker_stack.api.db, email)
    assert row["password_hash"].startswith("$argon2id$")


def test_corrections_export_writes_the_reviewed_receipts(
    worker_stack: WorkerStack, tmp_path: Path
) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    first, second = receipt_in_review(worker_stack, tenant, seed=31)
    assert first["submissionStatus"] == "approved"  # automatically: not in the export
    with api.client(tenant) as client:
        patched = client.patch(
            f"/api/v1/submissions/{second['submissionId']}",
            json={"extractedData": {"totalAmount": 77.1, "merchantName": "Corrected Shop"}},
        )
        assert patched.status_code == 200, patched.text
        assert (
            client.post(f"/api/v1/submissions/{second['submissionId']}/approve").status_code == 200
        )

    out = tmp_path / "eval"
    result = run_cli(
        worker_stack.data_dir,
        "corrections",
        "export",
        "--company",
        tenant.company["slug"],
        "--out",
        str(out),
        "--json",
        **{k: v for k, v in worker_stack.env.items() if k.startswith("STEVE_S3_")},
    )
    summary = json.loads(result.stdout)
    assert summary["written"] == [second["submissionId"]]
    name = second["submissionId"]
    assert sorted(p.name for p in (out / "img").iterdir()) == [f"{name}.jpg"]
    assert sorted(p.name for p in (out / "key").iterdir()) == [f"{name}.json"]
    key = json.loads((out / "key" / f"{name}.json").read_text())
    data = second["result"]["extractedData"]
    assert key["total"] == "77.10"
    assert key["merchant"] == "Corrected Shop"
    assert (key["date"], key["currency"]) == (data["purchaseDate"], data["currency"])
    assert key["corrected"] == ["merchantName", "totalAmount"]
    image = (out / "img" / f"{name}.jpg").read_bytes()
    [entry] = json.loads((out / "manifest.json").read_text())
    assert entry["sha256"] == hashlib.sha256(image).hexdigest()
    with api.client(tenant) as client:
        original = httpx.get(
            client.get(f"/api/v1/submissions/{name}").json()["files"][0]["downloadUrl"]
        )
    assert original.content == image
