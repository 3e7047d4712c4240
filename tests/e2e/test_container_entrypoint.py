"""The image's entrypoint, run outside Docker (no Docker engine runs here).

The final stage's ENV, CMD and HEALTHCHECK are read from the Dockerfile, so this test follows the
file: the image's venv (``VIRTUAL_ENV``) stands for this venv, the data directory for the volume,
and a free port for ``STEVE_PORT``; everything else is exactly what the image sets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.dockerfile import Image, read_image
from tests.support.servers import free_port

STOP_SECONDS = 60
READY_SECONDS = 120


def image_env(data_dir: Path, port: int) -> tuple[Image, dict[str, str]]:
    """The environment a container of the image would see, on this machine."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("STEVE_")}
    image = read_image(base_env=base)
    venv_in_image = image.env["VIRTUAL_ENV"]
    env = {**base, **{k: v.replace(venv_in_image, sys.prefix) for k, v in image.env.items()}}
    assert {"STEVE_DATA_DIR", "STEVE_PORT"} <= set(image.env), "the image sets both"
    env["STEVE_DATA_DIR"] = str(data_dir)  # the volume
    env["STEVE_PORT"] = str(port)  # the image's 8000 may be taken here
    return image, env


def seconds(duration: str) -> float:
    """A Docker duration such as ``5s`` or ``1m30s``."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(number) * units[unit] for number, unit in parts)


def run_healthcheck(image: Image, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """The HEALTHCHECK command, within the HEALTHCHECK's own --timeout."""
    return subprocess.run(
        image.healthcheck,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=seconds(image.healthcheck_options["timeout"]),
    )


def wait_for_log(path: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while text not in path.read_text():
        assert process.poll() is None, f"exited early:\n{path.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} in:\n{path.read_text()}"
        time.sleep(0.2)


def test_image_command_serves_passes_its_healthcheck_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    port = free_port()
    image, env = image_env(volume, port)
    program = shutil.which(image.cmd[0], path=env["PATH"])
    assert program is not None and Path(program).parent == Path(sys.prefix, "bin")
    log_path = tmp_path / "up.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            image.cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            assert process.poll() is None, f"exited early:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"not ready:\n{log_path.read_text()}"
            time.sleep(0.2)
        health = run_healthcheck(image, env, tmp_path)
        assert health.returncode == 0, health.stderr
        output = log_path.read_text()
        assert f"serving the API on http://{image.env['STEVE_HOST']}:{port}" in output
        key = re.search(r"Its API key \(shown once, store it now\): (\S+)", output)
        assert key, output
        workflows = httpx.get(
            f"{url}/api/v1/workflows",
            headers={"Authorization": f"Bearer {key[1]}"},
            trust_env=False,
        )
        assert workflows.status_code == 200
        assert {w["slug"] for w in workflows.json()["data"]} >= {"compliance-vm"}
        endpoint = json.loads((volume / "s3" / "endpoint.json").read_text())["endpoint"]
        assert endpoint.startswith("127.0.0.1:"), "the embedded server stays on loopback"
        # The worker runs too (and is past its imports: a stop during them is noisy).
        wait_for_log(log_path, "OCR engine loaded", process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert "steve-lite stopped" in output
    assert not (volume / "s3" / "endpoint.json").exists()
    assert {"steve.db", "queue.db", "s3"} <= {p.name for p in volume.iterdir()}
    assert run_healthcheck(image, env, tmp_path).returncode != 0, "nothing answers now"


OFFLINE_DRIVER = """
import json, signal, subprocess, sys, time
config = json.loads(sys.argv[1])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
log = open(config["log"], "w")
up = subprocess.Popen(config["cmd"], env=config["env"], stdout=log, stderr=subprocess.STDOUT)
result = {"healthy": False, "ocr_loaded": False}
deadline = time.monotonic() + config["seconds"]
while time.monotonic() < deadline and up.poll() is None:
    check = subprocess.run(config["healthcheck"], env=config["env"], capture_output=True)
    result["healthy"] = result["healthy"] or check.returncode == 0
    result["ocr_loaded"] = "OCR engine loaded" in open(config["log"]).read()
    if result["healthy"] and result["ocr_loaded"]:
        break
    time.sleep(0.5)
if up.poll() is None:
    up.send_signal(signal.SIGTERM)
try:
    result["code"] = up.wait(config["stop"])
except subprocess.TimeoutExpired:
    up.kill()
    result["code"] = "killed"
print(json.dumps(result))
"""


def network_namespace_prefix() -> list[str] | None:
    """``unshare`` arguments that give a child a network with nothing but loopback, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    for prefix in (["unshare", "--net"], ["unshare", "--net", "--map-root-user"]):
        probe = subprocess.run(
            [*prefix, "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10
        )
        if probe.returncode == 0:
            return prefix
    return None


def test_image_command_runs_with_no_network(tmp_path: Path) -> None:
    """In a network namespace with only loopback (as a container with ``--network none``): the
    embedded S3 server, the API and the worker start, the OCR models load from the wheel, the
    HEALTHCHECK passes, and SIGTERM stops everything with exit code 0."""
    prefix = network_namespace_prefix()
    if prefix is None:
        pytest.skip("cannot create a network namespace here (unshare --net and ip are needed)")
    volume = tmp_path / "volume"
    volume.mkdir()
    image, env = image_env(volume, free_port())
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    config = {
        "cmd": image.cmd,
        "env": env,
        "healthcheck": image.healthcheck,
        "log": str(tmp_path / "up.log"),
        "seconds": READY_SECONDS,
        "stop": STOP_SECONDS,
    }
    driver = subprocess.run(
        [*prefix, sys.executable, "-c", OFFLINE_DRIVER, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=READY_SECONDS + STOP_SECONDS + 30,
        cwd=tmp_path,
    )
    output = (tmp_path / "up.log").read_text()
    assert driver.returncode == 0, driver.stderr + output
    result = json.loads(driver.stdout.strip().splitlines()[-1])
    assert result == {"healthy": True, "ocr_loaded": True, "code": 0}, output
    assert "Traceback" not in output
