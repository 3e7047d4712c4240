"""The admin CLI, run as a subprocess against a real data directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from steve_lite import __version__
from steve_lite import db as database
from steve_lite.security.api_keys import hash_key
from tests.support.api import make_settings
from tests.support.cli import run_cli, run_json


def test_company_key_and_workflow_lifecycle(tmp_path: Path) -> None:
    company = run_json(tmp_path, "companies", "create", "Acme Ltd")
    assert company["slug"] == "acme-ltd" and company["id"].startswith("co_")
    assert set(company) == {"id", "name", "slug", "createdAt"}
    assert run_json(tmp_path, "companies", "create", "Other", "--slug", "other")["slug"] == "other"

    key = run_json(tmp_path, "keys", "create", "--company", "acme-ltd", "--name", "ci")
    assert set(key) == {"id", "key", "company"}
    assert re.fullmatch(r"aok_[0-9a-f]{64}", key["key"]) and key["company"] == "acme-ltd"
    legacy = run_json(tmp_path, "keys", "create", "--legacy")
    assert legacy["company"] is None

    listed = run_cli(tmp_path, "keys", "list", "--company", "acme-ltd", "--json").stdout
    assert key["key"] not in listed and key["key"][4:] not in listed
    assert [row["id"] for row in json.loads(listed)["data"]] == [key["id"]]
    db = database.open_database(make_settings(tmp_path))
    assert db.execute("SELECT key_hash FROM api_keys WHERE id = ?", [key["id"]]).fetchone()[
        0
    ] == hash_key(key["key"])

    run_cli(tmp_path, "keys", "revoke", key["id"])
    revoked = run_json(tmp_path, "keys", "list")["data"]
    assert next(row for row in revoked if row["id"] == key["id"])["revokedAt"] is not None
    assert run_cli(tmp_path, "keys", "revoke", key["id"], check=False).returncode != 0

    run_cli(tmp_path, "workflows", "assign", "receipt-ocr", "--company", "acme-ltd")
    flows = {row["slug"]: row for row in run_json(tmp_path, "workflows", "list")["data"]}
    assert set(flows) == {"document-ocr", "receipt-ocr", "compliance-vm"}
    assert flows["receipt-ocr"]["companies"] == ["acme-ltd"]
    run_cli(tmp_path, "workflows", "unassign", "receipt-ocr", "--company", "acme-ltd")
    assert run_json(tmp_path, "workflows", "list")["data"][2]["companies"] == []

    run_cli(tmp_path, "companies", "deactivate", "other")
    assert [c["slug"] for c in run_json(tmp_path, "companies", "list")["data"]] == ["acme-ltd"]


def test_errors_are_clear_and_non_zero(tmp_path: Path) -> None:
    duplicate = run_cli(tmp_path, "companies", "create", "A", "--slug", "a")
    assert duplicate.returncode == 0
    again = run_cli(tmp_path, "companies", "create", "A", "--slug", "a", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    missing = run_cli(tmp_path, "keys", "create", "--company", "nope", check=False)
    assert missing.returncode == 1 and "no company with slug 'nope'" in missing.stderr
    both = run_cli(tmp_path, "keys", "create", check=False)
    assert both.returncode == 2 and "--legacy" in both.stderr


def test_publish_reports_bad_key_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "flow.toml"
    bad.write_text(
        'slug = "my-flow"\nname = "Mine"\nprocessor = "document-ocr"\noutputSchema = []\n'
        'outputJsonSchema = {}\n[upload]\nminFiles = 1\nmaxFiles = "x"\n'
        'acceptedFormats = ["image/png"]\nfileLabels = ["page"]\nmaxFileSizeMb = 5\n'
    )
    result = run_cli(tmp_path, "workflows", "publish", str(bad), check=False)
    assert result.returncode == 1
    assert "upload.maxFiles (line 8)" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"slug": "x",\n "name": }')
    result = run_cli(tmp_path, "workflows", "publish", str(broken), check=False)
    assert result.returncode == 1 and "line 2" in result.stderr


def test_publish_creates_immutable_versions(tmp_path: Path) -> None:
    flow = {
        "slug": "my-flow",
        "name": "Mine",
        "processor": "document-ocr",
        "upload": {
            "minFiles": 1,
            "maxFiles": 3,
            "acceptedFormats": ["image/png"],
            "fileLabels": ["page"],
            "maxFileSizeMb": 2,
        },
        "outputSchema": [{"name": "text", "label": "Text", "type": "string", "required": True}],
        "outputJsonSchema": {"type": "object"},
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    assert run_json(tmp_path, "workflows", "publish", str(path))["version"] == 1
    assert run_json(tmp_path, "workflows", "publish", str(path))["version"] == 2
    db = database.open_database(make_settings(tmp_path))
    assert (
        db.execute(
            "SELECT COUNT(*) FROM workflow_versions v "
            "JOIN workflows w ON w.id = v.workflow_id WHERE w.slug = 'my-flow'"
        ).fetchone()[0]
        == 2
    )


@pytest.mark.sqlite_only  # a fresh SQLite file; migrations on PostgreSQL: test_postgres.py
def test_migrate_and_unwritable_data_dir(tmp_path: Path) -> None:
    assert "0001_initial.sql" in run_cli(tmp_path, "migrate").stdout
    assert "none pending" in run_cli(tmp_path, "migrate").stdout
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_cli(blocker / "data", "companies", "list", check=False)
    assert result.returncode == 1
    assert "not writable" in result.stderr and "STEVE_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_configuration_is_reported(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "companies", "list", check=False, STEVE_PORT="nope")
    assert result.returncode == 1
    assert "STEVE_PORT" in result.stderr


def test_version(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "--version").stdout.strip() == f"steve-lite, version {__version__}"
