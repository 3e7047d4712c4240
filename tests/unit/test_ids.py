"""Ids: prefixed, time first (they sort by creation), 96 random bits."""

from __future__ import annotations

import re
import time

from steve_lite.ids import new_id


def test_ids_sort_by_creation_time_and_carry_96_random_bits() -> None:
    first = new_id("ses")
    time.sleep(0.002)
    later = [new_id("ses") for _ in range(50)]
    assert all(re.fullmatch(r"ses_[0-9a-f]{12}[0-9a-f]{24}", i) for i in [first, *later])
    assert all(first < other for other in later)
    moment = int(first[4:16], 16) / 1000
    assert abs(moment - time.time()) < 5
    assert len({i[16:] for i in later}) == 50  # the random part differs within one millisecond
