"""The review state machine under real concurrency: each thread has its own SQLite connection to
the live server's database file, so races are decided by SQLite's write lock and the conditional
updates of ``steve_lite.submissions.service``, not by the server's event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from steve_lite import db as database
from steve_lite.errors import Conflict
from steve_lite.sessions import store
from steve_lite.submissions import service
from tests.support.api import LiveApi
from tests.support.processing import processed_session
from tests.support.uploads import jpeg

HOOK = "https://hooks.example.com/x"


def on_own_connections(api: LiveApi, calls: list[Callable[[Any], Any]]) -> list[Any]:
    """Run ``call(db)`` in one thread each, with one connection each, released together.

    Returns each call's result, or the ``Conflict`` it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    unexpected: list[BaseException] = []

    def run(index: int, call: Callable[[Any], Any]) -> None:
        db = database.open_database(api.settings)
        try:
            barrier.wait(timeout=30)
            results[index] = call(db)
        except Conflict as exc:
            results[index] = exc
        except BaseException as exc:  # surfaced in the test thread below
            barrier.abort()  # release the other threads at once
            unexpected.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not unexpected, unexpected
    return results


def rows(api: LiveApi, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in api.db.execute(sql, list(params))]


def test_concurrent_transitions_have_exactly_one_winner(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    session = processed_session(live_api, tenant, [jpeg(seed=7, blur=6)], webhookUrl=HOOK)
    sid, company = session["submissionId"], tenant.company["id"]
    actions = ["approve", "reject", "cancel", "approve", "reject", "cancel"]

    def act(action: str) -> Callable[[Any], Any]:
        return lambda db: service.transition(
            db, company, sid, action, actor=tenant.key_id, reason=f"{action} reason"
        )

    results = on_own_connections(live_api, [act(a) for a in actions])

    winners = [(a, r) for a, r in zip(actions, results, strict=True) if isinstance(r, str)]
    assert len(winners) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 5
    action, event_id = winners[0]
    target = store.TRANSITIONS[action].to_submission
    assert rows(live_api, "SELECT status FROM submissions WHERE id = ?", sid) == [(target,)]
    review_events = rows(
        live_api,
        "SELECT type, actor FROM submission_events WHERE submission_id = ? "
        "AND type IN ('approved', 'rejected', 'cancelled')",
        sid,
    )
    assert review_events == [(target, tenant.key_id)]
    hooks = rows(
        live_api,
        "SELECT id, event_type FROM webhook_events WHERE session_id = ? "
        "AND event_type LIKE 'submission.%'",
        session["sessionId"],
    )
    assert hooks == [(event_id, f"submission.{target}")]


def test_concurrent_resolutions_of_one_match_have_one_winner(live_api: LiveApi) -> None:
    tenant = live_api.tenant()
    image = jpeg(seed=201, blur=6)
    processed_session(live_api, tenant, [image])
    session = processed_session(live_api, tenant, [image], webhookUrl=HOOK)
    sid, company = session["submissionId"], tenant.company["id"]
    [(match_id,)] = rows(live_api, "SELECT id FROM fraud_matches WHERE submission_id = ?", sid)
    resolutions = ["false_positive", "confirmed_fraud"] * 2

    def resolve(resolution: str) -> Callable[[Any], Any]:
        return lambda db: service.resolve_fraud_match(
            db, company, sid, match_id, resolution=resolution, note=None, actor=tenant.key_id
        )

    results = on_own_connections(live_api, [resolve(r) for r in resolutions])

    won = [(r, res) for r, res in zip(resolutions, results, strict=True) if isinstance(res, tuple)]
    assert len(won) == 1 and sum(isinstance(r, Conflict) for r in results) == 3
    resolution, (match, event_id) = won[0]
    assert (match["id"], match["status"], match["resolution"]) == (match_id, "resolved", resolution)
    expected_status = "clean" if resolution == "false_positive" else "blocked"
    assert rows(live_api, "SELECT fraud_status FROM submissions WHERE id = ?", sid) == [
        (expected_status,)
    ]
    events = rows(
        live_api,
        "SELECT data FROM submission_events WHERE submission_id = ? "
        "AND type = 'fraud_match_resolved'",
        sid,
    )
    assert [json.loads(data) for (data,) in events] == [
        {"matchId": match_id, "resolution": resolution, "fraudStatus": expected_status}
    ]
    hooks = rows(
        live_api,
        "SELECT id FROM webhook_events WHERE session_id = ? "
        "AND event_type = 'submission.fraud_match_resolved'",
        session["sessionId"],
    )
    assert hooks == [(event_id,)]


def test_concurrent_false_positives_on_two_matches_end_clean(live_api: LiveApi) -> None:
    """Each resolution recomputes ``fraudStatus`` from every match inside its write
    transaction, so two resolutions at once cannot leave a stale status behind."""
    tenant = live_api.tenant()
    image = jpeg(seed=202, blur=6)
    processed_session(live_api, tenant, [image])
    processed_session(live_api, tenant, [image])
    session = processed_session(live_api, tenant, [image])
    sid, company = session["submissionId"], tenant.company["id"]
    match_ids = [
        m for (m,) in rows(live_api, "SELECT id FROM fraud_matches WHERE submission_id = ?", sid)
    ]
    assert len(match_ids) == 2
    assert rows(live_api, "SELECT fraud_status FROM submissions WHERE id = ?", sid) == [
        ("blocked",)
    ]

    results = on_own_connections(
        live_api,
        [
            lambda db, m=m: service.resolve_fraud_match(
                db, company, sid, m, resolution="false_positive", note="ok", actor=tenant.key_id
            )
            for m in match_ids
        ],
    )

    assert all(isinstance(r, tuple) for r in results), results
    assert rows(live_api, "SELECT fraud_status FROM submissions WHERE id = ?", sid) == [("clean",)]
    statuses = [
        json.loads(d)["fraudStatus"]
        for (d,) in rows(
            live_api,
            "SELECT data FROM submission_events WHERE submission_id = ? "
            "AND type = 'fraud_match_resolved' ORDER BY seq",
            sid,
        )
    ]
    assert statuses == ["blocked", "clean"]
