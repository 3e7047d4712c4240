"""The JSON log format: one object per record with the request's ids and the given fields."""

from __future__ import annotations

import json
import logging
import sys

from steve_lite.log import JsonFormatter, RequestIdFilter, company_id_var, request_id_var


def formatted(record: logging.LogRecord) -> dict[str, object]:
    RequestIdFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_record_carries_the_request_ids_extras_and_the_traceback() -> None:
    request_token = request_id_var.set("req-7")
    company_token = company_id_var.set("co_1")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.getLogger("steve_lite.test").makeRecord(
                "steve_lite.test",
                logging.ERROR,
                __file__,
                1,
                "failed %s",
                ("twice",),
                exc_info=sys.exc_info(),
                extra={"duration_ms": 1.5},
            )
        line = formatted(record)
    finally:
        company_id_var.reset(company_token)
        request_id_var.reset(request_token)
    assert line["message"] == "failed twice" and line["level"] == "ERROR"
    assert (line["requestId"], line["companyId"], line["durationMs"]) == ("req-7", "co_1", 1.5)
    assert "ValueError: boom" in str(line["exception"])


def test_outside_a_request_there_are_no_ids() -> None:
    record = logging.makeLogRecord({"name": "steve_lite.worker", "msg": "started"})
    line = formatted(record)
    assert "requestId" not in line and "companyId" not in line
    assert line["logger"] == "steve_lite.worker" and line["time"].endswith("+00:00")
