"""Contract fuzzing: schemathesis against a real ``steve-lite serve`` and its ``/openapi.json``.

The server runs as its own process on a data dir seeded with real, processed submissions (two
compliance sessions over one blurred photo: both in ``review``, the second with an exact-duplicate
fraud match) and a pending session, so that id-taking routes reach their success paths too.

The document the server publishes is used as served, with additions made here, never in the
product: request bodies (the server reads bodies itself and publishes none; they are taken from
the pydantic models it validates with, ``SessionCreate`` narrowed to what every system workflow
refuses, see :func:`narrow_session_create`), OpenAPI links between operations for the stateful
phase, and the seeded ids as examples of path parameters.

The schemathesis engine runs every phase (examples, coverage, fuzzing, stateful) with every
check: no 5xx, documented status codes and content types, responses matching their schema,
negative data rejected, positive data accepted, auth not ignored, ... and
:func:`problem_documents`: every error is ``application/problem+json`` with the contract's
fields, its ``status``, ``instance`` (the path, as a URI reference) and ``requestId`` (the
``Request-Id`` header).

Two allowances, both narrow: ``positive_data_acceptance`` also accepts 400, 410 and 422, since
the schema cannot express the rules that need the database or storage (a cursor's signature,
fileCount against the workflow, contentTypes against acceptedFormats, webhook host rules, uploads
present at submit); and a "negative" case that only repeated a scalar query parameter, accepted
because the server reads the last value, is counted apart (:func:`last_value_wins`).

No request leaves the machine: no worker runs (session webhooks are never sent), and the
:func:`before_call` hook rewrites any generated ``webhookUrl`` the server would accept (a public
https URL) into a refused loopback one, so ``POST /webhooks/test`` never probes a public host.

``test_fuzz_smoke`` (default suite, about 20 s) runs a few examples of every operation;
``test_fuzz_full`` (marker ``harden``) runs every phase. Figures go to the JUnit report as
properties (``bench/harden.py`` reads them).
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import jsonschema_rs
import pytest
import schemathesis
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.engine import events

from steve_lite.processing.pipeline import process_session
from steve_lite.queue import Queue
from steve_lite.security.urls import UrlRejected, validate_webhook_url
from steve_lite.sessions.schemas import SessionCreate
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.submissions.schemas import (
    ApproveRequest,
    CancelRequest,
    RejectRequest,
    ResolveRequest,
)
from steve_lite.webhooks.routes import WebhookTestRequest
from steve_lite.worker import Runtime
from steve_lite.workflows.schemas import FORMATS
from tests.factories.photos import make_photo
from tests.support.api import Tenant, make_settings, make_tenant, open_database
from tests.support.processes import ServerProcess, s3_env
from tests.support.uploads import create_body, put_file

PROBLEM_JSON = "application/problem+json"
URI_PATH = re.compile(r"(/|[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-F]{2})*")
PROBLEM_FIELDS = ("type", "title", "status", "detail", "instance", "requestId")
LOCAL_REFUSED_URL = "https://127.0.0.1/fuzz-guard"
RATE_LIMITS = {
    f"STEVE_RATE_LIMIT_{bucket}": "1000000"
    for bucket in ("READ", "SESSION", "SUBMIT", "WEBHOOK_TEST", "REVIEW")
}
# Operation -> model of its JSON body, matched on the end of the path (all are POSTs).
BODIES: dict[str, tuple[type[Any], bool]] = {
    "/sessions": (SessionCreate, True),
    "/approve": (ApproveRequest, False),
    "/reject": (RejectRequest, True),
    "/cancel": (CancelRequest, False),
    "/resolve": (ResolveRequest, True),
    "/webhooks/test": (WebhookTestRequest, True),
}
# Business rules the schema cannot express: see the module docstring.
MAX_FILES = 20  # document-ocr's maxFiles, the largest of the system workflows
POSITIVE_STATUSES = ["2xx", "400", "401", "403", "404", "409", "410", "422", "429"]


@dataclass
class FuzzServer:
    """The server under test, its key and the ids seeded for it."""

    server: ServerProcess
    tenant: Tenant
    seeded: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url


# ---------------------------------------------------------------- the server and its data


def seed(url: str, tenant: Tenant, runtime: Runtime) -> dict[str, Any]:
    """Two processed compliance submissions over one blurred photo (both in review, the second
    with an exact-duplicate fraud match) and one pending session."""
    photo = make_photo(640, 480, seed=11, blur=6)
    sessions = []
    with httpx.Client(base_url=url, headers=tenant.headers, timeout=30) as client:
        for _ in range(2):
            created = client.post("/api/v1/workflows/compliance-vm/sessions", json=create_body(1))
            assert created.status_code == 201, created.text
            session = created.json()
            assert put_file(session["uploadUrls"][0], photo).status_code == 200
            submit = f"/api/v1/workflows/compliance-vm/sessions/{session['sessionId']}/submit"
            assert client.post(submit).status_code == 200
            process_session(runtime, session["sessionId"])
            sessions.append(session)
        pending = client.post("/api/v1/compliance/sessions", json=create_body(1)).json()
        duplicate = sessions[1]["submissionId"]
        detail = client.get(f"/api/v1/submissions/{duplicate}").json()
    assert detail["submissionStatus"] == "review" and detail["fraudMatches"], detail
    return {
        "slug": "compliance-vm",
        "version": 1,
        "session_id": pending["sessionId"],
        "submission_id": duplicate,
        "match_id": detail["fraudMatches"][0]["id"],
    }


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[FuzzServer]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    env = s3_env(embedded_s3)
    settings_ = make_settings(
        data_dir,
        s3_endpoint=env["STEVE_S3_ENDPOINT"],
        s3_access_key=env["STEVE_S3_ACCESS_KEY"],
        s3_secret_key=env["STEVE_S3_SECRET_KEY"],
        s3_bucket=env["STEVE_S3_BUCKET"],
        s3_region="us-east-1",
        s3_secure=False,
    )
    tenant = make_tenant(open_database(settings_))
    log_level = os.environ.get("STEVE_LOG_LEVEL", "INFO")  # bench/harden.py: DEBUG
    # No worker runs here (see above): readiness must not wait for one.
    no_worker = {"STEVE_READY_REQUIRES_WORKER": "false"}
    server = ServerProcess(data_dir, **env, **RATE_LIMITS, **no_worker, STEVE_LOG_LEVEL=log_level)
    try:
        server.wait_ready()
        storage = embedded_s3.storage(bucket=env["STEVE_S3_BUCKET"])
        seeded = seed(server.url, tenant, Runtime(settings_, storage, Queue(settings_)))
        yield FuzzServer(server=server, tenant=tenant, seeded=seeded)
    finally:
        code = server.stop()
        output = server.output()
    assert code == 0, output
    assert "Traceback" not in output, output


# ---------------------------------------------------------------- the document


def body_schema(model: type[Any], components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a request model, its nested models moved into ``components``."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def operation_ids(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


def link(document: dict[str, Any], method: str, path: str, **parameters: str) -> dict[str, Any]:
    return {
        "operationId": operation_ids(document)[(method, path)],
        "parameters": parameters,
    }


def add_links(document: dict[str, Any]) -> None:
    """Links from the operations that create or list things to those that take their ids."""
    paths = document["paths"]
    api = "/api/v1"
    session_id = "$response.body#/sessionId"
    submission_id = "$response.body#/submissionId"
    for create, submit in (
        (f"{api}/workflows/{{slug}}/sessions", f"{api}/workflows/{{slug}}/sessions/{{session_id}}"),
        (f"{api}/ocr/sessions", f"{api}/ocr/sessions/{{session_id}}"),
        (f"{api}/compliance/sessions", f"{api}/compliance/sessions/{{session_id}}"),
    ):
        extra = {"slug": "$request.path.slug"} if "{slug}" in create else {}
        paths[create]["post"]["responses"]["201"]["links"] = {
            "Submit": link(document, "post", f"{submit}/submit", session_id=session_id, **extra),
            "Job": link(document, "get", f"{api}/jobs/{{session_id}}", session_id=session_id),
            "Submission": link(
                document,
                "get",
                f"{api}/submissions/{{submission_id}}",
                submission_id=submission_id,
            ),
            "Cancel": link(
                document,
                "post",
                f"{api}/submissions/{{submission_id}}/cancel",
                submission_id=submission_id,
            ),
        }
    first = "$response.body#/data/0/id"
    paths[f"{api}/submissions"]["get"]["responses"]["200"]["links"] = {
        name: link(
            document, method, f"{api}/submissions/{{submission_id}}{suffix}", submission_id=first
        )
        for name, method, suffix in (
            ("Detail", "get", ""),
            ("Matches", "get", "/fraud-matches"),
            ("Approve", "post", "/approve"),
            ("Reject", "post", "/reject"),
            ("Cancel", "post", "/cancel"),
        )
    }
    paths[f"{api}/submissions/{{submission_id}}"]["get"]["responses"]["200"]["links"] = {
        "Resolve": link(
            document,
            "post",
            f"{api}/submissions/{{submission_id}}/fraud-matches/{{match_id}}/resolve",
            submission_id="$request.path.submission_id",
            match_id="$response.body#/fraudMatches/0/id",
        ),
        "Approve": link(
            document,
            "post",
            f"{api}/submissions/{{submission_id}}/approve",
            submission_id="$request.path.submission_id",
        ),
    }
    paths[f"{api}/workflows"]["get"]["responses"]["200"]["links"] = {
        "Workflow": link(
            document, "get", f"{api}/workflows/{{slug}}", slug="$response.body#/data/0/slug"
        ),
        "Create": link(
            document,
            "post",
            f"{api}/workflows/{{slug}}/sessions",
            slug="$response.body#/data/0/slug",
        ),
    }
    paths[f"{api}/workflows/{{slug}}"]["get"]["responses"]["200"]["links"] = {
        "Version": link(
            document,
            "get",
            f"{api}/workflows/{{slug}}/versions/{{version}}",
            slug="$request.path.slug",
            version="$response.body#/publishedVersion",
        )
    }


def fuzz_document(served: dict[str, Any], seeded: dict[str, Any]) -> dict[str, Any]:
    """The served document plus request bodies, links and seeded path-parameter examples."""
    document = copy.deepcopy(served)
    components = document["components"].setdefault("schemas", {})
    for path, item in document["paths"].items():
        post = item.get("post")
        for suffix, (model, required) in BODIES.items():
            if post is not None and path.endswith(suffix):
                post["requestBody"] = {
                    "required": required,
                    "content": {"application/json": {"schema": body_schema(model, components)}},
                }
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter["in"] == "path" and parameter["name"] in seeded:
                    parameter["example"] = seeded[parameter["name"]]
    narrow_session_create(components["SessionCreate"])
    add_links(document)
    return document


def narrow_session_create(schema: dict[str, Any]) -> None:
    """The union of the system workflows' rules, so that generated creates succeed often enough
    for the stateful phase to reach submit, jobs and review (a value outside it is refused by
    every workflow, so negative cases stay negative), and one valid example."""
    properties = schema["properties"]
    properties["fileCount"]["maximum"] = MAX_FILES
    properties["contentTypes"]["maxItems"] = MAX_FILES
    properties["contentTypes"]["items"] = {"enum": list(FORMATS)}
    schema["example"] = {
        "fileCount": 1,
        "contentTypes": ["image/jpeg"],
        "clientSubmissionId": "fuzz-example",
    }


def load_schema(fuzz_server: FuzzServer, **config: Any) -> Any:
    """The document as served plus the test's additions, bound to the server and its key."""
    served = httpx.get(f"{fuzz_server.url}/openapi.json", timeout=30).json()
    settings_ = {
        "base-url": fuzz_server.url,
        "headers": fuzz_server.tenant.headers,
        "request-timeout": 30,
        "cache": {"enabled": False},  # no .schemathesis/ directory in the working tree
        "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
        **config,
    }
    return schemathesis.openapi.from_dict(
        fuzz_document(served, fuzz_server.seeded),
        config=schemathesis.Config.from_dict(settings_),
    )


# ---------------------------------------------------------------- checks and guards


@schemathesis.check
def problem_documents(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error is an RFC 9457 problem with the contract's fields."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, (
        f"{response.status_code} answered with Content-Type {content_type!r}"
    )
    body = json.loads(response.content)
    missing = [name for name in PROBLEM_FIELDS if name not in body]
    assert not missing, f"problem document without {missing}: {body}"
    assert body["status"] == response.status_code, body
    instance = body["instance"]
    assert URI_PATH.fullmatch(instance), f"instance is not a URI reference: {instance!r}"
    assert unquote(instance) == unquote(case.formatted_path), (instance, case.formatted_path)
    assert body["requestId"] == response.headers["request-id"][0], body
    assert body["type"].startswith("https://docs.steve.openloyalty.io/errors/"), body
    return True


def would_leave_the_machine(url: object) -> bool:
    """True for a URL the server accepts as a public webhook target."""
    if not isinstance(url, str):
        return False
    try:
        validate_webhook_url(url)
    except UrlRejected:
        return False
    return True


REWRITTEN = Counter[str]()


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """Rewrite a generated public ``webhookUrl`` into a refused loopback one: no probe ever
    leaves the machine."""
    body = case.body
    if isinstance(body, dict) and would_leave_the_machine(body.get("webhookUrl")):
        body["webhookUrl"] = LOCAL_REFUSED_URL
        REWRITTEN["webhookUrl"] += 1


# ---------------------------------------------------------------- running the engine


@dataclass
class FuzzReport:
    """What one engine run did: cases by phase, responses by status, and every failure."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    lenient: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)

    def record(self, phase: str, recorder: Any) -> None:
        self.cases[phase] += len(recorder.cases)
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[interaction.response.status_code] += 1
        for node in recorder.cases.values():
            self.operations.add(f"{node.value.method.upper()} {node.value.path}")
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                case = recorder.cases[case_id].value if case_id in recorder.cases else None
                if check.name == "negative_data_rejection" and last_value_wins(
                    self.document, case, failure.message
                ):
                    self.lenient.append(f"{failure.operation}: {check.failure_info.code_sample}")
                    continue
                self.failures.append(
                    f"[{phase}] {check.name} {failure.operation}: {failure.title}: "
                    f"{failure.message}\n{check.failure_info.code_sample}"
                )

    @property
    def documented(self) -> set[str]:
        return {
            f"{method.upper()} {path}"
            for path, item in self.document["paths"].items()
            for method in item
        }

    def summary(self) -> str:
        return (
            f"{sum(self.cases.values())} cases ({dict(self.cases)}) over "
            f"{len(self.operations & self.documented)} of {len(self.documented)} operations "
            f"in {self.seconds:.0f} s; statuses {dict(sorted(self.statuses.items()))}; "
            f"{len(self.lenient)} accepted repeated query parameters (last value wins)"
        )


def last_value_wins(document: dict[str, Any], case: Case | None, message: str) -> bool:
    """True when an accepted "negative" case only repeated scalar query parameters.

    Schemathesis sends an array for a scalar query parameter as the parameter repeated; the
    server, like most, reads the last value (and an empty ``cursor`` as no cursor). Such a case is
    a known leniency, not a failure, when the query with each list collapsed to its last value is
    valid and no other part of the request was made invalid.
    """
    if case is None or "in query" not in message:
        return False
    if any(f"in {where}" in message for where in ("path", "header", "cookie", "body")):
        return False
    query = dict(case.query or {})
    collapsed = {
        name: value[-1] if isinstance(value, list) and value else value
        for name, value in query.items()
    }
    if collapsed == query:
        return False
    declared = {
        parameter["name"]: parameter["schema"]
        for parameter in document["paths"][case.path][case.method.lower()].get("parameters", [])
        if parameter["in"] == "query"
    }
    return all(
        name in declared and jsonschema_rs.validator_for(declared[name]).is_valid(value)
        for name, value in collapsed.items()
    )


def run_engine(schema: Any) -> FuzzReport:
    report = FuzzReport(document=schema.raw_schema)
    started = time.monotonic()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.record(str(event.phase.value), event.recorder)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    report.seconds = time.monotonic() - started
    return report


def check_run(
    fuzz_server: FuzzServer,
    report: FuzzReport,
    record_property: Callable[[str, object], None],
    prefix: str,
) -> None:
    """Record the figures, then: no failure, no 5xx, every operation exercised, a clean log."""
    record_property(f"{prefix}_cases", sum(report.cases.values()))
    record_property(f"{prefix}_cases_by_phase", json.dumps(dict(report.cases)))
    record_property(f"{prefix}_operations", len(report.operations & report.documented))
    record_property(f"{prefix}_statuses", json.dumps(dict(sorted(report.statuses.items()))))
    record_property(f"{prefix}_failures", len(report.failures))
    record_property(f"{prefix}_lenient_repeated_query", len(report.lenient))
    record_property(f"{prefix}_seconds", round(report.seconds, 1))
    record_property(f"{prefix}_rewritten_webhook_urls", REWRITTEN["webhookUrl"])
    print(f"\n{prefix}: {report.summary()}")
    assert not report.errors, "\n\n".join(report.errors)
    assert not report.failures, f"{len(report.failures)} failures:\n\n" + "\n\n".join(
        report.failures[:20]
    )
    missing = report.documented - report.operations
    assert not missing, f"never exercised: {sorted(missing)}"
    assert not any(status >= 500 for status in report.statuses), report.statuses
    output = fuzz_server.server.output()
    assert "Traceback" not in output, output[-4000:]
    assert "unhandled error" not in output, output[-4000:]


# ---------------------------------------------------------------- the tests


def test_fuzz_smoke(
    fuzz_server: FuzzServer, record_property: Callable[[str, object], None]
) -> None:
    """A few examples of every operation (default suite): no 5xx, every answer as documented."""
    schema = load_schema(
        fuzz_server,
        seed=20260101,
        phases={
            "examples": {"enabled": True},
            "coverage": {"enabled": False},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        generation={"max-examples": 4},
    )
    check_run(fuzz_server, run_engine(schema), record_property, "fuzz_smoke")


@pytest.mark.harden
def test_fuzz_full(fuzz_server: FuzzServer, record_property: Callable[[str, object], None]) -> None:
    """Every phase over every operation: examples, coverage (boundary and invalid values),
    fuzzing (100 examples each) and stateful sequences along the links."""
    schema = load_schema(fuzz_server, generation={"max-examples": 100})
    check_run(fuzz_server, run_engine(schema), record_property, "fuzz_full")
