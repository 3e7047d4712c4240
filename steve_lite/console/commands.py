"""``steve-lite reviewers`` and ``steve-lite corrections``: console accounts and the evaluation
set, from a terminal on the server (they open the database directly, like ``keys``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from steve_lite.companies import service as companies
from steve_lite.console import accounts
from steve_lite.console.export import export_corrections
from steve_lite.settings import Settings
from steve_lite.storage.s3 import StorageError
from steve_lite.storage.setup import StorageConfigError, storage_for

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def company_id(ctx: Any, slug: str) -> str:
    try:
        return companies.require_company(ctx.db, slug)["id"]
    except companies.CompanyError as exc:
        raise click.ClickException(str(exc)) from None


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.console_url}/link/{token}"


def print_link(settings: Settings, email: str, token: str, as_json: bool) -> None:
    url = link_url(settings, token)
    minutes = settings.console_link_ttl_seconds // 60
    if as_json:
        click.echo(json.dumps({"email": email, "signInUrl": url, "validMinutes": minutes}))
        return
    click.echo(f"sign-in link for {email} (works once, for {minutes} minutes):")
    click.echo(url)


@click.group()
def reviewers() -> None:
    """Manage review console accounts."""


@reviewers.command(name="add")
@click.argument("email")
@click.option("--company", "company_slug", required=True, help="Slug of the reviewer's company.")
@json_option
@click.pass_obj
def reviewers_add(ctx: Any, email: str, company_slug: str, as_json: bool) -> None:
    """Add a reviewer and print a one-time sign-in link to choose a password."""
    try:
        row = accounts.add_reviewer(ctx.db, company_id(ctx, company_slug), email)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    token = accounts.issue_link(ctx.db, row["id"], ctx.settings.console_link_ttl_seconds)
    print_link(ctx.settings, row["email"], token, as_json)


@reviewers.command(name="list")
@click.option("--company", "company_slug", help="Only reviewers of this company.")
@json_option
@click.pass_obj
def reviewers_list(ctx: Any, company_slug: str | None, as_json: bool) -> None:
    """List reviewers (never their passwords)."""
    rows = accounts.list_reviewers(ctx.db, company_id(ctx, company_slug) if company_slug else None)
    data = [
        {
            "id": r["id"],
            "email": r["email"],
            "company": r["company_slug"],
            "passwordSet": r["password_hash"] is not None,
            "disabled": r["disabled_at"] is not None,
            "createdAt": r["created_at"],
            "lastSeenAt": r["last_seen_at"],
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps({"data": data}, indent=2))
        return
    for r in data:
        state = "disabled" if r["disabled"] else ("active" if r["passwordSet"] else "invited")
        click.echo(f"{r['email']:<32} {r['company']:<20} {state:<9} {r['id']}")


@reviewers.command(name="disable")
@click.argument("email")
@click.pass_obj
def reviewers_disable(ctx: Any, email: str) -> None:
    """Disable a reviewer: no sign-in, and open console sessions end at once."""
    try:
        accounts.disable_reviewer(ctx.db, email)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"disabled reviewer {accounts.normalise_email(email)}")


@reviewers.command(name="reset")
@click.argument("email")
@json_option
@click.pass_obj
def reviewers_reset(ctx: Any, email: str, as_json: bool) -> None:
    """Clear the password, sign out everywhere, re-enable, and print a new sign-in link."""
    try:
        token = accounts.reset_reviewer(ctx.db, email, ctx.settings.console_link_ttl_seconds)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    print_link(ctx.settings, accounts.normalise_email(email), token, as_json)


@click.group()
def corrections() -> None:
    """Reviewed data."""


@corrections.command(name="export")
@click.option("--company", "company_slug", required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@json_option
@click.pass_obj
def corrections_export(ctx: Any, company_slug: str, out_dir: Path, as_json: bool) -> None:
    """Write the company's reviewed receipts as img/ + key/*.json (the receipts-dev layout), for
    ``bench/receipts.py --data DIR``."""
    try:
        storage = storage_for(ctx.settings)
    except StorageConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        summary = export_corrections(ctx.db, storage, company_id(ctx, company_slug), out_dir)
    except StorageError as exc:
        raise click.ClickException(f"object storage failed ({exc}); is the server up?") from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "out": str(out_dir),
                    "written": summary.written,
                    "skippedSeveralFiles": summary.several_files,
                }
            )
        )
        return
    click.echo(f"wrote {len(summary.written)} receipt(s) to {out_dir}")
    if summary.several_files:
        click.echo(f"left out {len(summary.several_files)} receipt(s) of several files")
