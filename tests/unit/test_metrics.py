"""The metrics module: bounded request labels and the cleanup of dead workers' files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from steve_lite import metrics


def request_samples() -> dict[tuple[str, str, str], float]:
    text = generate_latest(metrics.API_REGISTRY).decode()
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "steve_http_requests"]
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in family.samples
        if s.name == "steve_http_requests_total"
    }


def test_requests_are_counted_by_template_with_bounded_methods() -> None:
    before = request_samples()
    metrics.observe_request("/api/v1/jobs/{session_id}", "GET", 200, 0.002)
    metrics.observe_request(None, "BREW", 405, 0.001)
    after = request_samples()
    key = ("/api/v1/jobs/{session_id}", "GET", "200")
    assert after[key] == before.get(key, 0) + 1
    assert after[("unmatched", "other", "405")] == before.get(("unmatched", "other", "405"), 0) + 1
    assert not any(method == "BREW" for _, method, _ in after)


def test_files_of_dead_workers_of_this_host_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    host = metrics.host_name()
    names = {
        "dead": f"counter_worker-{host}-{dead}.db",
        "alive": f"counter_worker-{host}-{os.getpid()}.db",
        "other host": f"histogram_worker-elsewhere-{dead}.db",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"")
    metrics.remove_dead_process_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["alive"], names["other host"]]
    )
