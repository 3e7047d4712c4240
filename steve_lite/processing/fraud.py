"""Fraud checks within a company: duplicate images by perceptual hash, repeated receipt data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from steve_lite.clock import now_iso
from steve_lite.db import Database
from steve_lite.ids import new_id
from steve_lite.processing.images import hamming_distance

NEAR_DUPLICATE_DISTANCE = 24  # of 256 bits
SAME_TEXT_RATIO = 0.98
DATA_DUPLICATE_SCORE = 90
RECEIPT_KEYS = ("merchantName", "totalAmount", "purchaseDate", "receiptNumber")


@dataclass(frozen=True)
class HashedFile:
    file_index: int
    phash: str
    sha256: str
    text: str | None = None


def same_text(a: str | None, b: str | None) -> bool:
    """Whether two OCR texts agree; True when either is unknown (photos have none).

    Pages of sparse text look alike to a perceptual hash: for documents a near duplicate must
    also read the same.
    """
    if a is None or b is None:
        return True
    a, b = " ".join(a.split()).lower(), " ".join(b.split()).lower()
    return a == b or SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_TEXT_RATIO


@dataclass(frozen=True)
class Match:
    kind: str
    score: int
    file_index: int | None
    matched_submission_id: str
    matched_file_index: int | None
    details: dict[str, Any]


def image_matches(
    db: Database, company_id: str, submission_id: str, files: Sequence[HashedFile]
) -> list[Match]:
    """The closest earlier image of each other submission within the near-duplicate distance.

    Identical bytes score 100 and mean ``blocked``; a near duplicate scores by its distance,
    and for documents only counts when the two files' OCR texts agree.
    """
    candidates = db.execute(
        "SELECT sub.id AS submission_id, f.file_index, f.phash, f.sha256, f.ocr_text "
        "FROM session_files f "
        "JOIN submissions sub ON sub.session_id = f.session_id "
        "WHERE sub.company_id = ? AND sub.id != ? AND f.phash IS NOT NULL",
        [company_id, submission_id],
    ).fetchall()
    matches = []
    for file in files:
        best: dict[str, tuple[tuple[int, int, int], bool]] = {}
        for other in candidates:
            exact = other["sha256"] == file.sha256
            distance = 0 if exact else hamming_distance(file.phash, other["phash"])
            if distance > NEAR_DUPLICATE_DISTANCE:
                continue
            if not exact and not same_text(file.text, other["ocr_text"]):
                continue
            key = other["submission_id"]
            rank = (distance, 0 if exact else 1, other["file_index"])
            if key not in best or rank < best[key][0]:
                best[key] = (rank, exact)
        for matched_id, ((distance, _, matched_index), exact) in sorted(best.items()):
            score = 100 if exact else round(95 - distance * 35 / NEAR_DUPLICATE_DISTANCE)
            matches.append(
                Match(
                    kind="image_duplicate",
                    score=score,
                    file_index=file.file_index,
                    matched_submission_id=matched_id,
                    matched_file_index=matched_index,
                    details={"exactDuplicate": exact, "hammingDistance": distance},
                )
            )
    return matches


def data_matches(
    db: Database, company_id: str, submission_id: str, extracted: dict[str, Any]
) -> list[Match]:
    """Other submissions whose receipt has the same merchant, total, date and number."""
    values = [extracted.get(key) for key in RECEIPT_KEYS]
    if any(value in (None, "") for value in values):
        return []
    merchant, total, purchase_date, number = values
    rows = db.execute(
        "SELECT id FROM submissions WHERE company_id = ? AND id != ? AND result IS NOT NULL "
        "AND lower(json_extract(result, '$.extractedData.merchantName')) = lower(?) "
        "AND json_extract(result, '$.extractedData.totalAmount') = json_extract(?, '$') "
        "AND json_extract(result, '$.extractedData.purchaseDate') = ? "
        "AND json_extract(result, '$.extractedData.receiptNumber') = ? ORDER BY seq",
        [company_id, submission_id, merchant, json.dumps(total), purchase_date, number],
    ).fetchall()
    details = dict(zip(RECEIPT_KEYS, values, strict=True))
    return [
        Match(
            kind="data_duplicate",
            score=DATA_DUPLICATE_SCORE,
            file_index=None,
            matched_submission_id=row["id"],
            matched_file_index=None,
            details=details,
        )
        for row in rows
    ]


def fraud_status(matches: Sequence[Match]) -> tuple[str, int]:
    """``blocked`` for an exact duplicate file, ``flagged`` for any other match, else ``clean``;
    and the score 0..100 (the highest match score)."""
    if not matches:
        return "clean", 0
    exact = any(m.details.get("exactDuplicate") for m in matches)
    return ("blocked" if exact else "flagged"), max(m.score for m in matches)


def store_matches(db: Database, submission_id: str, matches: Sequence[Match]) -> None:
    """Insert the matches; call inside the transaction that stores the result."""
    now = now_iso()
    db.insert_all(
        "fraud_matches",
        [
            {
                "id": new_id("fm"),
                "submission_id": submission_id,
                "kind": m.kind,
                "score": m.score,
                "file_index": m.file_index,
                "matched_submission_id": m.matched_submission_id,
                "matched_file_index": m.matched_file_index,
                "details": json.dumps(m.details),
                "status": "open",
                "created_at": now,
            }
            for m in matches
        ],
    )
