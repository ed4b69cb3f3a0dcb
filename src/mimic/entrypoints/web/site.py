"""The web app's parts for `create_app`: pages, templates, local assets and the docs UI."""

from pathlib import Path
from typing import Any

from dishka.integrations.litestar import DishkaRouter
from litestar import Request, Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from mimic.entrypoints.web.account_pages import AccountPages, LeaderboardPage
from mimic.entrypoints.web.admin_pages import AdminPages
from mimic.entrypoints.web.formatting import FILTERS
from mimic.entrypoints.web.history import OrderHistoryPages, TradeHistoryPages
from mimic.entrypoints.web.pages import PUBLIC, FollowerPages, MessagePages, PublicPages

HERE = Path(__file__).parent
STATIC = "/static"
VENDOR = f"{STATIC}/vendor"


def _configure(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(FILTERS)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 with autoescaping on: every user-supplied text is escaped where it is shown."""
    return TemplateConfig(
        directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_configure
    )


def _sign_in_first(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return Redirect("/login")


def _not_for_you(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Template(template_name="denied.html", status_code=403)


def web_routers() -> list[Router]:
    """Pages send a browser without a session to sign in instead of answering 401 JSON."""
    pages = DishkaRouter(
        "",
        route_handlers=[
            PublicPages,
            LeaderboardPage,
            FollowerPages,
            OrderHistoryPages,
            TradeHistoryPages,
            AccountPages,
            MessagePages,
            AdminPages,
        ],
        exception_handlers={
            NotAuthorizedException: _sign_in_first,
            PermissionDeniedException: _not_for_you,
        },
        include_in_schema=False,
    )
    assets = create_static_files_router(
        path=STATIC,
        directories=[HERE / "static"],
        opt=PUBLIC,
        cache_control=CacheControlHeader(max_age=3600),
        include_in_schema=False,
    )
    return [pages, assets]


def docs_ui() -> SwaggerRenderPlugin:
    """The OpenAPI docs at /schema, with Swagger UI's files served from here (no CDN)."""
    return SwaggerRenderPlugin(
        js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
        standalone_preset_js_url=f"{VENDOR}/swagger-ui/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/svg+xml' href='{STATIC}/favicon.svg'>",
        path="/swagger",
    )
