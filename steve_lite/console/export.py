"""Reviewed receipts as an evaluation set, in the layout of ``receipts-dev``.

``img/<name>.<ext>`` holds the uploaded bytes as they are; ``key/<name>.json`` the final fields
(``merchant``, ``date``, ``total`` as a decimal string, ``currency``, plus ``receiptNumber``,
``taxId`` and which fields a reviewer ``corrected``); ``manifest.json`` the name, source
submission, SHA-256 and size of every image. A submission counts once a person looked at it: it
has a ``corrected`` or an ``approved`` event and was not rejected, cancelled or failed.
Submissions approved automatically are left out: they would measure the extractor against its
own reading.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steve_lite.console.service import sniff_image
from steve_lite.db import Database
from steve_lite.storage.s3 import ObjectStorage

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MAX_BYTES = 100 * 1024 * 1024


@dataclass
class ExportSummary:
    """What an export wrote and what it left out, by submission id."""

    written: list[str] = field(default_factory=list)
    several_files: list[str] = field(default_factory=list)


def reviewed_receipts(db: Database, company_id: str) -> list[dict[str, Any]]:
    """The company's receipt submissions a reviewer approved or corrected, oldest first."""
    rows = db.execute(
        "SELECT sub.id, sub.session_id, sub.result FROM submissions sub "
        "JOIN workflow_versions v ON v.workflow_id = sub.workflow_id "
        "AND v.version = sub.workflow_version "
        "WHERE sub.company_id = ? AND json_extract(v.definition, '$.processor') = 'receipt-ocr' "
        "AND sub.status NOT IN ('rejected', 'cancelled', 'failed') AND sub.result IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM submission_events e WHERE e.submission_id = sub.id "
        "AND e.type IN ('corrected', 'approved')) ORDER BY sub.seq",
        [company_id],
    )
    return [dict(row) for row in rows]


def key_json(submission_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """The ``key/*.json`` document of one receipt."""
    data = result.get("extractedData") or {}
    total = data.get("totalAmount")
    return {
        "merchant": data.get("merchantName"),
        "date": data.get("purchaseDate"),
        "total": f"{total:.2f}" if isinstance(total, int | float) else None,
        "currency": data.get("currency"),
        "receiptNumber": data.get("receiptNumber"),
        "taxId": data.get("taxId"),
        "corrected": sorted(c["field"] for c in result.get("corrections", [])),
        "submissionId": submission_id,
    }


def export_corrections(
    db: Database, storage: ObjectStorage, company_id: str, out_dir: Path
) -> ExportSummary:
    """Write the company's reviewed receipts under ``out_dir`` (created; files of the same name
    are replaced). Receipts of several files are left out: the layout has one image per key."""
    summary = ExportSummary()
    (out_dir / "img").mkdir(parents=True, exist_ok=True)
    (out_dir / "key").mkdir(parents=True, exist_ok=True)
    manifest = []
    for row in reviewed_receipts(db, company_id):
        files = db.execute(
            "SELECT object_key FROM session_files WHERE session_id = ? AND size_bytes > 0 "
            "ORDER BY file_index",
            [row["session_id"]],
        ).fetchall()
        if len(files) != 1:
            summary.several_files.append(row["id"])
            continue
        data = storage.download(files[0]["object_key"], max_bytes=MAX_BYTES)
        extension = EXTENSIONS.get(sniff_image(data) or "", "bin")
        name = row["id"]
        (out_dir / "img" / f"{name}.{extension}").write_bytes(data)
        key = key_json(row["id"], json.loads(row["result"]))
        (out_dir / "key" / f"{name}.json").write_text(json.dumps(key, indent=1) + "\n")
        manifest.append(
            {
                "name": name,
                "source": f"submission {row['id']} file 0",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        )
        summary.written.append(row["id"])
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return summary
