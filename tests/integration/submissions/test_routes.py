"""The submissions API over real HTTP: list with filters and cursors, detail with download URLs,
the review transitions, fraud resolution, company isolation, and races with the pipeline.

Submissions reach their states through the real routes and the real processing pipeline (run in
this process by ``tests.support.processing``); the default blurred photo lands in ``review``.
Every action is checked against the database: one ``submission_events`` row with the acting key
as actor, and one ``webhook_events`` outbox row when the session has a ``webhookUrl``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from steve_lite.clock import parse_iso, utcnow
from steve_lite.processing.pipeline import process_session
from steve_lite.security.api_keys import create_key, find_key, hash_key
from steve_lite.sessions.schemas import SessionCreate
from steve_lite.sessions.service import create_session
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.submissions.events import append_event
from steve_lite.wiring import api_services
from tests.factories.photos import make_corrupt_jpeg, near_duplicate
from tests.support.api import LiveApi, Tenant, make_settings, start_live_api
from tests.support.problems import assert_problem
from tests.support.processing import processed_session, runtime_for, submitted_session
from tests.support.sessions import open_session
from tests.support.uploads import create_body, jpeg

HOOK = "https://hooks.example.com/x"
SUBMISSIONS = "/api/v1/submissions"
STATES = (
    "created",
    "processing",
    "review",
    "approved",
    "rejected",
    "cancelled",
    "failed",
    "synced",
)
ACTIONS = {
    # action: (states it is allowed from, target status, webhook event, request body)
    "approve": (("review",), "approved", "submission.approved", {"note": "looks right"}),
    "reject": (("review",), "rejected", "submission.rejected", {"reason": "wrong shelf"}),
    "cancel": (
        ("created", "processing", "review"),
        "cancelled",
        "submission.cancelled",
        {"reason": "visit called off"},
    ),
}
ITEM_KEYS = {
    "id",
    "sessionId",
    "submissionStatus",
    "fraudStatus",
    "fraudScore",
    "workflow",
    "extractedData",
    "confidence",
    "clientSubmissionId",
    "externalUser",
    "metadata",
    "createdAt",
    "updatedAt",
}
DETAIL_KEYS = ITEM_KEYS | {
    "files",
    "result",
    "fraudMatches",
    "events",
    "rejectReason",
    "cancelReason",
}


@functools.cache
def photo(seed: int, blur: float = 6) -> bytes:
    """A JPEG scene (blurred by default, so that it needs review); cached, they are slow."""
    return jpeg(seed=seed, blur=blur)


# ---------------------------------------------------------------- helpers


def event_rows(api: LiveApi, submission_id: str) -> list[dict[str, Any]]:
    rows = api.db.execute(
        "SELECT * FROM submission_events WHERE submission_id = ? ORDER BY seq", [submission_id]
    )
    return [{**dict(row), "data": json.loads(row["data"])} for row in rows]


def hook_rows(api: LiveApi, session_id: str) -> list[dict[str, Any]]:
    rows = api.db.execute(
        "SELECT * FROM webhook_events WHERE session_id = ? ORDER BY created_at, id",
        [session_id],
    )
    return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]


def status_of(api: LiveApi, submission_id: str) -> str:
    row = api.db.execute("SELECT status FROM submissions WHERE id = ?", [submission_id])
    return row.fetchone()[0]


def post(api: LiveApi, tenant: Tenant, path: str, body: Any = None) -> httpx.Response:
    with api.client(tenant) as client:
        if body is None:
            return client.post(SUBMISSIONS + path)
        return client.post(SUBMISSIONS + path, json=body)


def get(api: LiveApi, tenant: Tenant, path: str = "", **params: Any) -> httpx.Response:
    with api.client(tenant) as client:
        return client.get(SUBMISSIONS + path, params=params)


def make_submission(
    api: LiveApi, tenant: Tenant, state: str, *, seed: int = 7, **extra: Any
) -> dict[str, Any]:
    """A session whose submission is in ``state``, reached through the real routes."""
    if state == "created":
        return open_session(api, tenant, "compliance-vm", **extra)
    if state == "processing":
        return submitted_session(api, tenant, [photo(seed)], **extra)
    if state == "failed":
        return processed_session(api, tenant, [make_corrupt_jpeg()], **extra)
    if state in ("approved", "synced"):
        # A sharp photo passes every check: the pipeline approves it without a reviewer.
        session = processed_session(api, tenant, [photo(seed, blur=0)], **extra)
    else:
        session = processed_session(api, tenant, [photo(seed)], **extra)
    sid = session["submissionId"]
    if state == "rejected":
        assert post(api, tenant, f"/{sid}/reject", {"reason": "no"}).status_code == 200
    elif state == "cancelled":
        assert post(api, tenant, f"/{sid}/cancel").status_code == 200
    if state == "synced":
        # No route leads to ``synced`` (an integration sets it); it must refuse every action.
        api.db.execute("UPDATE submissions SET status = 'synced' WHERE id = ?", [sid])
    assert status_of(api, sid) == state
    return session


# ---------------------------------------------------------------- transitions


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("state", STATES)
def test_every_transition_and_every_refusal(live_api: LiveApi, state: str, action: str) -> None:
    allowed, target, event_type, body = ACTIONS[action]
    tenant = live_api.tenant()
    session = make_submission(live_api, tenant, state, webhookUrl=HOOK)
    sid = session["submissionId"]
    events_before = event_rows(live_api, sid)
    hooks_before = hook_rows(live_api, session["sessionId"])

    response = post(live_api, tenant, f"/{sid}/{action}", body)

    assert response.headers["x-ratelimit-limit"] == str(live_api.settings.rate_limit_review)
    new_events = event_rows(live_api, sid)[len(events_before) :]
    new_hooks = hook_rows(live_api, session["sessionId"])[len(hooks_before) :]
    if state not in allowed:
        problem = assert_problem(response, 409, "conflict")
        assert f"is {state}" in problem["detail"]
        assert status_of(live_api, sid) == state
        assert new_events == []
        assert new_hooks == []
        return

    assert response.status_code == 200, response.text
    detail = response.json()
    assert set(detail) == DETAIL_KEYS
    assert detail["id"] == sid
    assert detail["submissionStatus"] == target
    assert detail["rejectReason"] == (body["reason"] if action == "reject" else None)
    assert detail["cancelReason"] == (body["reason"] if action == "cancel" else None)
    assert status_of(live_api, sid) == target

    expected_data = {"from": state, **body}
    assert [(e["type"], e["actor"], e["data"]) for e in new_events] == [
        (target, tenant.key_id, expected_data)
    ]
    newest = detail["events"][0]
    assert newest["id"] == new_events[0]["id"]
    assert (newest["type"], newest["actor"], newest["data"]) == (
        target,
        tenant.key_id,
        expected_data,
    )

    assert len(new_hooks) == 1
    hook = new_hooks[0]
    assert (hook["event_type"], hook["url"], hook["status"], hook["attempts"]) == (
        event_type,
        HOOK,
        "pending",
        0,
    )
    assert hook["api_key_id"] == tenant.key_id
    payload = hook["payload"]
    assert payload["eventId"] == hook["id"]
    assert payload["eventType"] == event_type
    assert payload["submissionId"] == sid
    assert payload["sessionId"] == session["sessionId"]
    assert payload["submissionStatus"] == target
    assert payload["companyId"] == tenant.company["id"]
    assert payload["workflow"] == {"slug": "compliance-vm", "version": 2}
    session_state = {"created": "pending", "processing": "submitted"}.get(state, "completed")
    assert payload["state"] == session_state
    if action == "approve":
        assert "reason" not in payload
    else:
        assert payload["reason"] == body["reason"]


def test_actions_without_webhook_url_write_events_but_no_outbox_rows(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    approved = make_submission(live_api, tenant, "review", seed=31)
    rejected = make_submission(live_api, tenant, "review", seed=32)
    cancelled = make_submission(live_api, tenant, "created")
    duplicate = processed_session(live_api, tenant, [photo(31)])
    match = get(live_api, tenant, f"/{duplicate['submissionId']}").json()["fraudMatches"][0]

    calls = [
        (approved, "approve", None, "approved"),
        (rejected, "reject", {"reason": "x"}, "rejected"),
        (cancelled, "cancel", None, "cancelled"),
        (duplicate, f"fraud-matches/{match['id']}/resolve", {"resolution": "false_positive"}, ""),
    ]
    for session, action, body, status in calls:
        sid = session["submissionId"]
        before = len(event_rows(live_api, sid))
        response = post(live_api, tenant, f"/{sid}/{action}", body)
        assert response.status_code == 200, response.text
        new = event_rows(live_api, sid)[before:]
        assert len(new) == 1 and new[0]["actor"] == tenant.key_id
        if status:
            assert response.json()["submissionStatus"] == status
        assert hook_rows(live_api, session["sessionId"]) == []


def test_actor_is_the_key_that_acted_and_every_key_of_the_company_sees_it(
    live_api: LiveApi,
) -> None:
    tenant = live_api.tenant()
    session = make_submission(live_api, tenant, "review", webhookUrl=HOOK)
    row, plaintext = create_key(live_api.db, company_id=tenant.company["id"])
    colleague = Tenant(company=tenant.company, key_id=row["id"], key=plaintext)
    sid = session["submissionId"]
    assert get(live_api, colleague, f"/{sid}").status_code == 200
    response = post(live_api, colleague, f"/{sid}/approve", {})
    assert response.status_code == 200, response.text
    assert response.json()["events"][0]["actor"] == colleague.key_id
    assert event_rows(live_api, sid)[-1]["actor"] == colleague.key_id
    # The webhook is signed with the key that created the session, whoever approved it.
    hook = hook_rows(live_api, session["sessionId"])[-1]
    assert (hook["event_type"], hook["api_key_id"]) == ("submission.approved", tenant.key_id)


def test_cancelled_session_can_no_longer_be_submitted(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant, "compliance-vm")
    assert post(live_api, tenant, f"/{session['submissionId']}/cancel").status_code == 200
    with live_api.client(tenant) as client:
        response = client.post(
            f"/api/v1/workflows/compliance-vm/sessions/{session['sessionId']}/submit"
        )
    assert_problem(response, 400, "conflict")
    assert status_of(live_api, session["submissionId"]) == "cancelled"


# ---------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("reject", {}, "reason"),
        ("reject", {"reason": ""}, "reason"),
        ("reject", {"reason": "x" * 1001}, "reason"),
        ("reject", {"reason": 12}, "reason"),
        ("reject", {"reason": None}, "reason"),
        ("approve", {"note": "n" * 1001}, "note"),
        ("cancel", {"reason": "r" * 1001}, "reason"),
        ("resolve", {}, "resolution"),
        ("resolve", {"resolution": "maybe"}, "resolution"),
        ("resolve", {"resolution": "false_positive", "note": "n" * 1001}, "note"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    live_api: LiveApi, fraud_case: dict[str, Any], action: str, body: Any, field: str
) -> None:
    api, tenant, session, match_id = (fraud_case[k] for k in ("api", "tenant", "session", "match"))
    sid = session["submissionId"]
    path = f"/{sid}/fraud-matches/{match_id}/resolve" if action == "resolve" else f"/{sid}/{action}"
    before = len(event_rows(api, sid))
    problem = assert_problem(post(api, tenant, path, body), 422, "validation-error")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert len(event_rows(api, sid)) == before
    assert status_of(api, sid) == "review"


@pytest.mark.parametrize("action", ["approve", "reject", "cancel", "resolve"])
@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"reason"', b"{"])
def test_non_json_or_non_object_bodies_are_400(
    live_api: LiveApi, fraud_case: dict[str, Any], action: str, raw: bytes
) -> None:
    tenant, session, match_id = fraud_case["tenant"], fraud_case["session"], fraud_case["match"]
    sid = session["submissionId"]
    path = f"/{sid}/fraud-matches/{match_id}/resolve" if action == "resolve" else f"/{sid}/{action}"
    with live_api.client(tenant) as client:
        response = client.post(
            SUBMISSIONS + path, content=raw, headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 400, "bad-request")
    assert status_of(live_api, sid) == "review"


def test_reason_of_1000_characters_is_accepted_and_unknown_fields_ignored(
    live_api: LiveApi,
) -> None:
    tenant = live_api.tenant()
    session = make_submission(live_api, tenant, "review")
    reason = "é" * 1000
    response = post(
        live_api, tenant, f"/{session['submissionId']}/reject", {"reason": reason, "extra": 1}
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejectReason"] == reason


@pytest.fixture(scope="module")
def fraud_case(live_api: LiveApi) -> dict[str, Any]:
    """A submission in ``review`` with one open fraud match, for body checks (never changed)."""
    tenant = live_api.tenant()
    processed_session(live_api, tenant, [photo(41)])
    session = processed_session(live_api, tenant, [photo(41)])
    detail = get(live_api, tenant, f"/{session['submissionId']}").json()
    assert detail["submissionStatus"] == "review" and len(detail["fraudMatches"]) == 1
    return {
        "api": live_api,
        "tenant": tenant,
        "session": session,
        "match": detail["fraudMatches"][0]["id"],
    }


# ---------------------------------------------------------------- detail and downloads


def test_detail_files_download_from_storage_and_a_changed_signature_is_refused(
    live_api: LiveApi,
) -> None:
    tenant = live_api.tenant()
    images = [photo(51), photo(52, blur=0)]
    metadata = {"store": "S-12", "visit": {"n": 3}}
    user = {"id": "u-1", "name": "Ann", "email": "ann@example.com"}
    session = processed_session(live_api, tenant, images, metadata=metadata, externalUser=user)
    before = utcnow()
    response = get(live_api, tenant, f"/{session['submissionId']}")
    after = utcnow()
    assert response.status_code == 200, response.text
    assert response.headers["x-ratelimit-limit"] == str(live_api.settings.rate_limit_read)
    detail = response.json()
    assert set(detail) == DETAIL_KEYS
    assert detail["sessionId"] == session["sessionId"]
    assert detail["submissionStatus"] == "review"
    assert detail["workflow"] == {
        "slug": "compliance-vm",
        "name": "Photo compliance (visual merchandising)",
        "version": 2,
    }
    assert detail["metadata"] == metadata
    assert detail["externalUser"] == user
    assert detail["fraudStatus"] == "clean" and detail["fraudScore"] == 0
    assert detail["fraudMatches"] == []
    assert detail["result"]["extractedData"] == detail["extractedData"]
    assert [p["fileIndex"] for p in detail["extractedData"]["photos"]] == [0, 1]
    assert detail["confidence"] == detail["result"]["confidence"]
    assert (detail["rejectReason"], detail["cancelReason"]) == (None, None)
    assert [e["type"] for e in detail["events"]] == [
        "processing_completed",
        "processing_started",
        "submitted",
        "created",
    ]
    assert detail["events"][-1]["actor"] == tenant.key_id

    files = detail["files"]
    assert [(f["fileIndex"], f["label"], f["contentType"], f["sizeBytes"]) for f in files] == [
        (0, "photo", "image/jpeg", len(images[0])),
        (1, "photo", "image/jpeg", len(images[1])),
    ]
    for file, data in zip(files, images, strict=True):
        expires = parse_iso(file["downloadUrlExpiresAt"])
        assert (expires - before).total_seconds() >= 3599
        assert (expires - after).total_seconds() <= 3600
        assert "X-Amz-Expires=3600" in file["downloadUrl"]
        assert urlsplit(file["downloadUrl"]).hostname == "127.0.0.1"
        download = httpx.get(file["downloadUrl"], timeout=30)
        assert download.status_code == 200
        assert download.content == data

    url = files[0]["downloadUrl"]
    marker = "X-Amz-Signature="
    at = url.index(marker) + len(marker) + 5
    tampered = url[:at] + ("0" if url[at] != "0" else "1") + url[at + 1 :]
    refused = httpx.get(tampered, timeout=30)
    assert refused.status_code == 403
    assert refused.content != images[0]


def test_detail_of_a_created_submission_lists_empty_slots(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = open_session(live_api, tenant, "compliance-vm")
    detail = get(live_api, tenant, f"/{session['submissionId']}").json()
    assert detail["submissionStatus"] == "created"
    assert (detail["result"], detail["extractedData"], detail["fraudStatus"]) == (None, None, None)
    [file] = detail["files"]
    assert (file["fileIndex"], file["sizeBytes"]) == (0, None)
    assert httpx.get(file["downloadUrl"], timeout=30).status_code == 404
    assert [(e["type"], e["actor"]) for e in detail["events"]] == [("created", tenant.key_id)]


def test_detail_lists_the_newest_100_events(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    sid = open_session(live_api, tenant, "compliance-vm")["submissionId"]
    ids = [
        append_event(live_api.db, sid, "note", actor=tenant.key_id, data={"n": n})
        for n in range(120)
    ]
    events = get(live_api, tenant, f"/{sid}").json()["events"]
    assert [e["id"] for e in events] == ids[::-1][:100]
    assert [e["data"]["n"] for e in events] == list(range(119, 19, -1))


# ---------------------------------------------------------------- isolation


def test_another_companys_submission_is_404_everywhere(live_api: LiveApi) -> None:
    owner, stranger = live_api.tenant(), live_api.tenant()
    processed_session(live_api, owner, [photo(61)])
    session = processed_session(live_api, owner, [photo(61)], webhookUrl=HOOK)
    sid = session["submissionId"]
    match_id = get(live_api, owner, f"/{sid}").json()["fraudMatches"][0]["id"]
    events_before = event_rows(live_api, sid)
    hooks_before = hook_rows(live_api, session["sessionId"])

    with live_api.client(stranger) as client:
        answers = [
            client.get(f"{SUBMISSIONS}/{sid}"),
            client.get(f"{SUBMISSIONS}/{sid}/fraud-matches"),
            client.post(f"{SUBMISSIONS}/{sid}/approve"),
            client.post(f"{SUBMISSIONS}/{sid}/reject", json={"reason": "mine now"}),
            client.post(f"{SUBMISSIONS}/{sid}/cancel"),
            client.post(
                f"{SUBMISSIONS}/{sid}/fraud-matches/{match_id}/resolve",
                json={"resolution": "confirmed_fraud"},
            ),
        ]
        listed = client.get(SUBMISSIONS, params={"limit": 100}).json()
    for answer in answers:
        assert_problem(answer, 404, "not-found")
    assert listed == {"data": [], "pagination": {"hasMore": False, "nextCursor": None}}

    assert status_of(live_api, sid) == "review"
    assert event_rows(live_api, sid) == events_before
    assert hook_rows(live_api, session["sessionId"]) == hooks_before
    match = get(live_api, owner, f"/{sid}/fraud-matches").json()["data"][0]
    assert (match["id"], match["status"]) == (match_id, "open")


def test_unknown_ids_are_404(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    processed_session(live_api, tenant, [photo(71)])
    duplicate = processed_session(live_api, tenant, [photo(71)])
    other = make_submission(live_api, tenant, "review", seed=72)
    sid = duplicate["submissionId"]
    match_id = get(live_api, tenant, f"/{sid}").json()["fraudMatches"][0]["id"]
    missing = "sub_000000000000000000000000"
    assert_problem(get(live_api, tenant, f"/{missing}"), 404, "not-found")
    assert_problem(post(live_api, tenant, f"/{missing}/approve"), 404, "not-found")
    assert_problem(get(live_api, tenant, f"/{missing}/fraud-matches"), 404, "not-found")
    resolve = {"resolution": "false_positive"}
    path = f"/{sid}/fraud-matches/fm_000000000000000000000000/resolve"
    assert_problem(post(live_api, tenant, path, resolve), 404, "not-found")
    # A real match, addressed through another submission of the same company.
    path = f"/{other['submissionId']}/fraud-matches/{match_id}/resolve"
    assert_problem(post(live_api, tenant, path, resolve), 404, "not-found")
    assert get(live_api, tenant, f"/{sid}").json()["fraudStatus"] == "blocked"


# ---------------------------------------------------------------- fraud resolution


def resolve(
    api: LiveApi, tenant: Tenant, sid: str, match_id: str, resolution: str, note: str | None = None
) -> httpx.Response:
    body = {"resolution": resolution, **({"note": note} if note else {})}
    return post(api, tenant, f"/{sid}/fraud-matches/{match_id}/resolve", body)


def check_resolution(
    api: LiveApi,
    tenant: Tenant,
    session: dict[str, Any],
    match_id: str,
    resolution: str,
    fraud_status: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Resolve one match; check the answer, the event, the outbox row and ``fraudStatus``."""
    sid = session["submissionId"]
    events_before = len(event_rows(api, sid))
    hooks_before = len(hook_rows(api, session["sessionId"]))
    response = resolve(api, tenant, sid, match_id, resolution, note)
    assert response.status_code == 200, response.text
    assert response.headers["x-ratelimit-limit"] == str(api.settings.rate_limit_review)
    match = response.json()
    assert (match["id"], match["status"], match["resolution"], match["note"]) == (
        match_id,
        "resolved",
        resolution,
        note,
    )
    assert abs((parse_iso(match["resolvedAt"]) - utcnow()).total_seconds()) < 60
    [event] = event_rows(api, sid)[events_before:]
    assert (event["type"], event["actor"], event["data"]) == (
        "fraud_match_resolved",
        tenant.key_id,
        {"matchId": match_id, "resolution": resolution, "fraudStatus": fraud_status},
    )
    [hook] = hook_rows(api, session["sessionId"])[hooks_before:]
    assert hook["event_type"] == "submission.fraud_match_resolved"
    assert hook["payload"]["eventType"] == "submission.fraud_match_resolved"
    assert hook["payload"]["fraudMatch"] == match
    assert hook["payload"]["submissionId"] == sid
    detail = get(api, tenant, f"/{sid}").json()
    assert detail["fraudStatus"] == fraud_status
    assert detail["submissionStatus"] == "review"
    return match


def test_false_positives_make_the_submission_clean(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    original = processed_session(live_api, tenant, [photo(81)])
    near = processed_session(live_api, tenant, [near_duplicate(photo(81))], webhookUrl=HOOK)
    exact = processed_session(live_api, tenant, [photo(81)], webhookUrl=HOOK)

    near_detail = get(live_api, tenant, f"/{near['submissionId']}").json()
    assert near_detail["fraudStatus"] == "flagged"
    [near_match] = near_detail["fraudMatches"]
    assert near_match["kind"] == "image_duplicate"
    assert near_match["matchedSubmissionId"] == original["submissionId"]
    assert near_match["details"]["exactDuplicate"] is False
    check_resolution(live_api, tenant, near, near_match["id"], "false_positive", "clean", "ok")

    exact_detail = get(live_api, tenant, f"/{exact['submissionId']}").json()
    assert exact_detail["fraudStatus"] == "blocked"
    matches = {m["matchedSubmissionId"]: m for m in exact_detail["fraudMatches"]}
    assert set(matches) == {original["submissionId"], near["submissionId"]}
    assert matches[original["submissionId"]]["details"]["exactDuplicate"] is True
    assert matches[original["submissionId"]]["score"] == 100
    first, second = matches[original["submissionId"]], matches[near["submissionId"]]
    # One of two matches resolved: the status stays what processing decided.
    check_resolution(live_api, tenant, exact, first["id"], "false_positive", "blocked")
    sid = exact["submissionId"]
    before = (len(event_rows(live_api, sid)), len(hook_rows(live_api, exact["sessionId"])))
    again = resolve(live_api, tenant, sid, first["id"], "confirmed_fraud")
    assert_problem(again, 409, "conflict")
    assert (len(event_rows(live_api, sid)), len(hook_rows(live_api, exact["sessionId"]))) == before
    check_resolution(live_api, tenant, exact, second["id"], "false_positive", "clean")

    listed = get(live_api, tenant, f"/{sid}/fraud-matches").json()
    assert {(m["id"], m["status"], m["resolution"]) for m in listed["data"]} == {
        (first["id"], "resolved", "false_positive"),
        (second["id"], "resolved", "false_positive"),
    }
    assert listed["pagination"] == {"hasMore": False, "nextCursor": None}
    clean = get(live_api, tenant, fraudStatus="clean", limit=100).json()["data"]
    assert {near["submissionId"], sid} <= {item["id"] for item in clean}


def test_confirmed_fraud_blocks_the_submission(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    processed_session(live_api, tenant, [photo(91)])
    processed_session(live_api, tenant, [photo(91)])
    near = processed_session(live_api, tenant, [near_duplicate(photo(91))], webhookUrl=HOOK)
    detail = get(live_api, tenant, f"/{near['submissionId']}").json()
    assert detail["fraudStatus"] == "flagged"
    first, second = detail["fraudMatches"]
    check_resolution(live_api, tenant, near, first["id"], "confirmed_fraud", "blocked", "fake")
    # A later false positive does not lift a confirmed fraud.
    check_resolution(live_api, tenant, near, second["id"], "false_positive", "blocked")
    blocked = get(live_api, tenant, fraudStatus="blocked", limit=100).json()["data"]
    assert near["submissionId"] in {item["id"] for item in blocked}


def test_fraud_match_list_pages_with_a_cursor(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    for _ in range(3):
        processed_session(live_api, tenant, [photo(101)])
    session = processed_session(live_api, tenant, [photo(101)])
    sid = session["submissionId"]
    everything = get(live_api, tenant, f"/{sid}").json()["fraudMatches"]
    assert len(everything) == 3
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = get(live_api, tenant, f"/{sid}/fraud-matches", **params).json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["pagination"]["nextCursor"]
        assert page["pagination"]["hasMore"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == [m["id"] for m in everything]
    other = make_submission(live_api, tenant, "review", seed=102)
    first_page = get(live_api, tenant, f"/{sid}/fraud-matches", limit=1).json()
    foreign = get(
        live_api,
        tenant,
        f"/{other['submissionId']}/fraud-matches",
        cursor=first_page["pagination"]["nextCursor"],
    )
    assert_problem(foreign, 400, "bad-request")


# ---------------------------------------------------------------- races


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # surfaced in the test thread below
            barrier.abort()  # release the other threads at once
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("second", ["approve", "reject", "cancel"])
def test_concurrent_approve_and_another_action_have_one_winner(
    live_api: LiveApi, second: str
) -> None:
    tenant = live_api.tenant()
    session = make_submission(live_api, tenant, "review", webhookUrl=HOOK)
    sid = session["submissionId"]
    events_before = len(event_rows(live_api, sid))
    clients = [live_api.client(tenant), live_api.client(tenant)]
    try:
        answers = race(
            lambda: clients[0].post(f"{SUBMISSIONS}/{sid}/approve"),
            lambda: clients[1].post(f"{SUBMISSIONS}/{sid}/{second}", json={"reason": "r"}),
        )
    finally:
        for client in clients:
            client.close()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert_problem(loser, 409, "conflict")
    winner = next(a for a in answers if a.status_code == 200).json()
    final = status_of(live_api, sid)
    assert winner["submissionStatus"] == final
    assert final in ("approved", ACTIONS[second][1])
    new_events = event_rows(live_api, sid)[events_before:]
    assert [e["type"] for e in new_events] == [final]
    review_hooks = [
        h["event_type"]
        for h in hook_rows(live_api, session["sessionId"])
        if h["event_type"].startswith("submission.")
    ]
    assert review_hooks == [f"submission.{final}"]


def test_cancel_while_processing_survives_the_pipeline(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = submitted_session(live_api, tenant, [photo(111)], webhookUrl=HOOK)
    sid = session["submissionId"]
    assert status_of(live_api, sid) == "processing"
    cancelled = post(live_api, tenant, f"/{sid}/cancel", {"reason": "store closed"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["submissionStatus"] == "cancelled"

    process_session(runtime_for(live_api), session["sessionId"])

    detail = get(live_api, tenant, f"/{sid}").json()
    assert detail["submissionStatus"] == "cancelled"
    assert detail["cancelReason"] == "store closed"
    assert detail["result"] is not None
    assert detail["result"]["reviewReasons"]
    assert detail["fraudStatus"] == "clean"
    types = [e["type"] for e in event_rows(live_api, sid)]
    assert types == [
        "created",
        "submitted",
        "cancelled",
        "processing_started",
        "processing_completed",
    ]
    assert event_rows(live_api, sid)[-1]["data"]["cancelled"] is True
    assert [h["event_type"] for h in hook_rows(live_api, session["sessionId"])] == [
        "submission.cancelled",
        "session.completed",
    ]
    with live_api.client(tenant) as client:
        job = client.get(f"/api/v1/jobs/{session['sessionId']}").json()
    assert (job["state"], job["submissionStatus"]) == ("completed", "cancelled")
    # Reviewing a cancelled submission stays refused.
    assert_problem(post(live_api, tenant, f"/{sid}/approve"), 409, "conflict")


@pytest.mark.parametrize("round_", range(2))
@pytest.mark.parametrize("outcome", ["review", "approved"])
def test_cancel_racing_the_pipeline_leaves_a_consistent_state(
    live_api: LiveApi, outcome: str, round_: int
) -> None:
    tenant = live_api.tenant()
    image = photo(7) if outcome == "review" else photo(8, blur=0)
    session = submitted_session(live_api, tenant, [image], webhookUrl=HOOK)
    sid = session["submissionId"]
    runtime = runtime_for(live_api)
    with live_api.client(tenant) as client:
        _, answer = race(
            lambda: process_session(runtime, session["sessionId"]),
            lambda: client.post(f"{SUBMISSIONS}/{sid}/cancel", json={"reason": "race"}),
        )
    detail = get(live_api, tenant, f"/{sid}").json()
    assert detail["result"] is not None
    assert bool(detail["result"]["reviewReasons"]) is (outcome == "review")
    events = event_rows(live_api, sid)
    types = [e["type"] for e in events]
    assert types.count("processing_completed") == 1
    completed = next(e for e in events if e["type"] == "processing_completed")
    assert completed["data"]["outcome"] == outcome
    hooks = [h["event_type"] for h in hook_rows(live_api, session["sessionId"])]
    session_hook = "session.completed" if outcome == "approved" else "session.review_required"
    if answer.status_code == 409:
        # Processing approved it first; an approved submission cannot be cancelled.
        assert outcome == "approved"
        assert_problem(answer, 409, "conflict")
        assert detail["submissionStatus"] == "approved"
        assert "cancelled" not in types
        assert hooks == [session_hook]
        return
    assert answer.status_code == 200, answer.text
    assert detail["submissionStatus"] == "cancelled"
    assert detail["cancelReason"] == "race"
    assert types.count("cancelled") == 1
    cancel = next(e for e in events if e["type"] == "cancelled")
    if cancel["seq"] < completed["seq"]:
        # Cancelled while processing: the pipeline kept the cancellation; the session's
        # completion is still announced, with the submission cancelled.
        assert cancel["data"]["from"] == "processing"
        assert completed["data"]["cancelled"] is True
        assert hooks == ["submission.cancelled", "session.completed"]
    else:
        # Processing finished first with ``review``; the review submission was then cancelled.
        assert (outcome, cancel["data"]["from"]) == ("review", "review")
        assert completed["data"]["cancelled"] is False
        assert hooks == [session_hook, "submission.cancelled"]


@pytest.mark.parametrize("round_", range(2))
def test_approve_racing_the_pipeline_leaves_a_consistent_state(
    live_api: LiveApi, round_: int
) -> None:
    tenant = live_api.tenant()
    session = submitted_session(live_api, tenant, [photo(7)], webhookUrl=HOOK)
    sid = session["submissionId"]
    runtime = runtime_for(live_api)
    with live_api.client(tenant) as client:
        _, answer = race(
            lambda: process_session(runtime, session["sessionId"]),
            lambda: client.post(f"{SUBMISSIONS}/{sid}/approve"),
        )
    types = [e["type"] for e in event_rows(live_api, sid)]
    hooks = [h["event_type"] for h in hook_rows(live_api, session["sessionId"])]
    if answer.status_code == 409:
        assert status_of(live_api, sid) == "review"
        assert types[-1] == "processing_completed" and "approved" not in types
        assert hooks == ["session.review_required"]
    else:
        assert answer.status_code == 200, answer.text
        assert status_of(live_api, sid) == "approved"
        assert types[-2:] == ["processing_completed", "approved"]
        assert hooks == ["session.review_required", "submission.approved"]


# ---------------------------------------------------------------- list, filters, pagination


class Corpus:
    """250 submissions of one company on a dedicated server, with what each should list as."""

    def __init__(self, api: LiveApi, tenant: Tenant) -> None:
        self.api = api
        self.tenant = tenant
        self.key = find_key(api.db, hash_key(tenant.key))
        self.ctx = api_services(api.settings, api.storage, db=api.db)
        self.expected: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []  # oldest first

    def add(self, sid: str, workflow: str, status: str, fraud: str | None = None) -> None:
        self.expected[sid] = {"workflow": workflow, "status": status, "fraud": fraud}
        self.order.append(sid)

    def create(self, workflow: str, **extra: Any) -> str:
        """A session and its submission through the sessions service (fast, no HTTP)."""
        content_type = "image/jpeg"
        body = SessionCreate.model_validate(create_body(1, content_type, **extra))
        answer, created = asyncio.run(create_session(self.ctx, self.key, workflow, body))
        assert created
        self.add(answer["submissionId"], workflow, "created")
        return answer["submissionId"]

    def newest_first(self, **filters: str) -> list[str]:
        def keep(sid: str) -> bool:
            item = self.expected[sid]
            return all(item[k] == v for k, v in filters.items())

        return [sid for sid in reversed(self.order) if keep(sid)]


WORKFLOWS = ("document-ocr", "receipt-ocr", "compliance-vm")


@pytest.fixture(scope="module")
def big_api(tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3) -> Iterator[LiveApi]:
    settings = make_settings(
        tmp_path_factory.mktemp("big"),
        rate_limit_session=1000,
        rate_limit_read=1000,
        rate_limit_review=1000,
    )
    api, server = start_live_api(settings, embedded_s3)
    yield api
    server.stop()


@pytest.fixture(scope="module")
def corpus(big_api: LiveApi) -> Corpus:
    """246 submissions made through the sessions service in all three workflows (every seventh
    one cancelled over HTTP), and four compliance sessions through HTTP and the pipeline:
    ``review`` clean, ``review`` blocked, ``review`` flagged, and one left ``processing``."""
    data = Corpus(big_api, big_api.tenant())
    extra = {"metadata": {"store": "S-1"}, "externalUser": {"id": "u-1", "name": "Ann"}}
    for n in range(250):
        if n == 60:
            session = processed_session(big_api, data.tenant, [photo(121)], **extra)
            data.add(session["submissionId"], "compliance-vm", "review", "clean")
        elif n == 61:
            session = processed_session(big_api, data.tenant, [photo(121)])
            data.add(session["submissionId"], "compliance-vm", "review", "blocked")
        elif n == 140:
            session = processed_session(big_api, data.tenant, [near_duplicate(photo(121))])
            data.add(session["submissionId"], "compliance-vm", "review", "flagged")
        elif n == 141:
            session = submitted_session(big_api, data.tenant, [photo(122)])
            data.add(session["submissionId"], "compliance-vm", "processing")
        else:
            data.create(WORKFLOWS[n % 3], metadata={"n": n})
    with big_api.client(data.tenant) as client:
        for n, sid in enumerate(data.order):
            if n % 7 == 3 and data.expected[sid]["status"] == "created":
                assert client.post(f"{SUBMISSIONS}/{sid}/cancel").status_code == 200
                data.expected[sid]["status"] = "cancelled"
    assert len(data.order) == 250
    return data


def walk(
    api: LiveApi, tenant: Tenant, **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow ``nextCursor`` to the end; return every item and every page's answer."""
    items, pages, cursor = [], [], None
    with api.client(tenant) as client:
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            response = client.get(SUBMISSIONS, params=query)
            assert response.status_code == 200, response.text
            page = response.json()
            pages.append(page)
            items += page["data"]
            cursor = page["pagination"]["nextCursor"]
            assert page["pagination"]["hasMore"] is (cursor is not None)
            if cursor is None:
                return items, pages
            assert len(pages) < 300


def test_every_submission_once_newest_first(corpus: Corpus) -> None:
    # Any key of the company sees every submission of the company.
    row, plaintext = create_key(corpus.api.db, company_id=corpus.tenant.company["id"])
    colleague = Tenant(company=corpus.tenant.company, key_id=row["id"], key=plaintext)
    items, pages = walk(corpus.api, colleague)
    assert [len(p["data"]) for p in pages] == [20] * 12 + [10]
    ids = [item["id"] for item in items]
    assert ids == corpus.newest_first()
    assert len(set(ids)) == 250
    seqs = [
        corpus.api.db.execute("SELECT seq FROM submissions WHERE id = ?", [sid]).fetchone()[0]
        for sid in ids
    ]
    assert seqs == sorted(seqs, reverse=True)
    for item in items:
        assert set(item) == ITEM_KEYS
        expected = corpus.expected[item["id"]]
        assert item["workflow"]["slug"] == expected["workflow"]
        assert item["submissionStatus"] == expected["status"]
        assert item["fraudStatus"] == expected["fraud"]


@pytest.mark.parametrize(
    ("limit", "sizes"),
    [
        (100, [100, 100, 50]),
        (1000, [100, 100, 50]),
        (101, [100, 100, 50]),
        (37, [37] * 6 + [28]),
        (1, None),
        (0, None),
        (-5, None),
    ],
)
def test_limit_is_clamped_to_1_to_100(corpus: Corpus, limit: int, sizes: list[int] | None) -> None:
    if sizes is None:
        page = get(corpus.api, corpus.tenant, limit=limit).json()
        assert [item["id"] for item in page["data"]] == corpus.newest_first()[:1]
        assert page["pagination"]["hasMore"] is True
        return
    items, pages = walk(corpus.api, corpus.tenant, limit=limit)
    assert [len(p["data"]) for p in pages] == sizes
    assert [item["id"] for item in items] == corpus.newest_first()


def test_list_item_shape(corpus: Corpus) -> None:
    sid = next(s for s in corpus.order if corpus.expected[s]["fraud"] == "clean")
    items, _ = walk(corpus.api, corpus.tenant, fraudStatus="clean")
    [item] = items
    detail = get(corpus.api, corpus.tenant, f"/{sid}").json()
    assert item == {k: detail[k] for k in ITEM_KEYS}
    assert item["metadata"] == {"store": "S-1"}
    assert item["externalUser"] == {"id": "u-1", "name": "Ann", "email": None}
    assert item["extractedData"] == detail["result"]["extractedData"]
    assert item["workflow"] == {
        "slug": "compliance-vm",
        "name": "Photo compliance (visual merchandising)",
        "version": 2,
    }
    created = corpus.newest_first(workflow="receipt-ocr", status="created")[0]
    [plain] = [i for i in walk(corpus.api, corpus.tenant, limit=100)[0] if i["id"] == created]
    assert (plain["extractedData"], plain["confidence"], plain["fraudScore"]) == (None, None, None)
    assert plain["workflow"]["slug"] == "receipt-ocr"
    assert isinstance(plain["metadata"]["n"], int)


def test_filters(corpus: Corpus) -> None:
    api, tenant = corpus.api, corpus.tenant
    cases: list[dict[str, str]] = [{"workflow": w} for w in WORKFLOWS]
    cases += [{"status": s} for s in STATES]
    cases += [{"fraudStatus": f} for f in ("clean", "flagged", "blocked")]
    cases += [
        {"workflow": "compliance-vm", "status": "review"},
        {"workflow": "document-ocr", "status": "cancelled"},
        {"workflow": "compliance-vm", "status": "review", "fraudStatus": "blocked"},
        {"workflow": "receipt-ocr", "fraudStatus": "blocked"},
        {"workflow": "no-such-workflow"},
    ]
    names = {"workflow": "workflow", "status": "status", "fraudStatus": "fraud"}
    non_empty = 0
    for filters in cases:
        expected = corpus.newest_first(**{names[k]: v for k, v in filters.items()})
        items, _ = walk(api, tenant, limit=30, **filters)
        assert [item["id"] for item in items] == expected, filters
        non_empty += bool(expected)
    assert non_empty == 13
    counts = {s: len(corpus.newest_first(status=s)) for s in ("created", "cancelled", "review")}
    assert counts == {"created": 210, "cancelled": 36, "review": 3}


def test_invalid_filter_values_are_400_naming_the_parameter(corpus: Corpus) -> None:
    """Like any invalid query parameter (limit=abc): the request, not a body, is wrong."""
    api, tenant = corpus.api, corpus.tenant
    problem = assert_problem(get(api, tenant, status="bogus"), 400, "bad-request")
    assert [e["field"] for e in problem["errors"]] == ["status"]
    assert "review" in problem["errors"][0]["message"]
    problem = assert_problem(get(api, tenant, fraudStatus="dirty"), 400, "bad-request")
    assert [e["field"] for e in problem["errors"]] == ["fraudStatus"]
    problem = assert_problem(get(api, tenant, status="REVIEW", fraudStatus=""), 400, "bad-request")
    assert [e["field"] for e in problem["errors"]] == ["status", "fraudStatus"]
    limit = assert_problem(get(api, tenant, limit="abc"), 400, "bad-request")
    assert [e["field"] for e in limit["errors"]] == ["limit"]


def test_tampered_and_foreign_cursors_are_400(corpus: Corpus, live_api: LiveApi) -> None:
    api, tenant = corpus.api, corpus.tenant
    cursor = get(api, tenant, limit=5).json()["pagination"]["nextCursor"]
    assert get(api, tenant, limit=5, cursor=cursor).status_code == 200
    middle = len(cursor) // 2
    flipped = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    for bad in (flipped, cursor[:-3], cursor + "AAAA", "abc", "%%%", "e30"):
        assert_problem(get(api, tenant, cursor=bad), 400, "bad-request")

    by_status = get(api, tenant, status="created", limit=5).json()["pagination"]["nextCursor"]
    by_flow = get(api, tenant, workflow="receipt-ocr", limit=5).json()["pagination"]["nextCursor"]
    assert get(api, tenant, status="created", cursor=by_status).status_code == 200
    for params in (
        {"cursor": by_status},
        {"cursor": by_status, "status": "cancelled"},
        {"cursor": by_status, "status": "created", "workflow": "receipt-ocr"},
        {"cursor": by_flow, "workflow": "document-ocr"},
        {"cursor": cursor, "fraudStatus": "clean"},
    ):
        assert_problem(get(api, tenant, **params), 400, "bad-request")

    # A cursor of another company, even one signed by the same installation, is refused.
    stranger = api.tenant()
    assert_problem(get(api, stranger, cursor=cursor), 400, "bad-request")
    # ... and one from another installation (another signing secret) as well.
    other_tenant = live_api.tenant()
    for _ in range(2):
        open_session(live_api, other_tenant, "compliance-vm")
    other = get(live_api, other_tenant, limit=1).json()["pagination"]["nextCursor"]
    assert_problem(get(api, tenant, cursor=other), 400, "bad-request")


def test_pages_are_stable_while_submissions_are_added(big_api: LiveApi) -> None:
    data = Corpus(big_api, big_api.tenant())
    for n in range(30):
        data.create(WORKFLOWS[n % 3])
    original = data.newest_first()
    seen: list[str] = []
    cursor = None
    with big_api.client(data.tenant) as client:
        for page_number in range(5):
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = client.get(SUBMISSIONS, params=params).json()
            assert [i["id"] for i in page["data"]] == original[page_number * 7 :][:7]
            seen += [i["id"] for i in page["data"]]
            cursor = page["pagination"]["nextCursor"]
            # Between page fetches: new submissions, one over HTTP, and a status change.
            data.create("document-ocr")
            data.create("compliance-vm")
            data.add(
                open_session(big_api, data.tenant, "compliance-vm")["submissionId"],
                "compliance-vm",
                "created",
            )
            if page_number == 1:
                later = original[20]
                assert client.post(f"{SUBMISSIONS}/{later}/cancel").status_code == 200
            if cursor is None:
                break
    assert cursor is None
    assert seen == original
    first = get(big_api, data.tenant, limit=3).json()["data"]
    assert len(first) == 3 and not {i["id"] for i in first} & set(original)
