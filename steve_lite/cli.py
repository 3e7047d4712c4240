"""The ``steve-lite`` command."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from steve_lite import db as database
from steve_lite import metrics
from steve_lite.backup import BackupSummary, backup, restore
from steve_lite.bootstrap import create_demo_company, prepare_database
from steve_lite.companies import service as companies
from steve_lite.db import Database
from steve_lite.errors import ConfigurationError, NotFound, SteveLiteError
from steve_lite.log import configure_logging
from steve_lite.private_files import fix_data_dir, restrict_new_files
from steve_lite.security import api_keys
from steve_lite.settings import Settings
from steve_lite.storage.setup import storage_for
from steve_lite.workflows import service as workflows
from steve_lite.workflows.files import load_definition

logger = logging.getLogger("steve_lite.cli")


def emit_json(data: Any) -> None:
    """Print exactly one JSON object on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def open_db(settings: Settings) -> Database:
    """Open and migrate the database."""
    db = database.open_database(settings)
    prepare_database(db)
    return db


def error_message(error: SteveLiteError) -> str:
    """What the command line says about ``error``: its detail, then one line per field."""
    lines = [error.detail]
    lines += [f"  {item.field}: {item.message}" for item in error.errors]
    return "\n".join(lines)


class SteveLiteGroup(click.Group):
    """The ``steve-lite`` group: any error of the tree, from any command, ends the command with
    its message on stderr and exit status 1 (usage errors keep click's status 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SteveLiteError as error:
            raise click.ClickException(error_message(error)) from None


class Context:
    """What every command gets: the settings, and the database opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Database | None = None

    def private_data_dir(self) -> None:
        """Create the data directory (0700: the umask is set), or make an existing one private
        (older versions left it readable by every user)."""
        database.ensure_data_dir(self.settings.data_dir)
        fix_data_dir(self.settings.data_dir)

    @property
    def db(self) -> Database:
        if self._db is None:
            self.private_data_dir()
            self._db = open_db(self.settings)
        return self._db


pass_context = click.make_pass_decorator(Context)


def _company_id(ctx: Context, slug: str) -> str:
    return str(companies.require_company(ctx.db, slug)["id"])


def print_rows(
    data: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]
) -> None:
    """``{"data": [...]}`` with ``--json``, else one line per row."""
    if as_json:
        emit_json({"data": data})
        return
    for row in data:
        click.echo(line(row))


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


@click.group(cls=SteveLiteGroup)
@click.version_option(package_name="steve-lite")
@click.pass_context
def main(ctx: click.Context) -> None:
    """steve-lite: self-hosted document processing API."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"STEVE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    configure_logging(settings.log_level, settings.log_format)
    restrict_new_files()
    ctx.obj = Context(settings)


# ---------------------------------------------------------------- running


@main.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Apply database migrations."""
    ctx.private_data_dir()
    db = database.open_database(ctx.settings)
    applied = database.migrate(db)
    workflows.install_system_workflows(db)
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@main.command()
@pass_context
def serve(ctx: Context) -> None:
    """Serve the API only (no worker, no embedded S3 server)."""
    from steve_lite.runner import serve_api

    ctx.db  # noqa: B018 - open and migrate before serving
    serve_api(ctx.settings, storage_for(ctx.settings))


@main.command()
@pass_context
def worker(ctx: Context) -> None:
    """Run the background worker (processing, webhooks, sweeps)."""
    from steve_lite.runner import run_worker, warn_if_private_webhooks

    ctx.db  # noqa: B018 - open and migrate before working
    metrics.record_to_directory(metrics.worker_metrics_dir(ctx.settings))
    warn_if_private_webhooks(ctx.settings)
    try:
        run_worker(ctx.settings, storage_for(ctx.settings))
    except KeyboardInterrupt:  # SIGINT before the consumer installed its own handler
        logger.info("worker stopped before it started")


@main.command()
@pass_context
def s3(ctx: Context) -> None:
    """Run only the embedded S3 server (SeaweedFS) for this data directory."""
    from steve_lite.runner import run_embedded_s3

    if not ctx.settings.embedded_s3:
        raise ConfigurationError("STEVE_S3_ENDPOINT is set: there is no embedded server to run")
    ctx.private_data_dir()
    run_embedded_s3(ctx.settings)


@main.command()
@pass_context
def up(ctx: Context) -> None:
    """Everything on one machine: migrations, storage, worker and API."""
    from steve_lite.runner import run_all

    demo = create_demo_company(ctx.db)
    if demo is not None:
        click.echo(
            "\nCreated company 'demo' with every system workflow.\n"
            f"Its API key (shown once, store it now): {demo.plaintext}\n",
            err=False,
        )
    run_all(ctx.settings)


@main.command(name="backup")
@click.argument("destination", type=click.Path(path_type=Path))
@click.option(
    "--objects/--no-objects",
    default=None,
    help="Copy the uploaded files too (default: only from the embedded S3 server).",
)
@json_option
@pass_context
def backup_command(ctx: Context, destination: Path, objects: bool | None, as_json: bool) -> None:
    """Back up the databases and uploaded files into DESTINATION (new or empty), while the
    service runs."""
    summary = backup(ctx.settings, destination, objects=objects)
    report_backup("backed up", summary, as_json)


@main.command(name="restore")
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
@json_option
@pass_context
def restore_command(ctx: Context, source: Path, as_json: bool) -> None:
    """Restore the backup in SOURCE into the (empty) data directory, and its files into the
    configured object storage."""
    summary = restore(ctx.settings, source)
    report_backup("restored", summary, as_json)


def report_backup(done: str, summary: BackupSummary, as_json: bool) -> None:
    data = {
        "path": str(summary.path),
        "sessions": summary.sessions,
        "objects": summary.objects,
        "objectBytes": summary.object_bytes,
    }
    if as_json:
        emit_json(data)
    else:
        click.echo(
            f"{done} {summary.sessions} session(s) and {summary.objects} object(s) "
            f"({summary.object_bytes} bytes): {summary.path}"
        )


# ---------------------------------------------------------------- companies


@main.group(name="companies")
def companies_group() -> None:
    """Manage companies."""


@companies_group.command(name="create")
@click.argument("name")
@click.option("--slug", help="URL-safe identifier (default: made from NAME).")
@json_option
@pass_context
def companies_create(ctx: Context, name: str, slug: str | None, as_json: bool) -> None:
    """Create a company."""
    company = companies.create_company(ctx.db, name, slug)
    data = {
        "id": company["id"],
        "name": company["name"],
        "slug": company["slug"],
        "createdAt": company["created_at"],
    }
    if as_json:
        emit_json(data)
    else:
        click.echo(f"created company {company['slug']} ({company['id']})")


@companies_group.command(name="list")
@click.option("--all", "include_inactive", is_flag=True, help="Include deactivated companies.")
@json_option
@pass_context
def companies_list(ctx: Context, include_inactive: bool, as_json: bool) -> None:
    """List companies."""
    rows = companies.list_companies(ctx.db, active_only=not include_inactive)
    data = [
        {
            "id": r["id"],
            "name": r["name"],
            "slug": r["slug"],
            "active": bool(r["active"]),
            "createdAt": r["created_at"],
        }
        for r in rows
    ]
    print_rows(
        data,
        as_json,
        lambda r: f"{r['slug']:<24} {r['id']}  {r['name']}" + ("" if r["active"] else " (off)"),
    )


@companies_group.command(name="deactivate")
@click.argument("slug")
@pass_context
def companies_deactivate(ctx: Context, slug: str) -> None:
    """Deactivate a company: its keys stop working."""
    companies.deactivate_company(ctx.db, slug)
    click.echo(f"deactivated company {slug}")


# ---------------------------------------------------------------- keys


@main.group(name="keys")
def keys_group() -> None:
    """Manage API keys."""


@keys_group.command(name="create")
@click.option("--company", "company_slug", help="Slug of the company the key belongs to.")
@click.option("--legacy", is_flag=True, help="A legacy key that belongs to no company.")
@click.option("--name", help="A name to recognise the key by.")
@json_option
@pass_context
def keys_create(
    ctx: Context, company_slug: str | None, legacy: bool, name: str | None, as_json: bool
) -> None:
    """Create a key and print it once."""
    if legacy == bool(company_slug):
        raise click.UsageError("give exactly one of --company SLUG or --legacy")
    company_id = _company_id(ctx, company_slug) if company_slug else None
    row, plaintext = api_keys.create_key(ctx.db, company_id=company_id, name=name)
    if as_json:
        emit_json({"id": row["id"], "key": plaintext, "company": company_slug})
    else:
        click.echo(f"created key {row['id']} for {company_slug or 'no company (legacy)'}")
        click.echo(f"key (shown once): {plaintext}")


@keys_group.command(name="list")
@click.option("--company", "company_slug", help="Only keys of this company.")
@json_option
@pass_context
def keys_list(ctx: Context, company_slug: str | None, as_json: bool) -> None:
    """List keys (never their plaintext)."""
    company_id = _company_id(ctx, company_slug) if company_slug else None
    rows = api_keys.list_keys(ctx.db, company_id=company_id)
    data = [
        {
            "id": r["id"],
            "prefix": r["prefix"],
            "name": r["name"],
            "company": r["company"],
            "createdAt": r["created_at"],
            "revokedAt": r["revoked_at"],
            "lastUsedAt": r["last_used_at"],
        }
        for r in rows
    ]
    print_rows(
        data,
        as_json,
        lambda r: (
            f"{r['id']}  {r['prefix']}...  {r['company'] or '(legacy)':<20} "
            + ("revoked" if r["revokedAt"] else "active")
        ),
    )


@keys_group.command(name="revoke")
@click.argument("key_id")
@pass_context
def keys_revoke(ctx: Context, key_id: str) -> None:
    """Revoke a key."""
    if not api_keys.revoke_key(ctx.db, key_id):
        raise NotFound(f"no active key {key_id!r}")
    click.echo(f"revoked key {key_id}")


# ---------------------------------------------------------------- workflows


@main.group(name="workflows")
def workflows_group() -> None:
    """Manage workflows."""


@workflows_group.command(name="list")
@json_option
@pass_context
def workflows_list(ctx: Context, as_json: bool) -> None:
    """List workflows and the companies they are assigned to."""
    rows = workflows.list_workflows(ctx.db)
    data = [
        {
            "id": r["id"],
            "slug": r["slug"],
            "name": r["name"],
            "system": bool(r["is_system"]),
            "publishedVersion": r["published_version"],
            "companies": sorted((r["companies"] or "").split(",")) if r["companies"] else [],
        }
        for r in rows
    ]
    print_rows(
        data,
        as_json,
        lambda r: (
            f"{r['slug']:<20} v{r['publishedVersion']}  {r['name']}  "
            f"[{', '.join(r['companies']) or 'unassigned'}]"
        ),
    )


@workflows_group.command(name="assign")
@click.argument("slug")
@click.option("--company", "company_slug", required=True)
@pass_context
def workflows_assign(ctx: Context, slug: str, company_slug: str) -> None:
    """Let a company use a workflow."""
    workflows.assign(ctx.db, slug, _company_id(ctx, company_slug))
    click.echo(f"assigned {slug} to {company_slug}")


@workflows_group.command(name="unassign")
@click.argument("slug")
@click.option("--company", "company_slug", required=True)
@pass_context
def workflows_unassign(ctx: Context, slug: str, company_slug: str) -> None:
    """Withdraw a workflow from a company."""
    removed = workflows.unassign(ctx.db, slug, _company_id(ctx, company_slug))
    click.echo(f"unassigned {slug} from {company_slug}" if removed else f"{slug} was not assigned")


@workflows_group.command(name="publish")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_context
def workflows_publish(ctx: Context, file: Path, as_json: bool) -> None:
    """Publish the next immutable version of a workflow from a TOML or JSON FILE."""
    definition = load_definition(file)
    published = workflows.publish(ctx.db, definition)
    if as_json:
        emit_json(published)
    else:
        click.echo(f"published {published['slug']} version {published['version']}")


# ---------------------------------------------------------------- reviewers and corrections

from steve_lite.console.commands import corrections, reviewers  # noqa: E402

main.add_command(reviewers)
main.add_command(corrections)

# ---------------------------------------------------------------- API client commands

from steve_lite.remote.commands import jobs, submissions, submit  # noqa: E402

main.add_command(submit)
main.add_command(jobs)
main.add_command(submissions)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
