"""The Dockerfile, .dockerignore and devstack compose file hold what the rest of the code needs.

No Docker engine runs here: `just lint` checks both files with hadolint and the compose-spec
schema, these tests check what those linters cannot know (settings names, ports, commands), and
tests/e2e/test_container_entrypoint.py runs the image's command outside Docker.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest

from steve_lite.settings import Settings
from steve_lite.storage.setup import storage_for
from tests.support.dockerfile import DOCKERIGNORE, expand, read_compose, read_image, read_stages

SETTING_NAMES = {f"STEVE_{name.upper()}" for name in Settings.model_fields}
PINNED_TAG = re.compile(r"^[^:@]+(:(?!latest$)[^:]*\d[^:]*|@sha256:[0-9a-f]{64})$")
LONG_RUNNING = ("minio", "serve", "worker")


# ---------------------------------------------------------------- Dockerfile


def test_base_images_are_pinned_and_stages_named() -> None:
    stages = read_stages()
    names = {stage.name for stage in stages if stage.name}
    for stage in stages:
        if stage.image not in names:
            assert PINNED_TAG.match(stage.image), f"unpinned base image {stage.image}"
            assert stage.image.startswith("python:3.11"), "the project targets Python 3.11"


def test_runtime_stage_runs_up_as_a_non_root_user() -> None:
    image = read_image()
    assert image.cmd == ["steve-lite", "up"]
    user = image.user.split(":")
    assert user[0] not in ("0", "root") and user[0].isdigit(), "numeric non-root uid"
    assert len(user) == 1 or user[1] not in ("0", "root")


def test_image_env_is_settings_the_code_reads() -> None:
    image = read_image()
    steve = {k: v for k, v in image.env.items() if k.startswith("STEVE_")}
    assert set(steve) <= SETTING_NAMES
    assert steve["STEVE_HOST"] == "0.0.0.0"
    assert "STEVE_S3_ENDPOINT" not in steve, "the image defaults to the embedded server"
    assert "STEVE_EMBEDDED_S3_PORT" not in steve, "a fixed port cannot be published anyway"
    Settings(**{k.removeprefix("STEVE_").lower(): v for k, v in steve.items()})
    assert image.env["PATH"].split(":")[0] == f"{image.env['VIRTUAL_ENV']}/bin"


def test_volume_port_and_healthcheck_follow_the_env() -> None:
    image = read_image()
    assert image.volumes == [image.env["STEVE_DATA_DIR"]]
    assert image.exposed == [image.env["STEVE_PORT"]]
    command = image.healthcheck
    assert command[:2] == ["python", "-c"] and len(command) == 3
    assert "/readyz" in command[2] and "STEVE_PORT" in command[2]
    assert not {"curl", "wget"} & set(re.findall(r"\w+", " ".join(command)))
    options = image.healthcheck_options
    assert set(options) >= {"interval", "timeout", "start-period", "retries"}


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    build = next(stage for stage in read_stages() if stage.name == "build")
    steps = [(i.keyword, i.arguments) for i in build.instructions]
    copies = [n for n, (keyword, _) in enumerate(steps) if keyword == "COPY"]
    first = steps[copies[0]][1].split()[:-1]
    assert first == ["pyproject.toml", "constraints.txt"], "only the dependency lists first"
    code = next(n for n in copies if "steve_lite" in steps[n][1])
    installs = [n for n, (k, a) in enumerate(steps) if k == "RUN" and " install " in a]
    assert installs[0] < code < installs[-1]
    assert "-c constraints.txt -r requirements.txt" in steps[installs[0]][1]
    assert "--no-deps ." in steps[installs[-1]][1]


def test_runtime_stage_has_no_build_tools() -> None:
    stages = read_stages()
    runtime = stages[-1]
    assert runtime.name != "build"
    text = " ".join(i.arguments for i in runtime.all("RUN"))
    for tool in ("apt-get", "apk", "gcc", "build-essential", "pip", "make"):
        assert not re.search(rf"\b{re.escape(tool)}\b", text), f"{tool} in the final stage"
    copied = [i.arguments for i in runtime.all("COPY")]
    assert copied == ["--from=build /opt/venv /opt/venv"]


def test_dockerignore_is_an_allowlist() -> None:
    lines = [
        line
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is excluded unless listed"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for stage in read_stages():
        for instruction in stage.all("COPY"):
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            if not instruction.arguments.startswith("--from"):
                copied |= set(words[:-1])
    assert copied == allowed


# ---------------------------------------------------------------- devstack/compose.yaml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return read_compose()


def interpolated(value: Any) -> Any:
    """The value as compose would see it with no DEVSTACK_* variables set (the defaults)."""
    return expand(value, {}) if isinstance(value, str) else value


def service_env(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolated(v) for k, v in (service.get("environment") or {}).items()}


def test_services_and_images_are_pinned(compose: dict[str, Any]) -> None:
    services = compose["services"]
    cluster = {"postgres", "redis", "cluster-serve", "cluster-worker"}  # profile `cluster`
    assert set(services) == {"minio", "minio-init", "serve", "worker", *cluster}
    for name, service in services.items():
        image = service["image"]
        assert (name in cluster) == (service.get("profiles") == ["cluster"]), name
        if "build" in service:
            assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
            continue
        if name in ("postgres", "redis"):
            assert re.fullmatch(rf"{name}:\d+-alpine", image), f"{name}: unpinned image {image}"
            continue
        assert PINNED_TAG.match(image), f"{name}: unpinned image {image}"
        assert image.startswith("quay.io/minio/"), "Docker Hub no longer serves MinIO images"
    assert services["cluster-worker"]["deploy"]["replicas"] == 2
    assert "volumes" not in services["cluster-worker"] or not services["cluster-worker"]["volumes"]


def test_depends_on_names_exist_and_the_one_shot_is_adopted(compose: dict[str, Any]) -> None:
    services = compose["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for needed, spec in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on unknown service {needed}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert not services[needed].get("healthcheck", {}).get("disable")
    # `docker compose up --wait` fails on an exited one-shot unless a service waits for it.
    assert services["serve"]["depends_on"]["minio-init"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["minio-init"]["restart"] == "no"


def test_long_running_services_declare_their_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], f"{name} must say how its health is known"
    assert services["worker"]["healthcheck"] == {"disable": True}, "a worker serves no /readyz"
    image = read_image()
    assert services["serve"]["healthcheck"]["test"] == ["CMD", *image.healthcheck]


def test_steve_services_run_serve_and_worker_on_one_data_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["serve"]["command"] == ["steve-lite", "serve"]
    assert services["worker"]["command"] == ["steve-lite", "worker"]
    for name in ("serve", "worker"):
        env = service_env(services[name])
        assert f"steve-data:{env['STEVE_DATA_DIR']}" in services[name]["volumes"]
        assert services[name]["image"] == services["serve"]["image"]
    assert service_env(services["serve"]) == service_env(services["worker"])
    assert "steve-data" in compose["volumes"]


def test_steve_environment_names_real_settings(compose: dict[str, Any]) -> None:
    for name in ("serve", "worker"):
        env = service_env(compose["services"][name])
        assert set(env) <= SETTING_NAMES, set(env) - SETTING_NAMES
        settings = Settings(**{k.removeprefix("STEVE_").lower(): v for k, v in env.items()})
        assert not settings.embedded_s3
        storage = storage_for(settings)  # builds the client offline; no request is sent
        assert storage.endpoint_url == "http://minio:9000"


def test_presigned_urls_are_signed_for_the_published_minio_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = service_env(services["serve"])
    published = {}
    for mapping in services["minio"]["ports"]:
        host_ip, host_port, container_port = interpolated(mapping).split(":")
        assert host_ip == "127.0.0.1", "devstack ports stay on the developer's loopback"
        published[container_port] = host_port
    assert env["STEVE_S3_PUBLIC_ENDPOINT"] == f"http://127.0.0.1:{published['9000']}"
    api_port = interpolated(services["serve"]["ports"][0]).split(":")
    assert api_port[0] == "127.0.0.1" and api_port[2] == read_image().env["STEVE_PORT"]
    minio_env = service_env(services["minio"])
    assert env["STEVE_S3_ACCESS_KEY"] == minio_env["MINIO_ROOT_USER"]
    assert env["STEVE_S3_SECRET_KEY"] == minio_env["MINIO_ROOT_PASSWORD"]


def test_the_init_service_creates_the_configured_bucket(compose: dict[str, Any]) -> None:
    init = compose["services"]["minio-init"]
    env = service_env(init)
    script = expand(" ".join(init["command"]), {})  # `$$` is a literal `$` for the shell
    words = shlex.split(script)
    assert words[:3] == ["mc", "alias", "set"]
    assert words[-4:] == ["mc", "mb", "--ignore-existing", "devstack/$BUCKET"]
    assert env["BUCKET"] == service_env(compose["services"]["serve"])["STEVE_S3_BUCKET"]
    assert init["depends_on"] == {"minio": {"condition": "service_healthy"}}
