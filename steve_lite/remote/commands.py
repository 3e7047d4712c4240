"""``steve-lite submit``, ``jobs`` and ``submissions``: the API from a terminal, through the
client. ``STEVE_URL`` and ``STEVE_API_KEY`` say which server and key (``--url``, ``--api-key``
override them). Progress goes to stderr; results to stdout, as one JSON object with ``--json``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from steve_lite.client.errors import SteveError
from steve_lite.client.files import ProgressCallback, content_types
from steve_lite.client.protocol import API_KEY_ENV, DEFAULT_URL, URL_ENV, Json
from steve_lite.client.sync import SteveClient
from steve_lite.remote import render

FAILED_STATES = ("failed", "expired")
RATE_LIMIT_RETRIES = 3
FILE_FIELD = re.compile(r"^(?:files|contentTypes)\[(\d+)\]")

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
url_option = click.option(
    "--url", envvar=URL_ENV, default=DEFAULT_URL, show_default=True, help="The API's URL."
)
api_key_option = click.option(
    "--api-key", envvar=API_KEY_ENV, required=True, help=f"The API key (or {API_KEY_ENV})."
)


def with_client(command: Callable[..., None]) -> Callable[..., None]:
    """Add ``--url`` and ``--api-key`` to a command, which gets a ``client`` instead; turn
    API errors into a message on stderr and exit status 1."""

    @functools.wraps(command)
    def run(url: str, api_key: str, **kwargs: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request on stderr
        with SteveClient(url, api_key, rate_limit_retries=RATE_LIMIT_RETRIES) as client:
            try:
                command(client=client, **kwargs)
            except SteveError as error:
                raise click.ClickException(str(error)) from None

    return url_option(api_key_option(run))


def show(data: Json, view: RenderableType, as_json: bool) -> None:
    """``data`` as one JSON object, or ``view`` for people, on stdout."""
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        Console().print(view)


def exit_for(job: Json) -> None:
    """Exit status 1 when the job failed or expired."""
    if job.get("state") in FAILED_STATES:
        raise click.exceptions.Exit(1)


def parse_metadata(pairs: Sequence[str]) -> Json | None:
    """``key=value`` options as a metadata object (string values)."""
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--metadata")
        metadata[key] = value
    return metadata or None


def name_files(error: SteveError, files: Sequence[Path]) -> SteveError:
    """The error with each ``files[i]`` / ``contentTypes[i]`` problem naming its file."""
    for item in error.errors:
        match = FILE_FIELD.match(str(item.get("field")))
        if match and int(match[1]) < len(files):
            item["message"] = f"{files[int(match[1])].name}: {item.get('message')}"
    return error


@contextlib.contextmanager
def upload_progress(console: Console, files: Sequence[Path]) -> Iterator[ProgressCallback]:
    """A progress bar per file on ``console`` while the block runs; yields the callback."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        tasks = [progress.add_task(path.name, total=None) for path in files]

        def report(index: int, sent: int, total: int) -> None:
            progress.update(tasks[index], completed=sent, total=total)

        yield report


def spinner(console: Console, message: str) -> contextlib.AbstractContextManager[Any]:
    """A spinner on a terminal, nothing elsewhere."""
    return console.status(message) if console.is_terminal else contextlib.nullcontext()


def wait_for_job(client: SteveClient, session_id: str, timeout: float) -> Json:
    """Wait for the job under a spinner on stderr."""
    with spinner(Console(stderr=True), f"Processing {session_id}…"):
        return client.wait(session_id, timeout=timeout)


wait_option = click.option("--wait", is_flag=True, help="Wait until the job is final.")
timeout_option = click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="Seconds to --wait at most."
)


# ---------------------------------------------------------------- submit and jobs


@click.command()
@click.option("--workflow", "-w", required=True, help="The workflow's slug.")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--metadata", "-m", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--client-submission-id", help="Idempotency key (default: a new UUID).")
@click.option("--webhook-url", help="Where to send the signed outcome.")
@wait_option
@timeout_option
@json_option
@with_client
def submit(
    client: SteveClient,
    workflow: str,
    files: tuple[Path, ...],
    metadata: tuple[str, ...],
    client_submission_id: str | None,
    webhook_url: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Upload FILES to a new session of a workflow and submit it.

    Prints the job view (with --wait, the final one). Exit status 1 when the job failed
    or expired.
    """
    data = [path.read_bytes() for path in files]
    try:
        session = client.create_session(
            workflow,
            content_types(files, data),
            metadata=parse_metadata(metadata),
            client_submission_id=client_submission_id,
            webhook_url=webhook_url,
        )
        with upload_progress(Console(stderr=True), files) as report:
            client.upload_files(session, data, on_progress=report)
        client.submit(workflow, session["sessionId"])
    except SteveError as error:
        raise name_files(error, files) from None
    session_id = session["sessionId"]
    job = wait_for_job(client, session_id, timeout) if wait else client.get_job(session_id)
    show(job, render.job_summary(job), as_json)
    exit_for(job)


@click.command()
@click.argument("session_id")
@wait_option
@timeout_option
@json_option
@with_client
def jobs(client: SteveClient, session_id: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Show the job of a session. Exit status 1 when it failed or expired."""
    job = wait_for_job(client, session_id, timeout) if wait else client.get_job(session_id)
    show(job, render.job_summary(job), as_json)
    exit_for(job)


# ---------------------------------------------------------------- submissions


@click.group()
def submissions() -> None:
    """List and review submissions."""


@submissions.command(name="list")
@click.option("--workflow", "-w", help="Only this workflow's.")
@click.option("--status", help="Only this submission status.")
@click.option("--fraud-status", help="Only this fraud status.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
@with_client
def submissions_list(
    client: SteveClient,
    workflow: str | None,
    status: str | None,
    fraud_status: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List the company's submissions, newest first."""
    listed = client.list_submissions(
        workflow=workflow, status=status, fraud_status=fraud_status, page_size=min(limit, 100)
    )
    items = list(itertools.islice(listed, limit))
    show({"data": items}, render.submissions_table(items), as_json)


@submissions.command(name="show")
@click.argument("submission_id")
@json_option
@with_client
def submissions_show(client: SteveClient, submission_id: str, as_json: bool) -> None:
    """Show a submission: files, result, fraud matches and events."""
    detail = client.get_submission(submission_id)
    show(detail, render.submission_detail(detail), as_json)


@submissions.command(name="approve")
@click.argument("submission_id")
@click.option("--note", help="A note for the record.")
@json_option
@with_client
def submissions_approve(
    client: SteveClient, submission_id: str, note: str | None, as_json: bool
) -> None:
    """Approve a submission in review."""
    detail = client.approve(submission_id, note=note)
    show(detail, render.submission_detail(detail), as_json)


@submissions.command(name="reject")
@click.argument("submission_id")
@click.option("--reason", required=True, help="Why (1..1000 characters).")
@json_option
@with_client
def submissions_reject(client: SteveClient, submission_id: str, reason: str, as_json: bool) -> None:
    """Reject a submission in review."""
    detail = client.reject(submission_id, reason)
    show(detail, render.submission_detail(detail), as_json)


@submissions.command(name="cancel")
@click.argument("submission_id")
@click.option("--reason", help="Why.")
@json_option
@with_client
def submissions_cancel(
    client: SteveClient, submission_id: str, reason: str | None, as_json: bool
) -> None:
    """Cancel a submission that is created, processing or in review."""
    detail = client.cancel(submission_id, reason=reason)
    show(detail, render.submission_detail(detail), as_json)
