"""The REST API, /api/v1: the same data as the pages, as JSON.

Assets, findings, snapshots, policies and the report have the shapes of
`vendorscope report --format json` (docs/report-schema.json). Errors are
``{"error": "..."}`` with the status code that fits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vendorscope.model import Role as AssetRole
from vendorscope.report.json_report import finding_dict, report_dict
from vendorscope.store.accounts import Alert, Job, Principal, Role
from vendorscope.web.app import check_csrf, require, state
from vendorscope.web.data import SORT_KEYS, Assessment, Page
from vendorscope.web.jobs import UPLOAD_KINDS
from vendorscope.web.pages import assessment_of, requested_day
from vendorscope.web.views import asset_detail, list_query, listed_dict, page_links

router = APIRouter(prefix="/api/v1", tags=["api"])
viewer = Depends(require(Role.viewer))
analyst = Depends(require(Role.analyst))
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid bearer token or session"},
    403: {"description": "the role does not allow this"},
}


class AnnotationChange(BaseModel):
    """What an analyst says about an asset; fields left out stay as they are."""

    role: str | None = Field(None, description=f"one of {', '.join(AssetRole)}")
    site: str | None = Field(None, max_length=400, description='the site; "" clears it')
    add_tags: list[str] = Field(default_factory=list, max_length=50)
    remove_tags: list[str] = Field(default_factory=list, max_length=50)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON straight from msgspec: no per-field validation on the way out (the asset list is hot)."""
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers)


def _job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id, "kind": job.kind, "name": job.name, "state": job.state, "done": job.done, "total": job.total,
        "percent": job.percent, "message": job.message, "error": job.error, "snapshot_id": job.snapshot_id,
        "created_by": job.created_by, "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


# The asset list's query parameters: parsed by hand (FastAPI's per-parameter validation was about
# half of the list's time per request), described to OpenAPI here.
_LIST_PARAMETERS: list[tuple[str, dict[str, Any], str]] = [
    ("group", {"type": "string"}, "vendor or vendor group"),
    ("verdict", {"type": "string"}, "covered, review, high_risk or other"),
    ("site", {"type": "string"}, "site"),
    ("role", {"type": "string"}, "role"),
    ("source", {"type": "string"}, "pcap, probe, import:nmap, import:table, …"),
    ("min_confidence", {"type": "number", "minimum": 0, "maximum": 1}, "lowest confidence"),
    ("q", {"type": "string", "maxLength": 200}, "text in id, keys, vendor, product, site, tags"),
    ("sort", {"type": "string", "enum": list(SORT_KEYS), "default": "category"}, "sort key"),
    ("desc", {"type": "boolean", "default": False}, "descending"),
    ("page", {"type": "integer", "minimum": 1, "default": 1}, "page, from 1"),
    ("size", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "rows per page"),
    ("as_of", {"type": "string", "format": "date"}, "judge as of this date (YYYY-MM-DD)"),
]


@router.get("/assets", responses=ERRORS, summary="Assets: filtered, sorted, one page at a time",
            openapi_extra={"parameters": [{"name": n, "in": "query", "required": False, "schema": schema,
                                           "description": text} for n, schema, text in _LIST_PARAMETERS]})
async def list_assets(request: Request, who: Principal = viewer) -> Response:
    try:
        query = list_query(request.query_params)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    data = state(request).data
    flt, sort, desc = query.flt, query.sort, query.desc
    # The hot path: with the assessment judged and this view kept (or cheap to make), a page is a slice
    # and runs in the event loop; judging, or sorting a large view anew, goes to a worker thread.
    a = data.cached_assessment(requested_day(request, query.as_of))
    if a is None or not data.view_is_cheap(a, flt, sort, desc):
        a = await run_in_threadpool(assessment_of, request, query.as_of)
        await run_in_threadpool(data.view, a, flt, sort, desc)
    result = data.page(a, flt, sort, desc, query.page, query.size)
    return Response(page_json(a, result, page_links("/api/v1/assets", query, result)), media_type="application/json")


_encode = msgspec.json.encode


def page_json(a: Assessment, result: Page, links: dict[str, str | None]) -> bytes:
    """``{"as_of", "total", "page", "pages", "size", "prev", "next", "assets": [listed_dict…]}`` as bytes, each
    row encoded once per assessment (the same bytes as encoding the whole dict)."""
    known = a.row_json
    rows = []
    for i in result.indexes:
        encoded = known.get(i)
        if encoded is None:
            encoded = known[i] = _encode(listed_dict(a.rows[i]))
        rows.append(encoded)
    return b'{"as_of":%s,"total":%d,"page":%d,"pages":%d,"size":%d,"prev":%s,"next":%s,"assets":[%s]}' % (
        _encode(a.as_of.isoformat()), result.total, result.page, result.pages, result.size, _encode(links["prev"]),
        _encode(links["next"]), b",".join(rows))


@router.get("/assets/{asset_id:path}", responses={**ERRORS, 404: {"description": "no such asset"}},
            summary="One asset with its evidence and findings")
def get_asset(request: Request, asset_id: str, as_of: str | None = None, who: Principal = viewer) -> Response:
    st = state(request)
    asset = st.data.asset(asset_id)
    if asset is None:
        raise HTTPException(404, f"no asset {asset_id!r}")
    a = assessment_of(request, as_of)
    return json_response(asset_detail(asset, a, st.data.findings_of(a, asset.id)))


@router.patch("/assets/{asset_id:path}", responses={**ERRORS, 404: {"description": "no such asset"}},
              summary="Set an asset's role, site or tags (analyst)")
def patch_asset(request: Request, asset_id: str, change: AnnotationChange, who: Principal = analyst) -> Response:
    check_csrf(request, who)
    st = state(request)
    if st.data.asset(asset_id) is None:
        raise HTTPException(404, f"no asset {asset_id!r}")
    try:
        note = st.data.annotate(asset_id, change.role, change.site, change.add_tags, change.remove_tags)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    st.accounts.audit(who.name, "asset.annotate", asset_id, {
        "role": note.role.value if note.role else None, "site": note.site, "tags": sorted(note.tags),
        "added": change.add_tags, "removed": change.remove_tags,
    })
    asset = st.data.asset(asset_id)
    assert asset is not None
    a = assessment_of(request)
    return json_response(asset_detail(asset, a, st.data.findings_of(a, asset.id)))


@router.get("/findings", responses=ERRORS, summary="Findings per policy pack as of a date")
def list_findings(request: Request, as_of: str | None = None, policy: str | None = None,
                  status: str | None = None, asset: str | None = None, who: Principal = viewer) -> Response:
    a = assessment_of(request, as_of)
    found = [f for f in a.report.findings if (not policy or f.policy == policy)
             and (not status or f.status.value == status) and (not asset or f.asset_id == asset)]
    return json_response({"as_of": a.as_of.isoformat(), "total": len(found),
                          "findings": [finding_dict(f) for f in found]})


@router.get("/snapshots", responses=ERRORS, summary="Stored snapshots, oldest first")
def list_snapshots(request: Request, who: Principal = viewer) -> Response:
    return json_response({"snapshots": [
        {"id": s.id, "source": s.source, "started_at": s.started_at.isoformat(), "assets": s.assets,
         "attributed": s.attributed, "conflicts": s.conflicts, "observations": s.observations}
        for s in state(request).data.snapshots()
    ]})


@router.get("/diff", responses={**ERRORS, 404: {"description": "no such snapshot"}},
            summary="Appeared, disappeared, re-identified between two snapshots")
def get_diff(request: Request, a: int, b: int, who: Principal = viewer) -> Response:
    from vendorscope.store.inventory import InventoryError

    try:
        change = state(request).data.diff(a, b)
    except InventoryError as exc:
        raise HTTPException(404, str(exc)) from None

    def brief(x: Any) -> dict[str, Any]:
        return {"id": x.id, "vendor": x.verdict.vendor, "group": x.verdict.group, "product": x.verdict.product}

    return json_response({
        "a": change.a, "b": change.b,
        "appeared": [brief(x) for x in change.appeared],
        "disappeared": [brief(x) for x in change.disappeared],
        "reidentified": [{"id": r.asset_id, "before": brief(r.before), "after": brief(r.after)}
                         for r in change.reidentified],
        "progress": [{"policy": p.policy, "requirement": p.requirement,
                      "deadline": p.deadline.isoformat() if p.deadline else None, "before": p.before,
                      "after": p.after} for p in change.progress],
    })


@router.get("/policies", responses=ERRORS, summary="The policy packs the server judges against")
def list_policies(request: Request, who: Principal = viewer) -> Response:
    a = assessment_of(request)
    counts = {p.id: p for p in a.packs}
    out = []
    for p in state(request).data.packs:
        c = counts.get(p.id)
        out.append({"id": p.id, "title": p.title, "jurisdiction": p.jurisdiction, "authority": p.authority,
                    "instrument": p.instrument, "url": p.url, "binding": p.binding,
                    "covered": c.covered if c else 0, "review": c.review if c else 0, "clear": c.clear if c else 0})
    return json_response({"as_of": a.as_of.isoformat(), "policies": out})


@router.get("/report", responses=ERRORS, summary="The JSON report (docs/report-schema.json)")
def get_report(request: Request, as_of: str | None = None, who: Principal = viewer) -> Response:
    a = assessment_of(request, as_of)
    return json_response(report_dict(state(request).data.burndowns(a)))


@router.get("/jobs", responses=ERRORS, summary="Recent import jobs")
def list_jobs(request: Request, who: Principal = viewer) -> Response:
    return json_response({"jobs": [_job_dict(j) for j in state(request).accounts.jobs()]})


@router.post("/jobs", status_code=202, responses={**ERRORS, 422: {"description": "bad kind or no file"}},
             summary="Upload a file to import in the background (analyst)")
def create_job(request: Request, kind: str = Form(..., description=", ".join(UPLOAD_KINDS)),
               file: UploadFile = File(...), who: Principal = analyst) -> Response:
    check_csrf(request, who)
    if kind not in UPLOAD_KINDS:
        raise HTTPException(422, f"kind: one of {', '.join(UPLOAD_KINDS)}")
    st = state(request)
    job = st.jobs.submit(kind, file.filename or "upload", file.file, who.name)
    st.accounts.audit(who.name, "job.upload", f"job:{job.id}", {"kind": kind, "file": job.name})
    return json_response(_job_dict(job), 202, {"Location": f"/api/v1/jobs/{job.id}"})


@router.post("/probes", status_code=202, responses={**ERRORS, 409: {"description": "the server has no scope"}},
             summary="Start a probe round of the server's scope (analyst): a snapshot and alerts")
def start_probe(request: Request, who: Principal = analyst) -> Response:
    check_csrf(request, who)
    st = state(request)
    if st.probes is None:
        raise HTTPException(409, "this server has no scope to probe: start it with `vendorscope serve --scope FILE`")
    job = st.jobs.submit_probe(st.probes, st.data, who.name)
    st.accounts.audit(who.name, "job.probe", f"job:{job.id}", {"scope": st.probes.scope_path.name})
    return json_response(_job_dict(job), 202, {"Location": f"/api/v1/jobs/{job.id}"})


class WatchStart(BaseModel):
    """How often to probe the server's scope."""

    every: str = Field("1h", max_length=20, description="time from one round's start to the next: 30m, 1h, 1d")


def watch_dict(request: Request) -> dict[str, Any]:
    """The latest watch: its job, and while it runs here its interval, rounds, next run; the alerts since it began."""
    st = state(request)
    found = st.jobs.watch_status()
    if found is None:
        return {"watch": None, "alerts": []}
    job, live = found
    alerts = [x for x in st.accounts.alerts(100) if x.at >= job.created_at]
    kept = job.config or {}
    every = live.every if live else kept.get("every")
    return {
        "watch": {**_job_dict(job), "running": live is not None, "every": every,
                  "every_s": live.every_s if live else _seconds(every), "rounds": job.done,
                  "next_run": live.next_run.isoformat() if live and live.next_run else None,
                  # Not the webhook's URL: it often carries a secret, and viewers read this.
                  "scope": Path(str(kept["scope"])).name if kept.get("scope") else None,
                  "addresses": len(kept.get("addresses") or ()), "webhook": bool(kept.get("webhook")),
                  "last_round_at": kept.get("last_round_at")},
        "alerts": [_alert_dict(x) for x in alerts],
    }


@router.get("/watch", responses=ERRORS, summary="Continuous monitoring: the latest watch and its alerts")
def get_watch(request: Request, who: Principal = viewer) -> Response:
    return json_response(watch_dict(request))


@router.post("/watch", status_code=202,
             responses={**ERRORS, 409: {"description": "no scope, or a watch runs already"},
                        422: {"description": "bad interval"}},
             summary="Start probing the server's scope every so often (analyst), as `vendorscope watch`")
def start_watch(request: Request, body: WatchStart, who: Principal = analyst) -> Response:
    check_csrf(request, who)
    st = state(request)
    if st.probes is None:
        raise HTTPException(409, "this server has no scope to watch: start it with `vendorscope serve --scope FILE`")
    try:
        job = st.jobs.start_watch(st.probes, st.data, body.every, who.name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except RuntimeError as exc:
        raise HTTPException(409, str(exc)) from None
    st.accounts.audit(who.name, "watch.start", f"job:{job.id}", {"scope": st.probes.scope_path.name,
                                                                  "every": body.every})
    return json_response(watch_dict(request), 202, {"Location": "/api/v1/watch"})


@router.delete("/watch", responses={**ERRORS, 404: {"description": "no watch runs"}},
               summary="Stop the running watch (analyst); the round under way ends first")
def stop_watch(request: Request, who: Principal = analyst) -> Response:
    check_csrf(request, who)
    st = state(request)
    job = st.jobs.stop_watch(f"stopped by {who.name}")
    if job is None:
        raise HTTPException(404, "no watch runs")
    st.accounts.audit(who.name, "watch.stop", f"job:{job.id}", {})
    return json_response(watch_dict(request))


@router.get("/jobs/{job_id}", responses={**ERRORS, 404: {"description": "no such job"}},
            summary="One job's progress")
def get_job(request: Request, job_id: int, who: Principal = viewer) -> Response:
    job = state(request).accounts.job(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return json_response(_job_dict(job))


@router.get("/alerts", responses=ERRORS, summary="Monitoring alerts, newest first")
def list_alerts(request: Request, who: Principal = viewer) -> Response:
    return json_response({"alerts": [_alert_dict(x) for x in state(request).accounts.alerts()]})


def _seconds(every: Any) -> float | None:
    from vendorscope.web.watch import parse_every

    try:
        return parse_every(str(every)) if every else None
    except ValueError:
        return None


def _alert_dict(x: Alert) -> dict[str, Any]:
    return {"id": x.id, "at": x.at.isoformat(), "kind": x.kind, "message": x.message, "detail": x.detail,
            "snapshot_id": x.snapshot_id}
