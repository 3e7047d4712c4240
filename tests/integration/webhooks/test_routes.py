"""POST /api/v1/webhooks/test over real HTTP: URL rules, the unsigned probe and its answer.

Two servers: one with the defaults (every private target refused) and one with
STEVE_WEBHOOK_ALLOW_PRIVATE on, so that it can reach the test receiver on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from steve_lite.security.api_keys import create_key
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.webhooks.service import PROBE_THREADS
from tests.fixtures.receiver import ScriptedResponse, WebhookReceiver
from tests.support.api import LiveApi, Tenant, make_settings, start_live_api
from tests.support.uploads import create_body, jpeg, put_file
from tests.support.waiting import wait_until

ROUTE = "/api/v1/webhooks/test"
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SIGNATURE_HEADERS = (
    "x-webhook-signature",
    "x-webhook-id",
    "x-webhook-timestamp",
    "x-webhook-event",
    "webhook-signature",
    "webhook-id",
    "webhook-timestamp",
)


@pytest.fixture(scope="module")
def private_api(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[LiveApi]:
    """Private targets allowed; a one-hour rate-limit window so a test never straddles two."""
    settings = make_settings(
        tmp_path_factory.mktemp("webhook-test-private"),
        webhook_allow_private=True,
        rate_limit_window_seconds=3600,
    )
    api, server = start_live_api(settings, embedded_s3)
    yield api
    server.stop()


def probe(api: LiveApi, tenant: Tenant, url: str) -> httpx.Response:
    with api.client(tenant) as client:
        return client.post(ROUTE, json={"webhookUrl": url})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- the probe


def test_a_2xx_is_success_and_the_probe_is_an_unsigned_test_event(
    private_api: LiveApi, webhook_receiver: WebhookReceiver
) -> None:
    response = probe(private_api, private_api.tenant(), webhook_receiver.url)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"success", "statusCode", "error", "checkedAt"}
    assert (answer["success"], answer["statusCode"], answer["error"]) == (True, 200, None)
    assert ISO_MS.fullmatch(answer["checkedAt"])
    assert response.headers["x-ratelimit-limit"] == "10"
    assert response.headers["x-ratelimit-remaining"] == "9"

    [request] = webhook_receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert json.loads(request.body) == {"type": "webhook.test", "timestamp": answer["checkedAt"]}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "steve-webhook/1.0"
    assert [name for name in SIGNATURE_HEADERS if name in request.headers] == []


@pytest.mark.parametrize("status", [500, 404, 429])
def test_a_non_2xx_is_reported_with_its_status(
    private_api: LiveApi, webhook_receiver: WebhookReceiver, status: int
) -> None:
    webhook_receiver.script([ScriptedResponse(status, body=b"nope")])

    response = probe(private_api, private_api.tenant(), webhook_receiver.url)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["success"], answer["statusCode"], answer["error"]) == (
        False,
        status,
        f"HTTP {status}",
    )
    assert ISO_MS.fullmatch(answer["checkedAt"])


def test_a_redirect_is_reported_and_not_followed(
    private_api: LiveApi, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.script([ScriptedResponse(302, location=webhook_receiver.url + "/moved")])

    answer = probe(private_api, private_api.tenant(), webhook_receiver.url).json()

    assert (answer["success"], answer["statusCode"], answer["error"]) == (
        False,
        302,
        "redirect not followed",
    )
    assert [r.path for r in webhook_receiver.requests] == ["/hook"]


def test_a_receiver_slower_than_5_seconds_is_a_timeout(
    private_api: LiveApi, webhook_receiver: WebhookReceiver
) -> None:
    assert private_api.settings.webhook_test_timeout_seconds == 5.0
    webhook_receiver.script([ScriptedResponse(200, delay=8)])

    answer = probe(private_api, private_api.tenant(), webhook_receiver.url).json()

    assert answer == {
        "success": False,
        "statusCode": None,
        "error": "timed out after 5.0s",
        "checkedAt": answer["checkedAt"],
    }
    assert len(webhook_receiver.requests) == 1


def test_a_refused_connection_is_reported(private_api: LiveApi) -> None:
    response = probe(private_api, private_api.tenant(), f"http://127.0.0.1:{closed_port()}/hook")

    assert response.status_code == 200
    answer = response.json()

    assert answer == {
        "success": False,
        "statusCode": None,
        "error": "connection refused",
        "checkedAt": answer["checkedAt"],
    }
    assert ISO_MS.fullmatch(answer["checkedAt"])


def test_a_legacy_key_may_test_a_webhook(
    private_api: LiveApi, webhook_receiver: WebhookReceiver
) -> None:
    _, key = create_key(private_api.db, company_id=None)
    headers = {"Authorization": f"Bearer {key}"}
    with private_api.client() as client:
        response = client.post(ROUTE, json={"webhookUrl": webhook_receiver.url}, headers=headers)
        other_route = client.get("/api/v1/workflows", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert len(webhook_receiver.requests) == 1
    assert other_route.status_code == 403


def test_the_bucket_allows_10_tests_per_key_per_window(
    private_api: LiveApi, webhook_receiver: WebhookReceiver
) -> None:
    tenant, other = private_api.tenant(), private_api.tenant()
    with private_api.client(tenant) as client:
        answers = [client.post(ROUTE, json={"webhookUrl": webhook_receiver.url}) for _ in range(11)]
        read = client.get("/api/v1/workflows")

    assert [r.status_code for r in answers] == [200] * 10 + [429]
    assert {r.headers["x-ratelimit-limit"] for r in answers} == {"10"}
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == [
        str(n) for n in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0)
    ]
    limited = answers[-1]
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["type"].endswith("/rate-limit-exceeded")
    assert int(limited.headers["retry-after"]) >= 1
    assert len(webhook_receiver.requests) == 10  # the refused request sent nothing
    # Other buckets and other keys are counted separately.
    assert (read.status_code, read.headers["x-ratelimit-limit"]) == (200, "300")
    assert probe(private_api, other, webhook_receiver.url).status_code == 200


# ---------------------------------------------------------------- bodies and URL rules


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "webhookUrl"),
        ({"webhookUrl": ""}, 422, "webhookUrl"),
        ({"webhookUrl": 42}, 422, "webhookUrl"),
        ({"webhookUrl": "https://h.example.com/" + "a" * 2048}, 422, "webhookUrl"),
        ([], 400, None),
    ],
)
def test_a_bad_body_is_a_problem(
    private_api: LiveApi, body: object, status: int, field: str | None
) -> None:
    with private_api.client(private_api.tenant()) as client:
        response = client.post(ROUTE, json=body)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    if field is None:
        assert problem["type"].endswith("/bad-request")
    else:
        assert problem["type"].endswith("/validation-error")
        assert [error["field"] for error in problem["errors"]] == [field]


def test_no_key_is_401(private_api: LiveApi, webhook_receiver: WebhookReceiver) -> None:
    with private_api.client() as client:
        response = client.post(ROUTE, json={"webhookUrl": webhook_receiver.url})

    assert response.status_code == 401
    assert webhook_receiver.requests == []


# Targets are on this machine wherever the rule under test allows it, so that even a regression
# sends nothing elsewhere; the receiver then proves that nothing was sent.
REFUSED = [
    ("http://127.0.0.1:{port}/hook", "webhookUrl must use https"),
    ("https://127.0.0.1:{port}/hook", "webhookUrl host is not a public address (127.0.0.1)"),
    ("https://10.0.0.5/hook", "webhookUrl host is not a public address (10.0.0.5)"),
    ("https://[::1]:{port}/hook", "webhookUrl host is not a public address (::1)"),
    (
        "https://169.254.169.254/latest/meta-data/",
        "webhookUrl host is not a public address (169.254.169.254)",
    ),
    ("https://foo.internal/hook", "webhookUrl host must be public (foo.internal is a local name)"),
    (
        "https://[::ffff:127.0.0.1]:{port}/hook",
        "webhookUrl host is not a public address (::ffff:7f00:1)",
    ),
    ("https://localhost:{port}/hook", "webhookUrl host must be public (localhost is a local name)"),
    ("https://2130706433:{port}/hook", "webhookUrl host is not a canonical IPv4 address"),
    ("https://user:secret@127.0.0.1:{port}/hook", "webhookUrl must not contain user info"),
    ("ftp://127.0.0.1:{port}/hook", "webhookUrl must use https"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_the_defaults_refuse_private_and_malformed_urls_with_422(
    live_api: LiveApi, webhook_receiver: WebhookReceiver, url: str, message: str
) -> None:
    tenant = live_api.tenant()
    target = url.format(port=webhook_receiver.port)
    response = probe(live_api, tenant, target)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation-error")
    assert problem["instance"] == ROUTE
    assert problem["errors"] == [
        {"field": "webhookUrl", "message": message, "code": "url_rejected"}
    ]
    assert response.headers["x-ratelimit-limit"] == "10"

    # A session's webhookUrl follows the same rules.
    with live_api.client(tenant) as client:
        created = client.post(
            "/api/v1/workflows/compliance-vm/sessions", json=create_body(1, webhookUrl=target)
        )
    assert created.status_code == 422
    assert {"field": "webhookUrl", "message": message, "code": "url_rejected"} in created.json()[
        "errors"
    ]
    assert webhook_receiver.connections == 0


def test_allow_private_still_requires_a_well_formed_url(private_api: LiveApi) -> None:
    response = probe(private_api, private_api.tenant(), "ftp://127.0.0.1/hook")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "webhookUrl",
            "message": "webhookUrl must use http or https",
            "code": "url_rejected",
        }
    ]


# ---------------------------------------------------------------- isolation


PROBES = 45  # more than the 40 threads that anyio lends to everything else


def test_probes_to_a_target_that_never_answers_do_not_hold_up_a_submit(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> None:
    """While 45 probes hang on a silent receiver, another company's submit is answered; the
    probes themselves run a few at a time."""
    settings = make_settings(
        tmp_path_factory.mktemp("webhook-test-isolation"),
        webhook_allow_private=True,
        webhook_test_timeout_seconds=60,
        rate_limit_webhook_test=1000,
    )
    api, server = start_live_api(settings, embedded_s3)
    silent = WebhookReceiver()
    silent.script([ScriptedResponse(200, delay=120)] * PROBES)
    prober, submitter = api.tenant(), api.tenant()
    try:
        with api.client(submitter) as client:
            session = client.post(
                "/api/v1/workflows/compliance-vm/sessions", json=create_body(1)
            ).json()
        assert put_file(session["uploadUrls"][0], jpeg(seed=71)).status_code == 200
        with ThreadPoolExecutor(PROBES) as pool:
            probes = [pool.submit(probe, api, prober, silent.url) for _ in range(PROBES)]
            wait_until(lambda: silent.connections >= PROBE_THREADS, 30, "probes to connect")
            with api.client(submitter) as client:
                submitted = client.post(
                    f"/api/v1/workflows/compliance-vm/sessions/{session['sessionId']}/submit"
                )
            assert submitted.status_code == 200, submitted.text
            assert not any(p.done() for p in probes), "the submit waited for the probes"
            assert silent.connections == PROBE_THREADS  # the others wait for a thread
            silent.stop()  # the hung probes now fail at once
            answers = [p.result(timeout=60) for p in probes]
        assert all(a.status_code == 200 and a.json()["success"] is False for a in answers)
    finally:
        silent.stop()
        server.stop()
