# steve-lite tasks. `just` itself comes from PyPI: pip install rust-just

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := ".venv"
bin := venv + "/bin"

# run every test
default: test

# create .venv and install steve-lite with its test tools at the versions pinned in
# constraints.txt (again only when pyproject.toml or constraints.txt changes)
install:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x {{bin}}/python ]; then python3 -m venv {{venv}}; fi
    if [ ! -f {{venv}}/.installed ] || [ pyproject.toml -nt {{venv}}/.installed ] \
        || [ constraints.txt -nt {{venv}}/.installed ]; then
        {{bin}}/python -m pip install -q --upgrade pip
        {{bin}}/python -m pip install -q -c constraints.txt -e '.[test]'
        touch {{venv}}/.installed
    fi

# refresh constraints.txt (the lock file) from pyproject.toml, keeping the pins that still fit;
# `just lock --upgrade` moves every pin to the newest release, `--upgrade-package NAME` one
lock *args: install
    {{bin}}/python -m pip install -q 'uv>=0.5'
    {{bin}}/uv pip compile --quiet pyproject.toml --extra test --universal --python-version 3.11 \
        --custom-compile-command "just lock" -o constraints.txt {{args}}

# bring the whole service up: API, worker and embedded S3 server
up: install
    {{bin}}/steve-lite up

# run every test
test *args: install
    {{bin}}/pytest {{args}}

# the tests that exercise the data and queue layers, again on PostgreSQL and Redis (the servers
# must run: .ci/run starts them); the choice and its cost are in the README
test-postgres *args: install
    STEVE_TEST_BACKEND=postgres-redis {{bin}}/pytest \
        tests/integration/sessions tests/integration/submissions tests/integration/security \
        tests/integration/webhooks tests/integration/jobs tests/integration/test_read_cache.py \
        tests/integration/test_sweeps.py tests/integration/test_queue.py {{args}}

# ruff, the layer and client contracts (import-linter), mypy, Dockerfile and compose lint
lint: install
    {{bin}}/ruff check .
    {{bin}}/ruff format --check .
    {{bin}}/lint-imports
    {{bin}}/mypy
    {{bin}}/hadolint --failure-threshold style Dockerfile
    {{bin}}/check-jsonschema --builtin-schema vendor.compose-spec devstack/compose.yaml

# MinIO, bucket, `steve-lite serve` and `steve-lite worker` in Docker (see docs/deployment.md)
devstack:
    docker compose -f devstack/compose.yaml up --build --detach --wait
    @echo "API: http://127.0.0.1:${DEVSTACK_API_PORT:-8000}  MinIO console: http://127.0.0.1:${DEVSTACK_S3_CONSOLE_PORT:-9001}"
    @echo "A key: docker compose -f devstack/compose.yaml exec serve steve-lite companies create Dev --slug dev"
    @echo "       docker compose -f devstack/compose.yaml exec serve steve-lite workflows assign document-ocr --company dev"
    @echo "       docker compose -f devstack/compose.yaml exec serve steve-lite keys create --company dev"

# stop the devstack and delete its containers, network and volumes (MinIO objects, databases)
devstack-down:
    docker compose -f devstack/compose.yaml down --volumes --remove-orphans

# run every benchmark under bench/ (each prints its figures and ratios); fails if any failed
bench: install
    #!/usr/bin/env bash
    set -uo pipefail
    order=(api_read sessions processing receipts webhooks)
    not_benchmarks=" __init__ common ocr_cache harden "  # the package, helpers; harden has its own recipe
    for script in bench/*.py; do
        name=$(basename "$script" .py)
        [[ " ${order[*]}$not_benchmarks" == *" $name "* ]] || order+=("$name")
    done
    failed=()
    for name in "${order[@]}"; do
        [ -f "bench/$name.py" ] || continue
        echo "=== bench/$name.py ($(date +%T), load average $(cut -d' ' -f1-3 /proc/loadavg))"
        {{bin}}/python -m "bench.$name" || failed+=("$name")
        echo
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "failed: ${failed[*]}" >&2
        exit 1
    fi

# fuzzing, bad inputs, crashes, mixed load and secrets in logs, on one page (minutes; not in `test`)
harden *args: install
    {{bin}}/python -m bench.harden {{args}}
