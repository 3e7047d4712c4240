"""Readable terminal views of jobs and submissions (rich), for the client's commands."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from steve_lite.client.protocol import Json

STATE_STYLES = {
    "completed": "green",
    "approved": "green",
    "synced": "green",
    "clean": "green",
    "failed": "red",
    "expired": "red",
    "rejected": "red",
    "cancelled": "red",
    "blocked": "red",
    "flagged": "yellow",
    "review": "yellow",
}
MAX_VALUE_CHARS = 100


def styled(value: str | None) -> Text:
    """A state or status, coloured by what it means."""
    return Text(value or "-", style=STATE_STYLES.get(value or "", "yellow"))


def brief(value: Any) -> Text:
    """One line for any JSON value: long text cut, lists of values joined, lists of objects and
    objects counted."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, list) and not any(isinstance(item, list | dict) for item in value):
        value = "; ".join(str(item) for item in value) or "-"
    if isinstance(value, list):
        return Text(f"{len(value)} item(s)", style="dim")
    if isinstance(value, dict):
        return Text(f"{len(value)} field(s)", style="dim")
    lines = str(value).strip().splitlines() or [""]
    first = lines[0]
    if len(first) > MAX_VALUE_CHARS:
        first = first[: MAX_VALUE_CHARS - 1] + "…"
    more = f"  (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return Text(first) + Text(more, style="dim")


def fields(*rows: tuple[str, RenderableType | str | None]) -> Table:
    """Label and value, one per line; rows without a value are left out."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        if value is not None:
            grid.add_row(label, Text(value) if isinstance(value, str) else value)
    return grid


def fraud(fraud_status: str | None, score: Any) -> Text | None:
    """The fraud status and score, or None before processing."""
    if fraud_status is None:
        return None
    return styled(fraud_status) + Text(f" (score {score})" if score is not None else "")


def job_summary(job: Json) -> RenderableType:
    """The job view as a summary: ids, states, outcome and the extracted fields."""
    result = job.get("result") or {}
    workflow = job.get("workflow") or {}
    summary = fields(
        ("Session", job.get("sessionId")),
        ("Submission", job.get("submissionId")),
        ("Workflow", f"{workflow.get('slug')} v{workflow.get('version')}"),
        ("State", styled(job.get("state"))),
        ("Submission status", styled(job.get("submissionStatus"))),
        ("Fraud", fraud(result.get("fraudStatus"), result.get("fraudScore"))),
        ("Confidence", brief(result.get("confidence")) if result else None),
        ("Failed", Text(job["failedReason"], style="red") if job.get("failedReason") else None),
        ("Webhook", job.get("webhookDeliveryStatus")),
    )
    extracted = result.get("extractedData") or {}
    if not extracted:
        return summary
    data = fields(*((name, brief(value)) for name, value in extracted.items()))
    return Group(summary, Text("\nExtracted data", style="bold underline"), data)


def submissions_table(items: list[Json]) -> Table:
    """A list of submissions, one per row."""
    table = Table("Submission", "Status", "Fraud", "Workflow", "Created", box=None)
    for item in items:
        workflow = item.get("workflow") or {}
        table.add_row(
            Text(item["id"]),
            styled(item.get("submissionStatus")),
            styled(item.get("fraudStatus")) if item.get("fraudStatus") else Text("-"),
            Text(f"{workflow.get('slug')} v{workflow.get('version')}"),
            Text(item.get("createdAt") or "-"),
        )
    return table


def submission_detail(detail: Json) -> RenderableType:
    """A submission's detail: status, outcome, files, fraud matches and latest events."""
    workflow = detail.get("workflow") or {}
    summary = fields(
        ("Submission", detail.get("id")),
        ("Session", detail.get("sessionId")),
        ("Workflow", f"{workflow.get('slug')} v{workflow.get('version')}"),
        ("Status", styled(detail.get("submissionStatus"))),
        ("Fraud", fraud(detail.get("fraudStatus"), detail.get("fraudScore"))),
        ("Confidence", brief(detail.get("confidence"))),
        ("Rejected", detail.get("rejectReason")),
        ("Cancelled", detail.get("cancelReason")),
        ("Created", detail.get("createdAt")),
        ("Updated", detail.get("updatedAt")),
    )
    parts: list[RenderableType] = [summary]
    files = detail.get("files") or []
    if files:
        table = Table("#", "Label", "Type", "Bytes", box=None, title="Files", title_justify="left")
        for file in files:
            table.add_row(
                str(file.get("fileIndex")),
                Text(str(file.get("label"))),
                Text(str(file.get("contentType"))),
                str(file.get("sizeBytes")),
            )
        parts.append(table)
    matches = detail.get("fraudMatches") or []
    if matches:
        table = Table(
            "Match", "Kind", "Score", "Status", box=None, title="Fraud", title_justify="left"
        )
        for match in matches:
            table.add_row(
                Text(match["id"]),
                Text(str(match.get("kind"))),
                str(match.get("score")),
                styled(match.get("status")),
            )
        parts.append(table)
    events = (detail.get("events") or [])[:5]
    if events:
        table = Table(box=None, show_header=False, title="Latest events", title_justify="left")
        for event in events:
            table.add_row(Text(str(event.get("occurredAt"))), Text(str(event.get("type"))))
        parts.append(table)
    return Group(*parts)
