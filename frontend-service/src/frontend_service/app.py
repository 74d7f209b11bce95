"""The frontend service's application: server-rendered pages at ``/`` (see DESIGN §3),
the voting booth, the admin console and the static files (CSS, page scripts, the browser
crypto bundle). Every response carries the security headers of
:mod:`frontend_service.security`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from frontend_service.account import router as account_router
from frontend_service.admin import LoginRequired
from frontend_service.admin import router as admin_router
from frontend_service.errors import PageError
from frontend_service.pages import router as pages_router
from frontend_service.rendering import STATIC, render
from frontend_service.security import SecurityHeadersMiddleware
from frontend_service.sessions import clear
from frontend_service.trustee import router as trustee_router
from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app

NAME = "frontend"
PREFIX = ""


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    return render(
        request,
        "error.html",
        {"title": error.title, "heading": error.title, "message": error.message},
        status=error.status,
    )


async def _login_required(request: Request, error: Exception) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    clear(response, request.app.state.settings)
    return response


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings,
        database=database,
        routers=[pages_router, admin_router, account_router, trustee_router],
        title="secure-vote frontend",
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    return app
