"""The review console in a real browser (headless Chromium through Playwright), through the
real API server and a real ``steve-lite worker`` process, with webhooks to a real receiver.

A reviewer added by ``steve-lite reviewers add`` signs in through the printed link, opens the
receipt waiting in the queue, sees the image with its OCR boxes, corrects the total and approves
with the keyboard; the API and the ``submission.approved`` webhook then carry the corrected
total. The negative cases run in the browser too. The screenshots in docs/console/ are taken
here (``STEVE_UPDATE_SCREENSHOTS=1`` writes them there; otherwise to a temporary directory).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from steve_lite.clock import to_iso, utcnow
from steve_lite.console.accounts import hash_token
from steve_lite.storage.embedded import EmbeddedS3
from tests.fixtures.receiver import WebhookReceiver
from tests.support.api import Tenant
from tests.support.browser import LAPTOP, TABLET, chromium, offline_context, screenshot_dir
from tests.support.cli import run_cli
from tests.support.console import PASSWORD, add_reviewer, receipt
from tests.support.uploads import put_file
from tests.support.waiting import wait_until
from tests.support.worker import WorkerStack, open_session, start_stack, wait_for_job

__all__ = ["chromium"]  # the fixture
CORRECTED_TOTAL = 4321.09
LINK = re.compile(r"http://\S+/console/link/\S+")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    stack = start_stack(
        tmp_path_factory.mktemp("console-browser") / "data",
        embedded_s3,
        worker_env={"STEVE_WEBHOOK_ALLOW_PRIVATE": "true", "STEVE_WORKERS": "1"},
        webhook_allow_private=True,
    )
    stack.start_worker()
    yield stack
    stack.stop()


def submit_receipt(
    stack: WorkerStack, tenant: Tenant, image: bytes, content_type: str = "image/jpeg", **kw: Any
) -> dict[str, Any]:
    """Upload one receipt (the PUT says ``content_type``), submit, wait; the job view."""
    session = open_session(stack.api, tenant, "receipt-ocr", 1, **kw)
    upload = {**session["uploadUrls"][0], "headers": {"Content-Type": content_type}}
    assert put_file(upload, image).status_code == 200
    with stack.api.client(tenant) as client:
        submitted = client.post(
            f"/api/v1/workflows/receipt-ocr/sessions/{session['sessionId']}/submit"
        )
    assert submitted.status_code == 200, submitted.text
    return wait_for_job(stack.api, tenant, session["sessionId"], worker=stack.workers[0])


def cli_link(stack: WorkerStack, *args: str) -> str:
    """Run ``steve-lite reviewers ...`` on the stack's data dir; the sign-in link it printed."""
    result = run_cli(stack.data_dir, "reviewers", *args, STEVE_PUBLIC_URL=stack.api.url)
    found = LINK.search(result.stdout)
    assert found, result.stdout
    return found.group(0)


def set_password(page: Page, link: str) -> None:
    page.goto(link)
    page.fill('input[name="password"]', PASSWORD)
    page.fill('input[name="confirm"]', PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/console/sign-in")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def signed_by(api_key: str, body: bytes, signature: str) -> bool:
    secret = hashlib.sha256(api_key.encode()).hexdigest().encode()
    return hmac.compare_digest(signature, "sha256=" + hmac.new(secret, body, "sha256").hexdigest())


def test_a_reviewer_corrects_the_total_and_approves_with_the_keyboard(
    stack: WorkerStack, chromium: Browser, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    api = stack.api
    tenant = api.tenant()
    image = receipt(seed=8)
    hook = {"webhookUrl": webhook_receiver.url}
    first = submit_receipt(stack, tenant, image, **hook)
    second = submit_receipt(stack, tenant, image, **hook)  # an exact duplicate: review
    assert second["submissionStatus"] == "review", second
    waiting = api.db.execute(
        "SELECT COUNT(*) FROM submissions WHERE company_id = ? AND status = 'review'",
        [tenant.company["id"]],
    ).fetchone()[0]
    email = f"reviewer-{tenant.key_id[-8:]}@example.com"
    link = cli_link(stack, "add", email, "--company", tenant.company["slug"])

    context, guard = offline_context(chromium, LAPTOP)
    page = context.new_page()
    set_password(page, link)

    # The queue: the count waiting, review first; open the duplicate.
    assert page.inner_text("#queue-waiting") == f"{waiting} waiting for review"
    assert page.inner_text("#waiting-count") == f"{waiting} waiting"
    statuses = page.locator(
        "table.queue tbody tr .badge.review, table.queue tbody tr .badge.approved"
    )
    assert statuses.first.inner_text() == "review"
    shots = screenshot_dir(tmp_path)
    page.screenshot(path=shots / "queue.png", full_page=True)
    page.click(f'a[href="/console/submissions/{second["submissionId"]}"]')
    page.wait_for_url(f"**/console/submissions/{second['submissionId']}")

    # The image, decoded by the browser, with the OCR boxes fitted over it.
    page.wait_for_selector(".stage svg.boxes[data-fitted=true]", state="attached")
    natural = page.eval_on_selector("#image-0", "img => [img.naturalWidth, img.naturalHeight]")
    assert natural[0] > 0 and natural[1] > 0
    assert page.get_attribute(".stage svg.boxes", "viewBox") == f"0 0 {natural[0]} {natural[1]}"
    lines = second["result"]["pages"][0]["lines"]
    assert page.locator("polygon.line-box").count() == len(lines) > 0
    # The box each field was read from; focusing the total highlights the total's box.
    evidence = second["result"]["fieldEvidence"]
    assert "totalAmount" in evidence
    assert page.locator("polygon.field-box").count() == len(evidence)
    assert page.locator("polygon.field-box.active").count() == 0
    page.focus("#field-totalAmount")
    active = page.locator("polygon.field-box.active")
    assert active.count() == 1
    assert active.get_attribute("data-field") == "totalAmount"
    assert evidence["totalAmount"]["text"] in page.inner_text("main")
    page.focus("#field-purchaseDate")
    assert page.locator("polygon.field-box.active").get_attribute("data-field") == "purchaseDate"
    page.focus("#field-totalAmount")
    assert page.locator("#reasons").inner_text().startswith("fraud check")
    # Each fraud match shows the earlier submission's image beside this one, and both load.
    matches = page.locator(".match")
    assert matches.count() >= 1
    first_image = f"/console/submissions/{first['submissionId']}/files/0"
    assert page.locator(f'.match img[src="{first_image}"]').count() == matches.count()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.match img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )

    # Correct the total and approve with the keyboard.
    page.fill("#field-totalAmount", f"{CORRECTED_TOTAL}")
    page.screenshot(path=shots / "submission.png", full_page=True)
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.wait_for_url(re.compile(r".*done=approved$"))
    assert guard.refused == []

    tablet, _ = offline_context(chromium, TABLET)
    tablet.add_cookies(context.cookies())
    view = tablet.new_page()
    view.goto(f"{api.url}/console/submissions/{second['submissionId']}")
    view.wait_for_selector(".stage svg.boxes[data-fitted=true]", state="attached")
    view.screenshot(path=shots / "submission-tablet.png", full_page=True)
    assert view.inner_text("#status") == "approved"
    history = view.inner_text("#events")
    assert f"corrected by {email} totalAmount" in history
    assert f"approved by {email}" in history
    tablet.close()
    context.close()
    for name in ("queue.png", "submission.png", "submission-tablet.png"):
        assert (shots / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    # The API shows the correction and the approval.
    with api.client(tenant) as client:
        detail = client.get(f"/api/v1/submissions/{second['submissionId']}").json()
    read_total = second["result"]["extractedData"]["totalAmount"]
    assert detail["submissionStatus"] == "approved"
    assert detail["extractedData"]["totalAmount"] == CORRECTED_TOTAL
    [correction] = detail["result"]["corrections"]
    assert (correction["field"], correction["before"], correction["after"]) == (
        "totalAmount",
        read_total,
        CORRECTED_TOTAL,
    )
    reviewer_id = api.db.execute("SELECT id FROM reviewers WHERE email = ?", [email]).fetchone()[0]
    assert [(e["type"], e["actor"]) for e in detail["events"][:2]] == [
        ("approved", reviewer_id),
        ("corrected", reviewer_id),
    ]
    assert first["submissionId"] != second["submissionId"]

    # And so does the webhook the worker delivered to the receiver.
    def approved() -> list[Any]:
        return [
            r for r in webhook_receiver.requests
            if r.headers.get("x-webhook-event") == "submission.approved"
        ]  # fmt: skip

    wait_until(approved, 60, "the submission.approved webhook", stack.workers[0])
    [request] = approved()
    body = json.loads(request.body)
    assert body["submissionId"] == second["submissionId"]
    assert body["submissionStatus"] == "approved"
    assert body["result"]["extractedData"]["totalAmount"] == CORRECTED_TOTAL
    assert body["result"]["corrections"][0]["after"] == CORRECTED_TOTAL
    assert signed_by(tenant.key, request.body, request.headers["x-webhook-signature"])


def test_the_negative_cases_in_the_browser(stack: WorkerStack, chromium: Browser) -> None:
    api = stack.api
    tenant, other = api.tenant(), api.tenant()
    image = receipt(seed=9)
    submit_receipt(stack, tenant, image)
    job = submit_receipt(stack, tenant, image, content_type="text/html")  # a duplicate: review
    assert job["submissionStatus"] == "review", job
    email = add_reviewer(api.db, tenant)
    other_email = add_reviewer(api.db, other)
    context, guard = offline_context(chromium, LAPTOP)
    page = context.new_page()

    # A wrong password and an unknown account read the same.
    sign_in(page, api.url, email, "not the right password")
    wrong = page.inner_text("main")
    sign_in(page, api.url, "nobody-" + email, "not the right password")
    assert page.inner_text("main") == wrong
    assert "The email address or the password is wrong." in wrong
    assert context.cookies() and all(c["name"] != "steve_console" for c in context.cookies())

    # Signed in: the image uploaded as text/html is served as the JPEG it is.
    sign_in(page, api.url, email, PASSWORD)
    page.wait_for_url("**/console/")
    image = page.request.get(f"{api.url}/console/submissions/{job['submissionId']}/files/0")
    assert image.status == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["x-content-type-options"] == "nosniff"

    # A form posted without its CSRF token is refused, and nothing changes.
    page.goto(f"{api.url}/console/submissions/{job['submissionId']}")
    page.eval_on_selector('#review-form input[name="csrf_token"]', "input => input.remove()")
    with page.expect_navigation():
        page.click("#approve-button")
    assert "security token" in page.inner_text("#error-detail")
    status = api.db.execute(
        "SELECT status FROM submissions WHERE id = ?", [job["submissionId"]]
    ).fetchone()[0]
    assert status == job["submissionStatus"]

    # An expired session sends the reviewer to sign in, and back after.
    cookie = next(c for c in context.cookies() if c["name"] == "steve_console")
    api.db.execute(
        "UPDATE console_sessions SET expires_at = ? WHERE token_hash = ?",
        [to_iso(utcnow()), hash_token(cookie["value"])],
    )
    page.goto(f"{api.url}/console/submissions/{job['submissionId']}")
    assert "/console/sign-in?next=" in page.url
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/submissions/{job['submissionId']}")
    context.close()

    # Another company's reviewer gets 404 for this submission and its image.
    context, _ = offline_context(chromium, LAPTOP)
    page = context.new_page()
    sign_in(page, api.url, other_email, PASSWORD)
    page.wait_for_url("**/console/")
    answer = page.goto(f"{api.url}/console/submissions/{job['submissionId']}")
    assert answer is not None and answer.status == 404
    assert page.inner_text("h1") == "Not Found"
    image = page.request.get(f"{api.url}/console/submissions/{job['submissionId']}/files/0")
    assert image.status == 404
    context.close()
    assert guard.refused == []
