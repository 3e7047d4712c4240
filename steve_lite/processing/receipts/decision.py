"""Which receipt fields hold up the automatic approval, and why."""

from collections.abc import Mapping, Sequence
from typing import Any


def review_reasons(
    data: Mapping[str, Any],
    doubts: Mapping[str, str],
    required: Sequence[str],
    threshold: float,
) -> list[str]:
    """One reason per required field that is missing or below the threshold, naming the field.

    A receipt is approved automatically only when this list is empty.
    """
    reasons = []
    confidences = data.get("fieldConfidence") or {}
    for field in required:
        if field not in confidences:
            continue
        if data.get(field) in (None, ""):
            reasons.append(f"{field}: not found")
            continue
        confidence = confidences[field] or 0.0
        if confidence < threshold:
            why = doubts.get(field, "weak evidence")
            reasons.append(f"{field}: {why}; confidence {confidence:.2f} is below {threshold:.2f}")
    return reasons
