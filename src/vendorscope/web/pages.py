"""The dashboard's pages: server-rendered HTML, htmx for partial updates, a CSRF token in every form."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import secrets
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from vendorscope.model import Role as AssetRole
from vendorscope.report.charts import bar_chart, burndown_chart
from vendorscope.store.accounts import AccountError, Principal, Role
from vendorscope.web.app import check_csrf, require, state
from vendorscope.web.data import SORT_KEYS, Assessment
from vendorscope.web.jobs import UPLOAD_KINDS
from vendorscope.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, is_tls, same_secret
from vendorscope.web.views import (
    LISTED_COLUMNS,
    ListQuery,
    csv_cell,
    link,
    list_query,
    listed_dict,
    observation_rows,
    page_links,
    parse_day,
    visible,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger("vendorscope.web")
viewer = Depends(require(Role.viewer))
analyst = Depends(require(Role.analyst))
admin = Depends(require(Role.admin))
MAX_OBSERVATIONS_SHOWN = 500


def render(request: Request, template: str, who: Principal | None, code: int = 200, **context: Any) -> Response:
    st = state(request)
    alerts = st.accounts.alerts(limit=5) if who is not None else []
    return st.templates.TemplateResponse(
        request, template,
        {"who": who, "csrf": who.csrf if who else None, "alerts": alerts, "link": link, **context},
        status_code=code,
    )


def requested_day(request: Request, text: str | None = None) -> date | None:
    """The as-of date a request asks for; else the server's fixed date (tests), else None (today)."""
    try:
        chosen = parse_day(text)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return chosen or request.app.state.fixed_as_of


def assessment_of(request: Request, text: str | None = None) -> Assessment:
    return state(request).data.assessment(requested_day(request, text))


def login_response(request: Request, status: int = 200, message: str | None = None, next: str = "/") -> Response:
    """The login page; its form's CSRF token is also set as a cookie (double submit: no session exists yet)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", None, code=status, login_csrf=token, next=_local(next),
                      message=message)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_tls(request),
                        path="/login")
    return response


# ---------------------------------------------------------------- logging in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return login_response(request, next=next)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    st = state(request)
    form = await request.form()
    name = str(form.get("name", "")).strip()[:200]
    password = str(form.get("password", ""))
    target = _local(str(form.get("next", "/")))
    client = request.client.host if request.client else "?"
    if not same_secret(str(form.get("login_csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return login_response(request, 403, "the login form expired: try again", target)
    if st.limiter.blocked(client, name):
        log.warning("login refused (too many failures): name=%r client=%s", name, client)
        st.accounts.audit(name or "?", "login.blocked", name, {"client": client})
        return login_response(request, 429, "too many failed logins: wait a few minutes and try again", target)
    user = st.accounts.authenticate(name, password)
    if user is None:
        st.limiter.failed(client, name)
        log.warning("failed login: name=%r client=%s", name, client)
        st.accounts.audit(name or "?", "login.failed", name, {"client": client})
        return login_response(request, 401, "wrong name or password", target)
    st.limiter.succeeded(client, name)
    secret, _csrf = st.accounts.create_session(user)
    st.accounts.audit(user.name, "login", user.name, {"client": client})
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=is_tls(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, who: Principal = viewer) -> Response:
    check_csrf(request, who, await request.form())
    if cookie := request.cookies.get(SESSION_COOKIE):
        state(request).accounts.end_session(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only paths on this site: a login link must not send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


# ---------------------------------------------------------------- overview


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Principal = viewer) -> Response:
    st = state(request)
    a = assessment_of(request)
    report = st.data.burndowns(a)
    burndowns = [(bd, burndown_chart(bd, a.as_of)) for bd in report.burndowns if any(p.covered for p in bd.points)]
    jurisdictions: dict[str, list[Any]] = {}
    for p in a.packs:
        jurisdictions.setdefault(p.jurisdiction, []).append(p)
    return render(
        request, "overview.html", who, a=a, h=a.report.headline, jurisdictions=jurisdictions,
        burndowns=burndowns[:8], change=st.data.latest_change(), alerts_all=st.accounts.alerts(limit=10),
        charts={"group": bar_chart(_shown(a.report.by_group), "Assets by vendor group"),
                "site": bar_chart(_shown(a.report.by_site), "Assets by site")},
    )


def _shown(rows: Any) -> list[Any]:
    """Breakdown rows with their keys (site names…) made visible: the charts escape, but bidi overrides survive."""
    return [dataclasses.replace(r, key=visible(r.key)) for r in rows]


# ---------------------------------------------------------------- assets


def _list_query(request: Request) -> ListQuery:
    try:
        return list_query(request.query_params)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/assets", response_class=HTMLResponse)
def assets(request: Request, who: Principal = viewer) -> Response:
    query = _list_query(request)
    a = assessment_of(request, query.as_of)
    page = state(request).data.page(a, query.flt, query.sort, query.desc, query.page, query.size)
    template = "_asset_table.html" if request.headers.get("hx-request") else "assets.html"
    return render(request, template, who, a=a, page=page, params=dict(query.kept), desc=query.desc,
                  links=page_links("/assets", query, page), facets=state(request).data.facets(a),
                  sort_keys=SORT_KEYS)


@router.get("/export/assets")
def export_assets(request: Request, format: str = "csv", who: Principal = viewer) -> Response:
    query = _list_query(request)  # the view of the list page: its filters and order, every page
    st = state(request)
    a = assessment_of(request, query.as_of)
    indexes = st.data.view(a, query.flt, query.sort, query.desc)
    rows = (listed_dict(a.rows[i]) for i in indexes)
    if format == "json":
        body = json.dumps({"as_of": a.as_of.isoformat(), "total": len(indexes), "assets": list(rows)},
                          ensure_ascii=False)
        return Response(body, media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="assets.json"'})
    if format != "csv":
        raise HTTPException(422, f"format: csv or json, not {format!r}")

    def lines() -> Any:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(LISTED_COLUMNS)
        for row in rows:
            writer.writerow([csv_cell(row[c]) for c in LISTED_COLUMNS])
            if buffer.tell() > 1 << 16:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="assets.csv"'})


@router.get("/assets/{asset_id:path}", response_class=HTMLResponse)
def asset_page(request: Request, asset_id: str, who: Principal = viewer) -> Response:
    st = state(request)
    asset = st.data.asset(asset_id)
    if asset is None:
        raise HTTPException(404, f"no asset {asset_id!r}")
    a = assessment_of(request)
    observations = observation_rows(asset)
    findings = st.data.findings_of(a, asset.id)
    policies = {p.id: p for p in st.data.packs}
    return render(
        request, "asset.html", who, asset=asset, a=a, findings=findings, policies=policies,
        observations=observations[:MAX_OBSERVATIONS_SHOWN], more_observations=max(0, len(observations) - 500),
        category=a.report.categories.get(asset.id), effective_role=st.data.effective_role(asset),
        trail=st.accounts.audit_trail(target=asset.id, limit=50), roles=[r.value for r in AssetRole],
    )


@router.post("/assets/{asset_id:path}", response_class=HTMLResponse)
async def annotate_page(request: Request, asset_id: str, who: Principal = analyst) -> Response:
    form = await request.form()
    check_csrf(request, who, form)
    st = state(request)
    if st.data.asset(asset_id) is None:
        raise HTTPException(404, f"no asset {asset_id!r}")
    role = str(form.get("role", "")).strip() or None
    site = form.get("site")
    add = [t for t in str(form.get("add_tags", "")).split(",") if t.strip()]
    remove = [t for t in str(form.get("remove_tags", "")).split(",") if t.strip()]
    try:
        note = st.data.annotate(asset_id, role, None if site is None else str(site).strip()[:400], add, remove)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    st.accounts.audit(who.name, "asset.annotate", asset_id, {
        "role": note.role.value if note.role else None, "site": note.site, "tags": sorted(note.tags),
        "added": add, "removed": remove,
    })
    return RedirectResponse(request.url.path, status_code=303)


# ---------------------------------------------------------------- findings, snapshots, diff


@router.get("/findings", response_class=HTMLResponse)
def findings(request: Request, as_of: str | None = None, policy: str | None = None, status: str | None = None,
             page: int = 1, who: Principal = viewer) -> Response:
    a = assessment_of(request, as_of)
    listed = [f for f in a.report.findings if (not policy or f.policy == policy) and
              (not status or f.status.value == status)]
    size = 100
    pages = max(1, -(-len(listed) // size))
    page = max(1, min(page, pages))
    return render(request, "findings.html", who, a=a, findings=listed[(page - 1) * size: page * size],
                  total=len(listed), page=page, pages=pages, policy=policy or "", status=status or "",
                  packs=state(request).data.packs)


@router.get("/snapshots", response_class=HTMLResponse)
def snapshots(request: Request, who: Principal = viewer) -> Response:
    return render(request, "snapshots.html", who, snapshots=list(reversed(state(request).data.snapshots())))


@router.get("/diff", response_class=HTMLResponse)
def diff(request: Request, a: int | None = None, b: int | None = None, who: Principal = viewer) -> Response:
    from vendorscope.store.inventory import InventoryError

    st = state(request)
    snaps = st.data.snapshots()
    if a is None or b is None:
        if len(snaps) < 2:
            return render(request, "diff.html", who, diff=None, snapshots=snaps, a=a, b=b)
        a, b = snaps[-2].id, snaps[-1].id
    try:
        change = st.data.diff(a, b)
    except InventoryError as exc:
        raise HTTPException(404, str(exc)) from None
    return render(request, "diff.html", who, diff=change, snapshots=snaps, a=a, b=b)


# ---------------------------------------------------------------- imports


@router.get("/imports", response_class=HTMLResponse)
def imports(request: Request, who: Principal = viewer) -> Response:
    st = state(request)
    return render(request, "imports.html", who, jobs=st.accounts.jobs(), kinds=UPLOAD_KINDS, probes=st.probes,
                  watch=st.jobs.watch_status())


@router.post("/imports", response_class=HTMLResponse)
async def upload(request: Request, who: Principal = analyst) -> Response:
    form = await request.form()
    check_csrf(request, who, form)
    kind = str(form.get("kind", ""))
    file = form.get("file")
    if kind not in UPLOAD_KINDS:
        raise HTTPException(422, f"kind: one of {', '.join(UPLOAD_KINDS)}")
    if file is None or isinstance(file, str) or not getattr(file, "filename", None):
        raise HTTPException(422, "file: choose a file to upload")
    st = state(request)
    job = st.jobs.submit(kind, file.filename or "upload", file.file, who.name)
    st.accounts.audit(who.name, "job.upload", f"job:{job.id}", {"kind": kind, "file": job.name})
    return RedirectResponse(f"/imports#job-{job.id}", status_code=303)


@router.post("/probe", response_class=HTMLResponse)
async def start_probe(request: Request, who: Principal = analyst) -> Response:
    form = await request.form()
    check_csrf(request, who, form)
    st = state(request)
    if st.probes is None:
        raise HTTPException(409, "this server has no scope to probe: start it with `vendorscope serve --scope FILE`")
    job = st.jobs.submit_probe(st.probes, st.data, who.name)
    st.accounts.audit(who.name, "job.probe", f"job:{job.id}", {"scope": str(st.probes.scope_path.name)})
    return RedirectResponse(f"/imports#job-{job.id}", status_code=303)


@router.post("/watch", response_class=HTMLResponse)
async def start_watch(request: Request, who: Principal = analyst) -> Response:
    form = await request.form()
    check_csrf(request, who, form)
    st = state(request)
    if st.probes is None:
        raise HTTPException(409, "this server has no scope to watch: start it with `vendorscope serve --scope FILE`")
    every = str(form.get("every") or "1h")[:20]
    try:
        job = st.jobs.start_watch(st.probes, st.data, every, who.name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except RuntimeError as exc:
        raise HTTPException(409, str(exc)) from None
    st.accounts.audit(who.name, "watch.start", f"job:{job.id}", {"scope": st.probes.scope_path.name, "every": every})
    return RedirectResponse("/imports#watch", status_code=303)


@router.post("/watch/stop", response_class=HTMLResponse)
async def stop_watch(request: Request, who: Principal = analyst) -> Response:
    form = await request.form()
    check_csrf(request, who, form)
    st = state(request)
    job = await run_in_threadpool(st.jobs.stop_watch, f"stopped by {who.name}")
    if job is not None:
        st.accounts.audit(who.name, "watch.stop", f"job:{job.id}", {})
    return RedirectResponse("/imports#watch", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(request: Request, job_id: int, who: Principal = viewer) -> Response:
    job = state(request).accounts.job(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return render(request, "_job.html", who, job=job)


# ---------------------------------------------------------------- users (admin)


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, who: Principal = admin) -> Response:
    st = state(request)
    return render(request, "users.html", who, users=st.accounts.users(), tokens=st.accounts.tokens(),
                  trail=st.accounts.audit_trail(limit=100), roles=list(Role), message=None)


@router.post("/users", response_class=HTMLResponse)
async def users_change(request: Request, who: Principal = admin) -> Response:
    form = await request.form()
    check_csrf(request, who, form)
    st = state(request)
    action = str(form.get("action", ""))
    name = str(form.get("name", ""))
    try:
        if action == "add":
            st.accounts.add_user(name, str(form.get("role", "viewer")), str(form.get("password", "")))
        elif action == "remove":
            if name == who.name:
                raise AccountError("you cannot remove yourself")
            st.accounts.remove_user(name)
        else:
            raise AccountError(f"unknown action {action!r}")
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    st.accounts.audit(who.name, f"user.{action}", name, {"role": str(form.get("role", ""))} if action == "add" else {})
    return RedirectResponse("/users", status_code=303)


# ---------------------------------------------------------------- API docs


@router.get("/openapi.json")
def openapi_json(request: Request, who: Principal = viewer) -> Response:
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, who: Principal = viewer) -> Response:
    """The API's routes from the OpenAPI document, rendered here: no CDN, works offline."""
    spec = request.app.openapi()
    routes = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [p.get("name", "") for p in op.get("parameters", [])]
            routes.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                           "description": op.get("description", ""), "params": params})
    return render(request, "docs.html", who, routes=routes)
