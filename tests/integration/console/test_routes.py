"""The console over real HTTP without a browser: sign-in rules, sessions, CSRF, company
isolation, image serving, and review actions through the forms.

Submissions come from the real API and the session's real worker process (tests/support/worker);
the browser flow itself is in tests/e2e/test_console_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from steve_lite.clock import parse_iso, to_iso, utcnow
from steve_lite.console import accounts
from tests.support.api import Tenant
from tests.support.console import (
    PASSWORD,
    add_reviewer,
    console_client,
    csrf_of,
    receipt,
    receipt_in_review,
    sign_in,
    signed_in_client,
)
from tests.support.sessions import open_session, submit_files, wait_for_job
from tests.support.uploads import jpeg, put_file
from tests.support.waiting import wait_until
from tests.support.worker import WorkerStack

TOKEN_VALUE = re.compile(r'value="[A-Za-z0-9_-]{43}"')


@pytest.fixture(scope="module")
def tenant(worker_stack: WorkerStack) -> Tenant:
    return worker_stack.api.tenant()


@pytest.fixture(scope="module")
def in_review(worker_stack: WorkerStack, tenant: Tenant) -> dict[str, Any]:
    """A receipt waiting in review (the second of two identical uploads)."""
    return receipt_in_review(worker_stack, tenant, seed=3)[1]


@pytest.fixture
def reviewer(worker_stack: WorkerStack, tenant: Tenant) -> str:
    return add_reviewer(worker_stack.api.db, tenant)


@pytest.fixture
def browser(worker_stack: WorkerStack, reviewer: str) -> Iterator[httpx.Client]:
    with signed_in_client(worker_stack.api, reviewer) as client:
        yield client


def without_tokens(page: httpx.Response) -> str:
    return TOKEN_VALUE.sub('value="-"', page.text)


# ---------------------------------------------------------------- sign-in


def test_a_link_sets_the_password_once_and_signs_in(
    worker_stack: WorkerStack, tenant: Tenant
) -> None:
    db = worker_stack.api.db
    row = accounts.add_reviewer(db, tenant.company["id"], "New.Person@Example.com")
    token = accounts.issue_link(db, row["id"], 600)
    with console_client(worker_stack.api) as client:
        page = client.get(f"/console/link/{token}")
        assert page.status_code == 200
        assert "new.person@example.com" in page.text
        short = client.post(
            "/console/link",
            data={
                "csrf_token": csrf_of(page),
                "token": token,
                "password": "short",
                "confirm": "short",
            },
        )
        assert short.status_code == 422
        assert "at least 12 characters" in short.text
        answer = client.post(
            "/console/link",
            data={
                "csrf_token": csrf_of(short),
                "token": token,
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/"
        assert client.get("/console/").status_code == 200
        assert client.get(f"/console/link/{token}").status_code == 410  # spent
    stored = db.execute("SELECT password_hash FROM reviewers WHERE id = ?", [row["id"]]).fetchone()
    assert stored[0].startswith("$argon2id$")
    assert PASSWORD not in stored[0]


def test_an_expired_link_does_not_work(worker_stack: WorkerStack, tenant: Tenant) -> None:
    db = worker_stack.api.db
    row = accounts.add_reviewer(db, tenant.company["id"], f"late-{tenant.key_id}@example.com")
    token = accounts.issue_link(db, row["id"], 600)
    db.execute(
        "UPDATE reviewer_links SET expires_at = ? WHERE reviewer_id = ?",
        [to_iso(utcnow()), row["id"]],
    )
    with console_client(worker_stack.api) as client:
        assert client.get(f"/console/link/{token}").status_code == 410


def test_an_unknown_account_and_a_wrong_password_answer_alike(
    worker_stack: WorkerStack, reviewer: str
) -> None:
    with console_client(worker_stack.api) as client:
        wrong = sign_in(client, reviewer, "not the password at all")
        unknown = sign_in(client, "nobody-" + reviewer, "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert without_tokens(wrong).replace(reviewer, "E") == without_tokens(unknown).replace(
        "nobody-" + reviewer, "E"
    )
    assert "The email address or the password is wrong." in wrong.text
    assert "steve_console=" not in wrong.headers.get("set-cookie", "")


def test_sign_in_attempts_are_limited_per_account_known_or_not(
    worker_stack: WorkerStack, reviewer: str
) -> None:
    limit = worker_stack.api.settings.console_sign_in_limit_account
    with console_client(worker_stack.api) as client:
        for email in (reviewer, "ghost-" + reviewer):
            answers = [sign_in(client, email, "wrong password!!").status_code for _ in range(limit)]
            assert answers == [401] * limit
            refused = sign_in(client, email, "wrong password!!")
            assert refused.status_code == 429
            window = worker_stack.api.settings.console_sign_in_window_seconds
            assert 1 <= int(refused.headers["retry-after"]) <= window
        # The right password is refused too while the account is over its limit.
        assert sign_in(client, reviewer).status_code == 429


def test_a_form_without_its_csrf_token_is_refused(
    worker_stack: WorkerStack, browser: httpx.Client, in_review: dict[str, Any]
) -> None:
    submission_id = in_review["submissionId"]
    missing = browser.post(f"/console/submissions/{submission_id}/approve", data={})
    wrong = browser.post(
        f"/console/submissions/{submission_id}/approve", data={"csrf_token": "x" * 43}
    )
    assert missing.status_code == wrong.status_code == 403
    with console_client(worker_stack.api) as client:
        assert (
            client.post("/console/sign-in", data={"email": "a@b.c", "password": "x"}).status_code
            == 403
        )
    status = worker_stack.api.db.execute(
        "SELECT status FROM submissions WHERE id = ?", [submission_id]
    ).fetchone()[0]
    assert status == "review"


def test_the_session_cookie_is_http_only_strict_and_scoped(
    worker_stack: WorkerStack, reviewer: str
) -> None:
    with console_client(worker_stack.api) as client:
        answer = sign_in(client, reviewer)
    assert answer.status_code == 303
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("steve_console=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "Path=/console" in cookie
    assert "secure" not in attributes  # plain HTTP here; over HTTPS it is Secure


# ---------------------------------------------------------------- sessions


def test_without_a_session_pages_send_to_sign_in(worker_stack: WorkerStack, tenant: Tenant) -> None:
    with console_client(worker_stack.api) as client:
        answer = client.get("/console/", headers=tenant.headers)  # an API key is not enough
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in?next=")


def test_a_console_cookie_does_not_open_the_api(
    worker_stack: WorkerStack, browser: httpx.Client
) -> None:
    cookie = browser.cookies.get("steve_console")
    assert cookie
    answer = httpx.get(
        worker_stack.api.url + "/api/v1/submissions", cookies={"steve_console": cookie}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
def test_an_idle_or_expired_session_sends_to_sign_in(
    worker_stack: WorkerStack, browser: httpx.Client, column: str
) -> None:
    assert browser.get("/console/").status_code == 200
    idle = timedelta(seconds=worker_stack.api.settings.console_idle_timeout_seconds + 1)
    past = to_iso(utcnow() - idle) if column == "last_seen_at" else to_iso(utcnow())
    worker_stack.api.db.execute(
        f"UPDATE console_sessions SET {column} = ? WHERE token_hash = ?",
        [past, accounts.hash_token(browser.cookies["steve_console"])],
    )
    answer = browser.get("/console/?status=review")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console%3Fstatus%3Dreview"


def test_sign_out_ends_the_session(browser: httpx.Client) -> None:
    page = browser.get("/console/")
    cookie = browser.cookies.get("steve_console")
    answer = browser.post("/console/sign-out", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303
    browser.cookies.set("steve_console", cookie or "", path="/console")
    assert browser.get("/console/").status_code == 303


def test_disabling_a_reviewer_ends_their_sessions(
    worker_stack: WorkerStack, browser: httpx.Client, reviewer: str
) -> None:
    assert browser.get("/console/").status_code == 200
    accounts.disable_reviewer(worker_stack.api.db, reviewer)
    assert browser.get("/console/").status_code == 303
    with console_client(worker_stack.api) as client:
        assert sign_in(client, reviewer).status_code == 401


# ---------------------------------------------------------------- pages and images


def test_another_companys_submission_and_image_are_404(
    worker_stack: WorkerStack, in_review: dict[str, Any]
) -> None:
    other = worker_stack.api.tenant()
    email = add_reviewer(worker_stack.api.db, other)
    with signed_in_client(worker_stack.api, email) as client:
        page = client.get(f"/console/submissions/{in_review['submissionId']}")
        image = client.get(f"/console/submissions/{in_review['submissionId']}/files/0")
        queue = client.get("/console/")
    assert page.status_code == image.status_code == 404
    assert in_review["submissionId"] not in queue.text


def test_the_queue_lists_review_first_with_the_count_waiting(
    browser: httpx.Client, in_review: dict[str, Any]
) -> None:
    page = browser.get("/console/")
    assert page.status_code == 200
    assert "1 waiting for review" in page.text
    rows = re.findall(r'<tr class="status-(\w+)">', page.text)
    assert rows == ["review", "approved"]
    approved = browser.get("/console/?status=approved")
    assert re.findall(r'<tr class="status-(\w+)">', approved.text) == ["approved"]
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_an_image_uploaded_as_html_is_served_as_the_image_it_is(
    worker_stack: WorkerStack, tenant: Tenant, browser: httpx.Client
) -> None:
    api = worker_stack.api
    image = receipt(seed=11)
    session = open_session(api, tenant, "receipt-ocr", 1)
    upload = {**session["uploadUrls"][0], "headers": {"Content-Type": "text/html"}}
    assert put_file(upload, image).status_code == 200
    with api.client(tenant) as client:
        assert (
            client.post(
                f"/api/v1/workflows/receipt-ocr/sessions/{session['sessionId']}/submit"
            ).status_code
            == 200
        )
    job = wait_for_job(api, tenant, session["sessionId"])
    served = browser.get(f"/console/submissions/{job['submissionId']}/files/0")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.content == image


def test_the_submission_page_shows_fields_reasons_and_the_match(
    browser: httpx.Client, in_review: dict[str, Any]
) -> None:
    page = browser.get(f"/console/submissions/{in_review['submissionId']}")
    assert page.status_code == 200
    data = in_review["result"]["extractedData"]
    assert f'value="{data["totalAmount"]}"' in page.text
    for reason in in_review["result"]["reviewReasons"]:
        assert reason in page.text
    assert "image duplicate" in page.text
    assert f"/console/submissions/{in_review['submissionId']}/files/0" in page.text
    assert "aok_" not in page.text  # no API key material reaches the browser


def test_a_correction_and_the_approval_through_the_form(
    worker_stack: WorkerStack, tenant: Tenant, browser: httpx.Client
) -> None:
    job = receipt_in_review(worker_stack, tenant, seed=5)[1]
    submission_id = job["submissionId"]
    page = browser.get(f"/console/submissions/{submission_id}")
    before = job["result"]["extractedData"]["totalAmount"]
    bad = browser.post(
        f"/console/submissions/{submission_id}/approve",
        data={"csrf_token": csrf_of(page), "field.totalAmount": "twelve"},
    )
    assert bad.status_code == 422
    assert "totalAmount: is not a number" in bad.text
    answer = browser.post(
        f"/console/submissions/{submission_id}/approve",
        data={"csrf_token": csrf_of(page), "field.totalAmount": "1234,50", "note": "fixed total"},
    )
    assert answer.status_code == 303
    with worker_stack.api.client(tenant) as client:
        detail = client.get(f"/api/v1/submissions/{submission_id}").json()
    assert detail["submissionStatus"] == "approved"
    assert detail["extractedData"]["totalAmount"] == 1234.5
    [correction] = detail["result"]["corrections"]
    assert (correction["field"], correction["before"], correction["after"]) == (
        "totalAmount",
        before,
        1234.5,
    )
    types = [e["type"] for e in detail["events"]]
    assert types[:2] == ["approved", "corrected"]
    assert detail["events"][1]["data"] == {
        "field": "totalAmount",
        "before": before,
        "after": 1234.5,
    }
    assert detail["events"][0]["actor"] == detail["events"][1]["actor"] == correction["correctedBy"]
    assert correction["correctedBy"].startswith("rvw_")


def test_resolving_a_match_and_rejecting_through_the_forms(
    worker_stack: WorkerStack, tenant: Tenant, browser: httpx.Client
) -> None:
    job = receipt_in_review(worker_stack, tenant, seed=6)[1]
    submission_id = job["submissionId"]
    page = browser.get(f"/console/submissions/{submission_id}")
    csrf = csrf_of(page)
    no_reason = browser.post(
        f"/console/submissions/{submission_id}/reject", data={"csrf_token": csrf}
    )
    assert no_reason.status_code == 422
    assert "a reason is required to reject" in no_reason.text

    with worker_stack.api.client(tenant) as client:
        matches = client.get(f"/api/v1/submissions/{submission_id}/fraud-matches").json()["data"]
    assert matches
    for match in matches:
        resolved = browser.post(
            f"/console/submissions/{submission_id}/fraud-matches/{match['id']}/resolve",
            data={
                "csrf_token": csrf,
                "resolution": "false_positive",
                "note": "same shop, two visits",
            },
        )
        assert resolved.status_code == 303
    again = browser.post(
        f"/console/submissions/{submission_id}/fraud-matches/{matches[0]['id']}/resolve",
        data={"csrf_token": csrf, "resolution": "false_positive"},
    )
    assert again.status_code == 409

    rejected = browser.post(
        f"/console/submissions/{submission_id}/reject",
        data={"csrf_token": csrf, "reason": "blurred total"},
    )
    assert rejected.status_code == 303
    assert rejected.headers["location"].endswith("done=rejected")
    with worker_stack.api.client(tenant) as client:
        detail = client.get(f"/api/v1/submissions/{submission_id}").json()
    assert (detail["submissionStatus"], detail["fraudStatus"]) == ("rejected", "clean")
    assert detail["rejectReason"] == "blurred total"
    assert detail["result"].get("corrections", []) == []
    late = browser.post(f"/console/submissions/{submission_id}/approve", data={"csrf_token": csrf})
    assert late.status_code == 409


def test_activity_moves_the_idle_timeout(worker_stack: WorkerStack, browser: httpx.Client) -> None:
    db = worker_stack.api.db
    token_hash = accounts.hash_token(browser.cookies["steve_console"])
    earlier = to_iso(utcnow() - timedelta(seconds=120))
    db.execute(
        "UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?", [earlier, token_hash]
    )
    assert browser.get("/console/").status_code == 200

    def last_seen() -> str:
        return db.execute(
            "SELECT last_seen_at FROM console_sessions WHERE token_hash = ?", [token_hash]
        ).fetchone()[0]

    wait_until(lambda: last_seen() > earlier, 5, "last_seen_at moved")
    assert parse_iso(last_seen()) > utcnow() - timedelta(seconds=10)


def test_the_queue_orders_and_filters(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    photos = [jpeg(seed=61, blur=6), jpeg(seed=62), jpeg(seed=63, blur=6)]  # review, ok, review
    jobs = []
    for photo in photos:
        session = submit_files(api, tenant, "compliance-vm", [photo])
        jobs.append(wait_for_job(api, tenant, session["sessionId"]))
    assert [j["submissionStatus"] for j in jobs] == ["review", "approved", "review"]
    ids = [j["submissionId"] for j in jobs]
    with signed_in_client(api, add_reviewer(api.db, tenant)) as client:

        def listed(query: str) -> list[str]:
            page = client.get(f"/console/?{query}")
            assert page.status_code == 200
            return re.findall(r'href="/console/submissions/(sub_\w+)" class="open"', page.text)

        assert listed("") == [ids[2], ids[0], ids[1]]
        assert listed("order=oldest") == [ids[0], ids[2], ids[1]]
        assert listed("status=approved") == [ids[1]]
        assert listed("workflow=receipt-ocr") == []
        assert listed("fraudStatus=clean&order=oldest") == [ids[0], ids[2], ids[1]]
        assert "2 waiting for review" in client.get("/console/?status=approved").text
        blurred = client.get(f"/console/submissions/{ids[0]}").text
        issues = jobs[0]["result"]["extractedData"]["issues"]
        assert issues and 'id="issues"' in blurred
        assert all(f"photo 1: {issue['message']}" in blurred for issue in issues)


def test_the_console_shows_the_submitted_image_after_the_upload_is_overwritten(
    worker_stack: WorkerStack, tenant: Tenant, browser: httpx.Client
) -> None:
    api = worker_stack.api
    image, forged = receipt(seed=12), receipt(seed=13)
    session = open_session(api, tenant, "receipt-ocr", 1)
    assert put_file(session["uploadUrls"][0], image).status_code == 200
    with api.client(tenant) as client:
        submit = f"/api/v1/workflows/receipt-ocr/sessions/{session['sessionId']}/submit"
        assert client.post(submit).status_code == 200
    job = wait_for_job(api, tenant, session["sessionId"])
    assert put_file(session["uploadUrls"][0], forged).status_code == 200  # still valid

    served = browser.get(f"/console/submissions/{job['submissionId']}/files/0")

    assert served.status_code == 200 and served.content == image
