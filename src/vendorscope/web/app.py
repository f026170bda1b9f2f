"""The FastAPI application: dashboard pages, the REST API and who may use them.

``create_app(db)`` opens the inventory for the life of the app. Pages use a
session cookie (HttpOnly, SameSite=Strict, Secure over TLS) and a CSRF token
in every form; the API uses ``Authorization: Bearer`` tokens. Anonymous
requests get 401, except the login page and the static files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from vendorscope import __version__
from vendorscope.store.accounts import Accounts, Principal, Role
from vendorscope.web.data import WebData
from vendorscope.web.jobs import JobRunner, ProbeSetup
from vendorscope.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    LoginLimiter,
    SecurityHeaders,
    same_secret,
)

HERE = Path(__file__).resolve().parent
TOKEN_CACHE_S = 1.0
log = logging.getLogger("vendorscope.web")


@dataclass
class WebState:
    db: str
    data: WebData
    accounts: Accounts
    jobs: JobRunner
    limiter: LoginLimiter
    templates: Jinja2Templates
    probes: ProbeSetup | None = None


class Unauthorised(Exception):
    """No one is logged in: 401 (a login page for browsers, JSON for the API)."""


class Forbidden(Exception):
    def __init__(self, needed: Role) -> None:
        super().__init__(f"this needs the {needed.value} role")
        self.needed = needed


def state(request: Request) -> WebState:
    found: WebState = request.app.state.web
    return found


def principal_of(request: Request) -> Principal | None:
    """Who is asking: a bearer token, else a session cookie; None if neither is valid."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    accounts = state(request).accounts
    found: Principal | None = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = _token_cache(request).get(header[7:].strip(), accounts.token_principal)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        found = accounts.session_principal(cookie)
    request.state.principal = found
    return found


class TokenCache:
    """Bearer tokens recently found valid, for ``TOKEN_CACHE_S``: a busy API client costs one lookup a
    second, not one per request. A revocation takes effect within that time."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._found: dict[str, tuple[float, Principal]] = {}

    def get(self, secret: str, lookup: Callable[[str], Principal | None]) -> Principal | None:
        now = self.clock()
        known = self._found.get(secret)
        if known is not None and now - known[0] < self.ttl_s:
            return known[1]
        found = lookup(secret)
        if found is None:
            self._found.pop(secret, None)
        else:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[secret] = (now, found)
        return found


def _token_cache(request: Request) -> TokenCache:
    cache: TokenCache = request.app.state.token_cache
    return cache


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the principal, if it has at least ``role``.

    Async on purpose: one indexed lookup is cheaper in the event loop than a hop to a worker thread.
    """

    async def dependency(request: Request) -> Principal:
        who = principal_of(request)
        if who is None:
            raise Unauthorised()
        if not who.role.allows(role):
            raise Forbidden(role)
        return who

    return dependency


def check_csrf(request: Request, who: Principal, form: Any | None = None) -> None:
    """A state-changing request from a session must carry the session's CSRF token."""
    if who.kind != "session":
        return
    given = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form is not None else None)
    if not same_secret(str(given) if given is not None else None, who.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _public(path: str) -> bool:
    return path in ("/login", "/logout") or path.startswith("/static/")


def create_app(db: str, *, packs: Sequence[Any] | None = None, mode: str = "statutory",
               audiences: Sequence[str] | None = None, as_of: date | None = None,
               probes: ProbeSetup | None = None, lease_s: float | None = None) -> FastAPI:
    """The web app over the inventory ``db`` (a SQLite path or a database URL).

    With ``probes``, analysts may start probe rounds of that scope (`serve --scope`). ``lease_s``: how long
    this server's lease outlives its last heartbeat (default ``jobs.LEASE_S``; tests shorten it).
    """
    from vendorscope.judge.packs import load_packs
    from vendorscope.store.inventory import open_inventory

    stack = ExitStack()
    # Not created here: a mistyped path must be an error, not an empty dashboard.
    inventory = stack.enter_context(open_inventory(db, create=False))
    chosen = list(packs) if packs is not None else load_packs()
    data = WebData(inventory, chosen, mode=mode, audiences=audiences)
    accounts = Accounts(inventory.engine)
    jobs = JobRunner(accounts, db, on_stored=data.invalidate, lease_s=lease_s)
    stack.callback(jobs.close)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(version=__version__, Role=Role)
    from vendorscope.web import views

    templates.env.filters.update(views.FILTERS)
    templates.env.finalize = views.finalize  # bidi overrides and controls shown, not obeyed

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            # Here, not in create_app: an app that is built but never served must not probe.
            jobs.start(data)
            yield
        finally:
            stack.close()

    app = FastAPI(
        title="vendorscope",
        version=__version__,
        description="The inventory of high-risk vendors' equipment: assets, evidence, findings, snapshots.",
        docs_url=None,  # /docs is our own page: Swagger UI would load its scripts from a CDN
        redoc_url=None,
        openapi_url=None,  # served by pages.openapi_json, behind the login like everything else
        lifespan=lifespan,
    )
    app.state.web = WebState(db, data, accounts, jobs, LoginLimiter(), templates, probes)
    app.state.fixed_as_of = as_of
    app.state.token_cache = TokenCache()
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _error_handlers(app)

    from vendorscope.web import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    return app


def _error_handlers(app: FastAPI) -> None:
    def page_or_json(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        from vendorscope.web.pages import login_response, render

        if status == 401:
            return login_response(request, 401, message, request.url.path)
        return render(request, "error.html", principal_of(request), code=status, status_code=status,
                      message=message)

    @app.exception_handler(Unauthorised)
    async def unauthorised(request: Request, _exc: Unauthorised) -> Response:
        response = page_or_json(request, 401, "log in first: send a bearer token or use the login page")
        if wants_json(request):
            response.headers["WWW-Authenticate"] = 'Bearer realm="vendorscope"'
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return page_or_json(request, 403, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405) and not _public(request.url.path) and principal_of(request) is None:
            # Anonymous: 401 everywhere, so that not even which paths exist is told.
            return await unauthorised(request, Unauthorised())
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        response = page_or_json(request, exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for e in exc.errors()[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "body", "path"))
            problems.append(f"{where}: {e.get('msg', 'invalid')}")
        return page_or_json(request, 422, "; ".join(problems) or "invalid request")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return page_or_json(request, 500, f"internal error ({type(exc).__name__}); see the server's log")
