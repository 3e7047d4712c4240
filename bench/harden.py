"""Hardening run: fuzzing, bad inputs, crashes, load and secrets, summed up on one page.

Runs, one after the other (the machine is small: nothing runs in parallel):

1. properties: the validator property tests, the URL rules and the route/security matrix
   (``tests/unit/test_properties.py``, ``tests/unit/security/test_urls.py``,
   ``tests/integration/security/test_route_matrix.py``) with ``--examples`` per property;
2. fuzz: schemathesis against a real ``steve-lite serve`` (``tests/fuzz``, every phase);
3. crashes: ``tests/e2e/test_crashes.py`` (API, worker and storage killed; two APIs and a
   worker on one database; secrets in DEBUG logs);
4. load: ``bench/load.py`` against ``steve-lite up`` (``--duration`` s, ``--concurrency`` users);
5. secrets: every log the runs above left (server, worker and S3 logs under their temp dirs) is
   searched for plaintext API keys, the stored key hashes of every database they used, the
   storage secret keys, ``X-Amz-Signature`` / ``X-Amz-Credential`` values and webhook
   signatures.

Then prints a one-page summary. Figures come from the JUnit reports (tests record them as
properties), Hypothesis statistics and the load bench's JSON. Everything is kept under
``--workdir`` (default: a new temp dir) for a look afterwards.

Exit code: 0 when every part passed, 1 otherwise.

    .venv/bin/python -m bench.harden [--duration 30] [--concurrency 8] [--examples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import load_note

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PART_TIMEOUT = 1800  # seconds; pytest-timeout bounds each test well below this

PROPERTY_TESTS = [
    "tests/unit/test_properties.py",
    "tests/unit/security/test_urls.py",
    "tests/integration/security/test_route_matrix.py",
]
LEAK_PATTERNS = {
    "plaintext API key": re.compile(r"aok_[0-9a-f]{64}"),
    "X-Amz-Signature": re.compile(r"X-Amz-Signature=[0-9a-f]{16}"),
    "X-Amz-Credential": re.compile(r"X-Amz-Credential=[A-Za-z0-9]"),
    "X-Webhook-Signature": re.compile(r"sha256=[0-9a-f]{64}"),
    "webhook-signature": re.compile(r"v1,[A-Za-z0-9+/]{43}="),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=8, help="load users")
    parser.add_argument("--examples", type=int, default=1000, help="examples per property")
    parser.add_argument("--workdir", type=Path, help="keep everything here")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["properties", "fuzz", "crashes", "load"]
    )
    return parser.parse_args()


@dataclass
class Part:
    """One part of the run: its outcome, how long it took and what it measured."""

    name: str
    passed: bool = False
    seconds: float = 0.0
    tests: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def prop(self, name: str, default: Any = None) -> Any:
        for test in self.tests:
            if name in test["properties"]:
                return test["properties"][name]
        return default


def run(part: Part, argv: list[str], env: dict[str, str] | None = None) -> None:
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=PART_TIMEOUT,
        check=False,
    )
    part.seconds = time.monotonic() - started
    part.output = done.stdout + done.stderr
    part.passed = done.returncode == 0
    status = "passed" if part.passed else f"FAILED (exit {done.returncode})"
    print(f"  {part.name}: {status} in {part.seconds:.0f} s", flush=True)


def read_junit(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for kind in ("failure", "error", "skipped"):
            if case.find(kind) is not None:
                outcome = kind
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        tests.append(
            {
                "name": case.get("name", ""),
                "seconds": float(case.get("time", 0)),
                "outcome": outcome,
                "properties": properties,
            }
        )
    return tests


def pytest_part(
    name: str,
    workdir: Path,
    paths: list[str],
    marker: str,
    env: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> Part:
    part = Part(name)
    junit = workdir / f"{name}.xml"
    argv = [PYTHON, "-m", "pytest", *paths, "-m", marker, "-q", "-rfE"]
    argv += [f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    argv += [f"--basetemp={workdir / ('pytest-' + name)}"]
    run(part, argv + (extra or []), {"STEVE_LOG_LEVEL": "DEBUG", **(env or {})})
    part.tests = read_junit(junit)
    return part


# ---------------------------------------------------------------- secrets in logs


def known_secrets(roots: list[Path]) -> dict[str, str]:
    """Stored key hashes of every database and storage secrets of every embedded server the
    runs used: each must stay out of every log."""
    secrets: dict[str, str] = {}
    for root in roots:
        for db_path in root.rglob("steve.db"):
            try:
                with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
                    for (key_hash,) in db.execute("SELECT key_hash FROM api_keys"):
                        secrets[f"key hash {key_hash[:8]}"] = key_hash
            except sqlite3.Error:
                continue
        for credentials in root.rglob("s3-credentials.json"):
            secret = json.loads(credentials.read_text())["secretKey"]
            secrets[f"S3 secret of {credentials.parent.name}"] = secret
    return secrets


def search_logs(roots: list[Path]) -> dict[str, Any]:
    logs = [path for root in roots for path in root.rglob("*.log") if path.is_file()]
    secrets = known_secrets(roots)
    found: dict[str, list[str]] = {}
    size = 0
    for path in logs:
        text = path.read_text(errors="replace")
        size += len(text)
        for what, pattern in LEAK_PATTERNS.items():
            if pattern.search(text):
                found.setdefault(what, []).append(str(path))
        for what, value in secrets.items():
            if value in text:
                found.setdefault(what, []).append(str(path))
    return {"logs": len(logs), "bytes": size, "secrets": len(secrets), "found": found}


# ---------------------------------------------------------------- summary


def hypothesis_examples(output: str) -> int:
    return sum(int(n) for n in re.findall(r"(\d+) passing, \d+ failing", output))


def count(part: Part, outcome: str) -> int:
    return sum(test["outcome"] == outcome for test in part.tests)


def outcome_line(part: Part) -> str:
    if not part.tests:
        return "not run" if not part.output else ("passed" if part.passed else "FAILED")
    parts = [f"{count(part, 'passed')} passed"]
    for kind in ("failure", "error", "skipped"):
        if count(part, kind):
            parts.append(f"{count(part, kind)} {kind}")
    return ", ".join(parts) + f" ({part.seconds:.0f} s)"


def failures(part: Part) -> list[str]:
    return [t["name"] for t in part.tests if t["outcome"] in ("failure", "error")]


def summary(parts: dict[str, Part], secrets: dict[str, Any] | None, workdir: Path) -> bool:
    line = "=" * 78
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"\n{line}\nsteve-lite hardening summary   {when}   {load_note()}")
    print(line)
    ok = True
    if "properties" in parts:
        props = parts["properties"]
        ok &= props.passed
        print(f"bad inputs   {outcome_line(props)}")
        print(
            f"             {hypothesis_examples(props.output)} generated examples over the "
            f"metadata, content-type, webhook-URL, JSON-number and cursor rules; every /api/v1 "
            f"route x (no key, revoked key, legacy key, another company's ids)"
        )
    if "fuzz" in parts:
        fuzz = parts["fuzz"]
        ok &= fuzz.passed
        print(f"fuzzing      {outcome_line(fuzz)}")
        for prefix in ("fuzz_full", "fuzz_smoke"):
            cases = fuzz.prop(f"{prefix}_cases")
            if cases is None:
                continue
            print(
                f"             {prefix}: {cases} cases over {fuzz.prop(prefix + '_operations')} "
                f"operations; phases {fuzz.prop(prefix + '_cases_by_phase')}"
            )
            print(
                f"               statuses {fuzz.prop(prefix + '_statuses')}; "
                f"failures {fuzz.prop(prefix + '_failures')}, "
                f"repeated-query leniency {fuzz.prop(prefix + '_lenient_repeated_query')}"
            )
    if "crashes" in parts:
        crashes = parts["crashes"]
        ok &= crashes.passed
        print(f"crashes      {outcome_line(crashes)}")
        rows = [
            (
                "API SIGKILL mid-burst",
                f"{crashes.prop('api_kill_creates_answered')} creates answered, "
                f"{crashes.prop('api_kill_requests_cut')} cut off; retries "
                f"{crashes.prop('api_kill_retries')}; no half-written session",
            ),
            (
                "worker SIGKILL mid-job",
                f"{crashes.prop('worker_kill_unfinished_at_kill')} of "
                f"{crashes.prop('worker_kill_sessions')} sessions unfinished at the kill; all "
                f"finished once, {crashes.prop('worker_kill_redeliveries')} redeliveries",
            ),
            (
                "worker SIGKILL mid-webhook",
                f"resent {crashes.prop('delivery_kill_redelivered_after_seconds')} s later, "
                "same X-Webhook-Id, delivered",
            ),
            (
                "2 APIs + 1 worker",
                f"{crashes.prop('two_apis_requests')} requests, "
                f"{crashes.prop('two_apis_sessions_submitted')} sessions; non-2xx "
                f"{crashes.prop('two_apis_non_2xx')}; no 'database is locked'",
            ),
            (
                "S3 killed + restarted",
                "readyz 503, submit 503 + Retry-After, state kept; ready again "
                f"{crashes.prop('storage_back_after_seconds')} s after restart",
            ),
            (
                "DEBUG logs",
                f"{crashes.prop('secrets_checked')} secrets, "
                f"{crashes.prop('secrets_log_bytes')} bytes: "
                f"{crashes.prop('secrets_leaks')} found",
            ),
        ]
        names = {t["name"]: t["outcome"] for t in crashes.tests}
        for label, text in rows:
            print(f"             {label:<27} {text}")
        if failures(crashes):
            print(f"             FAILED: {', '.join(failures(crashes))}")
        if not names:
            print("             (no results)")
    if "load" in parts:
        load = parts["load"]
        ok &= load.passed
        figures = load.figures
        print(f"load         {'passed' if load.passed else 'FAILED'} ({load.seconds:.0f} s)")
        if figures:
            total = sum(r["requests"] for r in figures["routes"])
            print(
                f"             {figures['concurrency']} users x {figures['seconds']:.0f} s: "
                f"{total} requests, {total / figures['seconds']:.0f} req/s; errors "
                f"{figures['errors_by_status'] or 'none'}, 429 {figures['rate_limited']}, "
                f"transport {figures['transport_errors'] or 'none'}"
            )
            for row in sorted(figures["routes"], key=lambda r: -r["requests"]):
                print(
                    f"               {row['route']:<36} {row['rps']:6.1f}/s  "
                    f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:7.1f} ms"
                )
            outcome = figures["outcome"]
            verdict = "all final, one result, webhook delivered once"
            print(
                f"             {outcome['sessions_submitted']} sessions submitted: "
                f"{verdict if not outcome['problems'] else outcome['problems'][:3]}; "
                f"{outcome['webhook_events']} webhooks, "
                f"{outcome['webhook_redeliveries']} redeliveries; drained in "
                f"{figures['drain_seconds']:.1f} s"
            )
    if secrets is not None:
        clean = not secrets["found"]
        ok &= clean
        print(
            f"secrets      {secrets['logs']} log files, {secrets['bytes']} bytes, searched for "
            f"{len(LEAK_PATTERNS)} patterns and {secrets['secrets']} stored secrets: "
            f"{'none found' if clean else secrets['found']}"
        )
    print(line)
    print(f"{'ALL PASSED' if ok else 'FAILED'}   (details under {workdir})")
    return ok


def main() -> int:
    args = parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="steve-harden-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"hardening run in {workdir} ({load_note()})", flush=True)
    parts: dict[str, Part] = {}
    if "properties" not in args.skip:
        parts["properties"] = pytest_part(
            "properties",
            workdir,
            PROPERTY_TESTS,
            "not slow",
            env={"STEVE_PROPERTY_EXAMPLES": str(args.examples)},
            extra=["--hypothesis-show-statistics"],
        )
    if "fuzz" not in args.skip:
        parts["fuzz"] = pytest_part("fuzz", workdir, ["tests/fuzz"], "harden or not harden")
    if "crashes" not in args.skip:
        parts["crashes"] = pytest_part("crashes", workdir, ["tests/e2e/test_crashes.py"], "harden")
    if "load" not in args.skip:
        load = Part("load")
        figures_path = workdir / "load.json"
        run(
            load,
            [
                PYTHON,
                "-m",
                "bench.load",
                f"--duration={args.duration:g}",
                f"--concurrency={args.concurrency}",
                f"--json={figures_path}",
                f"--keep={workdir / 'load'}",
            ],
        )
        if figures_path.exists():
            load.figures = json.loads(figures_path.read_text())
        parts["load"] = load
    roots = [workdir / f"pytest-{name}" for name in ("fuzz", "crashes")] + [workdir / "load"]
    secrets = search_logs([root for root in roots if root.exists()])
    ok = summary(parts, secrets, workdir)
    for part in parts.values():
        if not part.passed:
            print(f"\n--- {part.name} output (tail) ---\n{part.output[-3000:]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
