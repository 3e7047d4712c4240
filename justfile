# steve-lite tasks. `just` itself comes from PyPI: pip install rust-just

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := ".venv"
bin := venv + "/bin"

# run every test
default: test

# create .venv and install steve-lite with its test tools (again only when pyproject.toml changes)
install:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x {{bin}}/python ]; then python3 -m venv {{venv}}; fi
    if [ ! -f {{venv}}/.installed ] || [ pyproject.toml -nt {{venv}}/.installed ]; then
        {{bin}}/python -m pip install -q --upgrade pip
        {{bin}}/python -m pip install -q -e '.[test]'
        touch {{venv}}/.installed
    fi

# bring the whole service up: API, worker and embedded S3 server
up: install
    {{bin}}/steve-lite up

# run every test
test *args: install
    {{bin}}/pytest {{args}}

# ruff check and format check, Dockerfile and compose lint
lint: install
    {{bin}}/ruff check .
    {{bin}}/ruff format --check .

# run the benchmarks; each prints its figures and ratios
bench: install
    {{bin}}/python bench/api_read.py
