"""The review console under ``/console``: server-rendered pages for a company's reviewers.

Routes only translate HTTP: forms in, templates and redirects out. Sign-in rules are in
:mod:`steve_lite.console.accounts` and :mod:`steve_lite.console.logins`, page contents in
:mod:`steve_lite.console.service`, review rules in :mod:`steve_lite.submissions.service`.
Every request but the sign-in pages needs a console session cookie; API keys are never read.
"""

from __future__ import annotations

import secrets
import time
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from anyio import to_thread
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from steve_lite.console import accounts, logins
from steve_lite.console import service as console
from steve_lite.db import Database
from steve_lite.errors import Conflict, FieldError, Invalid, SteveLiteError
from steve_lite.http.errors import Forbidden
from steve_lite.http.problems import problem_for
from steve_lite.submissions import service as submissions
from steve_lite.webhooks.outbox import dispatch

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "steve_console"
FORM_COOKIE = "steve_console_form"
PUBLIC = {"public": True}
WRONG_CREDENTIALS = "The email address or the password is wrong."
TOO_MANY = "Too many sign-in attempts. Wait a few minutes and try again."
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


# ---------------------------------------------------------------- helpers


def cookie(request: Request[Any, Any, Any], name: str, value: str, max_age: int) -> Cookie:
    """HttpOnly, SameSite=Strict, Secure over HTTPS, scoped to ``/console``."""
    return Cookie(
        key=name,
        value=value,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )


def login_of(request: Request[Any, Any, Any]) -> logins.Login:
    return cast(logins.Login, request.scope.get("console_login"))


def db_of(request: Request[Any, Any, Any]) -> Database:
    db: Database = request.app.state.db
    return db


def render(
    request: Request[Any, Any, Any], template: str, status: int = 200, **context: Any
) -> Template:
    """A page; signed-in pages get the reviewer, the CSRF token and the count waiting."""
    login = cast("logins.Login | None", request.scope.get("console_login"))
    if login is not None:
        context["login"] = login
        context["csrf"] = login.csrf_token
        context["waiting"] = console.waiting_count(db_of(request), login.reviewer.company_id)
    return Template(template, context=context, status_code=status)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if value and (value == "/console" or value.startswith("/console/")):
        return value
    return "/console/"


async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


async def signed_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form of a signed-in page, after checking its CSRF token (403 otherwise)."""
    form = await form_of(request)
    if not logins.csrf_matches(login_of(request).csrf_token, form.get("csrf_token")):
        raise Forbidden("the form's security token is missing or wrong; reload the page")
    return form


async def public_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form of a sign-in page: its token must equal the form cookie's."""
    form = await form_of(request)
    expected = request.cookies.get(FORM_COOKIE)
    if not expected or not logins.csrf_matches(expected, form.get("csrf_token")):
        raise Forbidden("the form's security token is missing or wrong; reload the page")
    return form


def public_page(
    request: Request[Any, Any, Any], template: str, status: int = 200, **context: Any
) -> Template:
    """A sign-in page with a fresh form token in its form and in the form cookie."""
    token = secrets.token_urlsafe(32)
    response = render(request, template, status, csrf=token, **context)
    response.cookies.append(cookie(request, FORM_COOKIE, token, 3600))
    return response


def signed_in(request: Request[Any, Any, Any], reviewer_id: str, target: str) -> Redirect:
    """Start a console session and go to ``target`` with its cookie."""
    settings = request.app.state.settings
    token, _ = logins.start_session(
        db_of(request), reviewer_id, settings.console_absolute_timeout_seconds
    )
    response = Redirect(target, status_code=303)
    response.cookies.append(
        cookie(request, SESSION_COOKIE, token, settings.console_absolute_timeout_seconds)
    )
    response.cookies.append(cookie(request, FORM_COOKIE, "", 0))
    return response


# ---------------------------------------------------------------- hooks


async def require_login(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Every page but the sign-in ones needs an open console session; without one, go to the
    sign-in page (and come back here after)."""
    if request.route_handler.opt.get("public"):
        return None
    settings = request.app.state.settings
    token = request.cookies.get(SESSION_COOKIE)
    login = (
        logins.find_session(db_of(request), token, settings.console_idle_timeout_seconds)
        if token
        else None
    )
    if login is None:
        target = "/console/"
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = Redirect(f"/console/sign-in?next={quote(target, safe='/')}", status_code=303)
        if token:
            response.cookies.append(cookie(request, SESSION_COOKIE, "", 0))
        return response
    request.scope["console_login"] = login  # type: ignore[typeddict-unknown-key]
    if login.needs_touch:
        request.app.state.writes.add(partial(logins.touch_session, token_hash=login.token_hash))
    return None


def add_headers(response: Response[Any]) -> Response[Any]:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def error_page(request: Request[Any, Any, Any], exc: SteveLiteError) -> Response[Any]:
    """Errors of console pages as a page, with the same status the API would answer."""
    problem = problem_for(exc)
    return render(request, "error.html", problem.status, title=problem.title, detail=exc.detail)


# ---------------------------------------------------------------- sign-in


@get("/sign-in", opt=PUBLIC)
async def sign_in_page(request: Request[Any, Any, Any]) -> Template:
    """The sign-in form."""
    return public_page(request, "sign_in.html", next=safe_next(request.query_params.get("next")))


@post("/sign-in", opt=PUBLIC)
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    """Check the password; an unknown account and a wrong password get the same answer."""
    form = await public_form(request)
    email, password = form.get("email", ""), form.get("password", "")
    target = safe_next(form.get("next"))
    settings = request.app.state.settings
    now = time.time()
    allowed = await request.app.state.writes.run(
        partial(
            logins.sign_in_allowed,
            email=email,
            address=request.client.host if request.client else "unknown",
            account_limit=settings.console_sign_in_limit_account,
            address_limit=settings.console_sign_in_limit_address,
            window=settings.console_sign_in_window_seconds,
            now=now,
        )
    )
    if not allowed:
        page = public_page(request, "sign_in.html", 429, error=TOO_MANY, email=email, next=target)
        window = settings.console_sign_in_window_seconds
        page.headers["Retry-After"] = str(max(1, int(window - now % window)))
        return page
    candidate = accounts.sign_in_candidate(db_of(request), email)
    stored = candidate["password_hash"] if candidate else None
    if not await to_thread.run_sync(accounts.verify_password, stored, password):
        return public_page(
            request, "sign_in.html", 401, error=WRONG_CREDENTIALS, email=email, next=target
        )
    assert candidate is not None
    return signed_in(request, candidate["id"], target)


@get("/link/{token:str}", opt=PUBLIC)
async def link_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    """The one-time link: choose a password."""
    reviewer = accounts.link_reviewer(db_of(request), token)
    if reviewer is None:
        return render(request, "link_expired.html", 410)
    return public_page(request, "set_password.html", token=token, email=reviewer["email"])


@post("/link", opt=PUBLIC)
async def use_link(request: Request[Any, Any, Any]) -> Response[Any]:
    """Set the password, spend the link and sign in."""
    form = await public_form(request)
    token = form.get("token", "")
    reviewer = accounts.link_reviewer(db_of(request), token)
    if reviewer is None:
        return render(request, "link_expired.html", 410)
    problem = accounts.password_problem(form.get("password", ""), form.get("confirm", ""))
    if problem:
        return public_page(
            request, "set_password.html", 422, token=token, email=reviewer["email"], error=problem
        )
    password_hash = await to_thread.run_sync(accounts.hash_password, form["password"])
    used = await request.app.state.writes.run(
        partial(accounts.use_link, token=token, password_hash=password_hash)
    )
    if used is None:
        return render(request, "link_expired.html", 410)
    return signed_in(request, used.id, "/console/")


@post("/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """End this console session."""
    await signed_form(request)
    await request.app.state.writes.run(
        partial(logins.end_session, token_hash=login_of(request).token_hash)
    )
    response = Redirect("/console/sign-in", status_code=303)
    response.cookies.append(cookie(request, SESSION_COOKIE, "", 0))
    return response


# ---------------------------------------------------------------- pages


@get("/")
async def queue_page(request: Request[Any, Any, Any]) -> Template:
    """The queue: submissions in review first, with filters, order and pages."""
    filters = console.QueueFilters.parse(dict(request.query_params))
    data = console.queue(db_of(request), login_of(request).reviewer.company_id, filters)
    return render(request, "queue.html", filters=filters, **data)


@get("/submissions/{submission_id:str}")
async def submission_page(
    request: Request[Any, Any, Any], submission_id: FromPath[str]
) -> Template:
    """One submission: images with boxes, the fields form, fraud matches and history."""
    return submission_view(request, submission_id)


def submission_view(
    request: Request[Any, Any, Any],
    submission_id: str,
    *,
    status: int = 200,
    errors: list[FieldError] | None = None,
    entered: dict[str, str] | None = None,
    message: str | None = None,
) -> Template:
    company_id = login_of(request).reviewer.company_id
    page = console.submission_page(db_of(request), company_id, submission_id)
    if entered:
        for field in page["fields"]:
            field["value"] = entered.get(f"field.{field['name']}", field["value"])
    return render(
        request,
        "submission.html",
        status,
        submission=page,
        errors={e.field.removeprefix("extractedData."): e.message for e in errors or []},
        message=message or request.query_params.get("done"),
        next_id=console.next_in_review(db_of(request), company_id, submission_id),
    )


@get("/submissions/{submission_id:str}/files/{file_index:int}")
async def file_image(
    request: Request[Any, Any, Any], submission_id: FromPath[str], file_index: FromPath[int]
) -> Response[bytes]:
    """A file's bytes, served only as the image type sniffed from them."""
    key = console.file_object_key(
        db_of(request), login_of(request).reviewer.company_id, submission_id, file_index
    )
    data, media_type = await to_thread.run_sync(
        console.download_image, request.app.state.storage, key
    )
    if media_type is None:
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": "attachment", "Cache-Control": "private, no-store"},
        )
    return Response(
        data,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": "inline"},
    )


# ---------------------------------------------------------------- actions


async def review(request: Request[Any, Any, Any], submission_id: str, action: str | None) -> Any:
    form = await signed_form(request)
    reviewer = login_of(request).reviewer
    reason = form.get("reason", "").strip()[:1000] or None
    note = form.get("note", "").strip()[:1000] or None
    if action == "reject" and not reason:
        return submission_view(
            request,
            submission_id,
            status=422,
            entered=form,
            errors=[FieldError("reason", "a reason is required to reject")],
        )
    try:
        changes = console.changes_from_form(
            db_of(request), reviewer.company_id, submission_id, form
        )
        event_id = await request.app.state.writes.run(
            partial(
                submissions.review_with_corrections,
                company_id=reviewer.company_id,
                submission_id=submission_id,
                changes=changes,
                action=action,
                actor=reviewer.id,
                reason=reason,
                note=note,
            )
        )
    except Invalid as exc:
        return submission_view(
            request, submission_id, status=422, errors=exc.errors, entered=form, message=exc.detail
        )
    except Conflict as exc:
        return submission_view(request, submission_id, status=409, message=exc.detail)
    dispatch(request.app.state.queue, event_id)
    if action is None:
        return Redirect(f"/console/submissions/{submission_id}?done=saved", status_code=303)
    following = console.next_in_review(db_of(request), reviewer.company_id, submission_id)
    done = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}[action]
    target = f"/console/submissions/{following}" if following else "/console/"
    return Redirect(f"{target}?done={done}", status_code=303)


@post("/submissions/{submission_id:str}/corrections")
async def save_corrections(request: Request[Any, Any, Any], submission_id: FromPath[str]) -> Any:
    """Save the changed fields as corrections."""
    return await review(request, submission_id, None)


@post("/submissions/{submission_id:str}/approve")
async def approve(request: Request[Any, Any, Any], submission_id: FromPath[str]) -> Any:
    """Save the changed fields and approve; then the next submission waiting."""
    return await review(request, submission_id, "approve")


@post("/submissions/{submission_id:str}/reject")
async def reject(request: Request[Any, Any, Any], submission_id: FromPath[str]) -> Any:
    """Save the changed fields and reject with the reason."""
    return await review(request, submission_id, "reject")


@post("/submissions/{submission_id:str}/cancel")
async def cancel(request: Request[Any, Any, Any], submission_id: FromPath[str]) -> Any:
    """Cancel (from created, processing or review)."""
    return await review(request, submission_id, "cancel")


@post("/submissions/{submission_id:str}/fraud-matches/{match_id:str}/resolve")
async def resolve(
    request: Request[Any, Any, Any], submission_id: FromPath[str], match_id: FromPath[str]
) -> Any:
    """Resolve a fraud match as a false positive or as confirmed fraud."""
    form = await signed_form(request)
    reviewer = login_of(request).reviewer
    resolution = form.get("resolution")
    if resolution not in ("false_positive", "confirmed_fraud"):
        return submission_view(
            request,
            submission_id,
            status=422,
            errors=[FieldError("resolution", "must be false_positive or confirmed_fraud")],
        )
    try:
        _, event_id = await request.app.state.writes.run(
            partial(
                submissions.resolve_fraud_match,
                company_id=reviewer.company_id,
                submission_id=submission_id,
                match_id=match_id,
                resolution=resolution,
                note=form.get("note", "").strip()[:1000] or None,
                actor=reviewer.id,
            )
        )
    except Conflict as exc:
        return submission_view(request, submission_id, status=409, message=exc.detail)
    dispatch(request.app.state.queue, event_id)
    return Redirect(f"/console/submissions/{submission_id}?done=resolved", status_code=303)


def console_router() -> Router:
    """``/console``: the pages, their static files, the session check and the error pages."""
    return Router(
        path="/console",
        route_handlers=[
            sign_in_page,
            sign_in,
            link_page,
            use_link,
            sign_out,
            queue_page,
            submission_page,
            file_image,
            save_corrections,
            approve,
            reject,
            cancel,
            resolve,
            create_static_files_router(
                path="/static", directories=[STATIC], opt=PUBLIC, include_in_schema=False
            ),
        ],
        before_request=require_login,
        after_request=add_headers,
        exception_handlers={SteveLiteError: error_page},
        include_in_schema=False,
    )
