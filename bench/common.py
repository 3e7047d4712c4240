"""Helpers shared by the benchmarks: servers as subprocesses, the CLI, wrk, result tables.

Every server listens on 127.0.0.1 only, and every load generator targets it.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import Process
from tests.support.servers import free_port

HOST = "127.0.0.1"
BIN_DIR = Path(sys.executable).parent
STEVE_LITE = str(BIN_DIR / "steve-lite")


def steve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The inherited environment without any ``STEVE_*``, plus ``STEVE_DATA_DIR`` and ``extra``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("STEVE_")}
    env["STEVE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def steve_cli(data_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``steve-lite ARGS`` against ``data_dir`` (with ``env``'s ``STEVE_*`` settings) and
    return its stdout; raise on failure."""
    done = subprocess.run(
        [STEVE_LITE, *args],
        env=steve_env(data_dir, **(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"steve-lite {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def steve_cli_json(data_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> Any:
    """Run ``steve-lite ARGS --json`` and parse the one JSON object it prints."""
    return json.loads(steve_cli(data_dir, *args, "--json", env=env))


def create_company_key(
    data_dir: Path, slug: str, workflows: list[str], env: Mapping[str, str] | None = None
) -> str:
    """Create company ``slug``, assign ``workflows`` to it and return a new API key."""
    steve_cli_json(data_dir, "companies", "create", slug.title(), "--slug", slug, env=env)
    for workflow in workflows:
        steve_cli(data_dir, "workflows", "assign", workflow, "--company", slug, env=env)
    return str(steve_cli_json(data_dir, "keys", "create", "--company", slug, env=env)["key"])


def unused_storage_env() -> dict[str, str]:
    """``STEVE_S3_*`` naming a closed loopback port, for benchmarks of routes that never touch
    object storage: ``steve-lite serve`` then starts without any S3 server."""
    return {
        "STEVE_S3_ENDPOINT": f"http://{HOST}:{free_port()}",
        "STEVE_S3_ACCESS_KEY": "bench",
        "STEVE_S3_SECRET_KEY": "bench-secret",
    }


def start_steve(data_dir: Path, *, command: str = "serve", **env: str) -> Process:
    """``steve-lite serve`` (or ``command``, e.g. ``up``) on a free port with ``data_dir`` and
    extra ``STEVE_*`` settings."""
    port = free_port()
    return Process(
        "steve-lite",
        [STEVE_LITE, command],
        port,
        steve_env(data_dir, STEVE_PORT=str(port), **env),
        data_dir.parent / f"steve-lite-{port}.log",
    )


def start_python(name: str, code: str, args: list[str], log_dir: Path) -> Process:
    """``python -c CODE PORT ARGS...`` on a free port (the code reads its port from argv[1])."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("STEVE_")}
    return Process(
        name,
        [sys.executable, "-c", code, str(port), *args],
        port,
        env,
        log_dir / f"{name}-{port}.log",
    )


# ---------------------------------------------------------------- wrk


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    socket_errors: int

    @property
    def failed(self) -> int:
        """Requests that got an error status or a socket error."""
        return self.non_2xx_3xx + self.socket_errors


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _to_ms(text: str) -> float:
    """wrk's ``512.00us`` / ``4.31ms`` / ``1.02s`` as milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    """Parse ``wrk --latency`` output."""

    def find(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    total = find(r"^\s*(\d+) requests in ")
    rate = find(r"^Requests/sec:\s*([\d.]+)")
    p50 = find(r"^\s*50(?:\.0+)?%\s+(\S+)")
    p99 = find(r"^\s*99(?:\.0+)?%\s+(\S+)")
    if not (total and rate and p50 and p99):
        raise ValueError(f"cannot parse wrk output:\n{output}")
    non_2xx = find(r"^\s*Non-2xx or 3xx responses:\s*(\d+)")
    sockets = find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    return WrkResult(
        requests=int(total[1]),
        requests_per_sec=float(rate[1]),
        p50_ms=_to_ms(p50[1]),
        p99_ms=_to_ms(p99[1]),
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def require_wrk() -> str:
    """The path of ``wrk``; print how to install it and exit 2 when it is missing."""
    path = shutil.which("wrk")
    if path is None:
        print(
            "wrk is not installed. Install it (Debian): apt-get update && apt-get install -y wrk",
            file=sys.stderr,
        )
        sys.exit(2)
    return path


def run_wrk(
    url: str,
    *,
    duration: float = 10,
    connections: int = 32,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> WrkResult:
    """Load ``url`` with wrk (keep-alive connections) and return the parsed figures.

    ``script`` is a wrk Lua script (``wrk -s``), e.g. to send POST bodies; ``script_args`` reach
    its ``init(args)``."""
    argv = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["-s", str(script)]
    tail = ["--", *script_args] if script_args else []
    done = subprocess.run(
        [*argv, url, *tail], capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def median_result(results: list[WrkResult]) -> WrkResult:
    """Median of each figure; failures are summed, since any failure counts."""
    return WrkResult(
        requests=sum(r.requests for r in results),
        requests_per_sec=statistics.median(r.requests_per_sec for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        non_2xx_3xx=sum(r.non_2xx_3xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


# ---------------------------------------------------------------- output


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print a plain text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        first, *rest = (str(cell) for cell in cells)
        parts = [first.ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts)

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def machine_note() -> str:
    """One line about the CPUs the load generator and the servers share."""
    return (
        f"CPUs: {os.cpu_count()} (wrk runs on the same machine and shares them with the server, "
        "so absolute figures are lower than on a dedicated box; compare ratios)"
    )


def load_note() -> str:
    """The load average now, to print next to figures measured on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average (1/5/15 min): {one:.2f} / {five:.2f} / {fifteen:.2f} "
        f"on {os.cpu_count()} CPUs"
    )


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: ``share`` 0.5 is the median, 0.99 the 99th percentile."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


# ---------------------------------------------------------------- processes


def child_processes(pid: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the direct children of ``pid`` (Linux ``/proc``)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ")"
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            children.append((int(entry.name), cmdline))
    return children


def find_child(pid: int, match: str | Callable[[str], bool], timeout: float = 30) -> int:
    """The pid of the child of ``pid`` whose command line contains ``match`` (or for which
    ``match(command_line)`` is true); wait for it up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child, cmdline in child_processes(pid):
            if match(cmdline) if callable(match) else match in cmdline:
                return child
        time.sleep(0.1)
    raise RuntimeError(f"no child of {pid} runs {match!r}: {child_processes(pid)}")


def memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of ``pid`` in MiB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0]) / 1024  # kB
    return figures


def descendants(pid: int) -> list[int]:
    """The pids of every live process below ``pid``."""
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, _ in child_processes(frontier.pop())]
        found += children
        frontier += children
    return found


def tree_memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of ``pid`` and all its descendants, added up (MiB): the worker's
    OCR engines run in child processes. The summed VmHWM is an upper bound of the peak."""
    total = {"VmRSS": 0.0, "VmHWM": 0.0}
    for member in [pid, *descendants(pid)]:
        try:
            figures = memory_mb(member)
        except OSError:  # gone meanwhile
            continue
        for name in total:
            total[name] += figures.get(name, 0.0)
    return total


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    total = 0.0
    for member in [pid, *descendants(pid)]:
        try:
            total += cpu_seconds(member)
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds ``pid`` has used so far, all its threads (``/proc``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # fields 3.. of proc(5): utime is 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_comparison(
    results: dict[str, WrkResult], labels: dict[str, str], unit: str, target: float
) -> float:
    """The wrk figures of ``bare`` and ``real`` side by side, and their ratio against ``target``."""
    print_table(
        ["server", unit, "p50 ms", "p99 ms", "non-2xx/3xx", "socket errors"],
        [
            [
                labels[name],
                f"{r.requests_per_sec:,.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                str(r.non_2xx_3xx),
                str(r.socket_errors),
            ]
            for name, r in results.items()
        ],
    )
    ratio = results["real"].requests_per_sec / results["bare"].requests_per_sec
    verdict = "met" if ratio >= target else "NOT met"
    print(f"\nratio real/bare = {ratio:.2f} (target >= {target:.2f}: {verdict})")
    return ratio
