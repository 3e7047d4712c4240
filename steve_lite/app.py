"""``create_app(services)``: the web application, its routes, middleware and OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from steve_lite import __version__
from steve_lite.companies.routes import ROUTES as COMPANY_ROUTES
from steve_lite.console.routes import TEMPLATES as CONSOLE_TEMPLATES
from steve_lite.console.routes import console_router
from steve_lite.health import ROUTES as HEALTH_ROUTES
from steve_lite.http import reference
from steve_lite.http.bodies import ApiRequest, RequestBodies
from steve_lite.http.cors import limit_cors_to_api
from steve_lite.http.observe import observe_requests
from steve_lite.http.openapi import JsonWithExamples, SwaggerWithExamples
from steve_lite.http.problems import EXCEPTION_HANDLERS
from steve_lite.http.request_id import add_response_headers
from steve_lite.jobs.routes import ROUTES as JOB_ROUTES
from steve_lite.security.auth import ApiKeyMiddleware
from steve_lite.services import ApiServices
from steve_lite.sessions.routes import ROUTES as SESSION_ROUTES
from steve_lite.submissions.routes import ROUTES as SUBMISSION_ROUTES
from steve_lite.webhooks.routes import ROUTES as WEBHOOK_ROUTES
from steve_lite.workflows.routes import ROUTES as WORKFLOW_ROUTES

STATIC_DIR = Path(__file__).parent / "static"
API_DESCRIPTION = (
    "Self-hosted, wire-compatible Steve external integration API. List your workflows, open "
    "an upload session, PUT each file to its presigned URL, submit, then poll the job or "
    "receive a signed webhook. Every `/api/v1` route needs `Authorization: Bearer aok_...`; "
    "errors are RFC 9457 problem documents (`application/problem+json`) carrying the "
    "`requestId` that every response also sends as `Request-Id`."
)
SWAGGER = "/docs/static/swagger-ui"


def api_router() -> Router:
    """Every ``/api/v1`` route, behind key authentication and rate limits."""
    return Router(
        path="/api/v1",
        route_handlers=[
            *COMPANY_ROUTES,
            *WORKFLOW_ROUTES,
            *SESSION_ROUTES,
            *JOB_ROUTES,
            *SUBMISSION_ROUTES,
            *WEBHOOK_ROUTES,
        ],
        middleware=[ApiKeyMiddleware()],
        security=[{"apiKey": []}],
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="steve-lite",
        version=__version__,
        description=API_DESCRIPTION,
        tags=reference.TAGS,
        path="/docs",
        render_plugins=[
            SwaggerWithExamples(
                path="/",
                favicon="",
                js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                css_url=f"{SWAGGER}/swagger-ui.css",
                standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
            ),
            JsonWithExamples(),
        ],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", bearer_format="aok_<64 hex>")
            }
        ),
        use_handler_docstrings=True,
    )


def create_app(services: ApiServices) -> Litestar:
    """The web application on ``services`` (built by :func:`steve_lite.wiring.build_api`).

    Routes and middleware reach the services through ``app.state``: each field of the
    container by its name, and the whole container as ``services``.
    """
    app = Litestar(
        route_handlers=[
            api_router(),
            console_router(),
            *HEALTH_ROUTES,
            create_static_files_router(
                path="/docs/static", directories=[STATIC_DIR], include_in_schema=False
            ),
        ],
        before_send=[add_response_headers],
        request_class=ApiRequest,
        plugins=[RequestBodies()],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        cors_config=CORSConfig(allow_origins=["*"], allow_headers=["*"], expose_headers=["*"]),
        openapi_config=openapi_config(),
        template_config=TemplateConfig(directory=CONSOLE_TEMPLATES, engine=JinjaTemplateEngine),
        request_max_body_size=services.settings.max_body_bytes,
        state=State({**vars(services), "services": services}),
        logging_config=None,
    )
    limit_cors_to_api(app)
    observe_requests(app)
    return app
