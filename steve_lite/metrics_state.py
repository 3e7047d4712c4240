"""Gauges read from the databases when ``/metrics`` is scraped: queue depth, the oldest waiting
work, worker heartbeats, and rows by state. Nothing is counted on the request path."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from steve_lite import __version__
from steve_lite.clock import parse_iso, to_iso, utcnow
from steve_lite.db import Database
from steve_lite.queue import Queue
from steve_lite.sessions import store

ROWS_BY_STATE = (
    ("steve_sessions", "Sessions by state.", "SELECT state, COUNT(*) FROM sessions GROUP BY 1"),
    (
        "steve_submissions",
        "Submissions by status.",
        "SELECT status, COUNT(*) FROM submissions GROUP BY 1",
    ),
    (
        "steve_webhook_events",
        "Webhook outbox rows by delivery status.",
        "SELECT status, COUNT(*) FROM webhook_events GROUP BY 1",
    ),
)


class StateCollector:
    """A prometheus_client collector over the app database and the queue of one API."""

    def __init__(self, db: Database, queue: Queue | None) -> None:
        self.db = db
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("steve_build", "The steve-lite version serving this API.")
        info.add_metric([], {"version": __version__})
        yield info
        yield from self.rows_by_state()
        yield from self.queue_depth()
        yield self.oldest_waiting()
        yield from self.heartbeats()

    def rows_by_state(self) -> Iterator[Metric]:
        for name, documentation, sql in ROWS_BY_STATE:
            family = GaugeMetricFamily(name, documentation, labels=["state"])
            for state, count in self.db.execute(sql):
                family.add_metric([state], count)
            yield family

    def queue_depth(self) -> Iterator[Metric]:
        if self.queue is None:
            return
        family = GaugeMetricFamily(
            "steve_queue_depth",
            "Tasks in the queue: pending (ready to run) and scheduled (retries, delayed).",
            labels=["state"],
        )
        family.add_metric(["pending"], self.queue.huey.pending_count())
        family.add_metric(["scheduled"], self.queue.huey.scheduled_count())
        yield family

    def oldest_waiting(self) -> Metric:
        """Seconds the oldest work has waited: a session submitted and not yet finished, and a
        webhook attempt past due and not yet taken by a worker (0 when nothing waits)."""
        now = utcnow()
        family = GaugeMetricFamily(
            "steve_queue_oldest_age_seconds",
            "Age of the oldest waiting work: process_session since the submit of the oldest "
            "unfinished session; deliver_webhook since the oldest overdue attempt fell due.",
            labels=["task"],
        )
        oldest_session = store.oldest_submitted_at(self.db)
        oldest_delivery = self.db.execute(
            "SELECT MIN(next_attempt_at) FROM webhook_events "
            "WHERE status = 'pending' AND next_attempt_at <= ?",
            [to_iso(now)],
        ).fetchone()[0]
        waiting = {"process_session": oldest_session, "deliver_webhook": oldest_delivery}
        for task, moment in waiting.items():
            age = (now - parse_iso(moment)).total_seconds() if moment else 0.0
            family.add_metric([task], max(0.0, age))
        return family

    def heartbeats(self) -> Iterator[Metric]:
        rows = self.db.execute("SELECT beat_at FROM worker_heartbeats").fetchall()
        now = utcnow()
        ages = [(now - parse_iso(row[0])).total_seconds() for row in rows]
        workers = GaugeMetricFamily(
            "steve_worker_heartbeats", "Worker processes with a heartbeat row."
        )
        workers.add_metric([], len(ages))
        yield workers
        if ages:
            yield GaugeMetricFamily(
                "steve_worker_heartbeat_age_seconds",
                "Seconds since the most recent heartbeat of any worker process.",
                value=max(0.0, min(ages)),
            )
