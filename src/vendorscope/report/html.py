"""The HTML report: one self-contained file that needs no network to open.

Jinja2 with auto-escaping on for every template: assets carry hostile text
(banners, hand-typed site names). The only values inserted unescaped are made
here: the SVG charts (which escape their own text), our own CSS and
JavaScript, and the findings as JSON inside a ``<script type="application/json">``
block, where every ``<``, ``>`` and ``&`` is written as a ``\\u`` escape so
that no value can close the block.

Findings and their evidence are not rendered as HTML rows: the page's small
script renders one page of the table at a time from the JSON block and builds
an evidence panel (with ``textContent`` only) when a row is clicked, so that a
report of 50,000 assets opens quickly. A Content-Security-Policy allows only
that script and stylesheet (by hash) and no network at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from importlib import resources
from typing import IO, Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from vendorscope.model import Status
from vendorscope.report.charts import bar_chart, burndown_chart
from vendorscope.report.data import ReportData
from vendorscope.report.json_report import report_dict

TEMPLATE = "report.html.j2"
STATUS_LABELS = {s.value: s.value.replace("_", " ") for s in Status}


@lru_cache(maxsize=4)
def environment(package: str = "vendorscope.report") -> Environment:
    """The auto-escaping, strict template environment of every HTML page written to a file
    (``package``'s ``templates`` folder)."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=4)
def asset_text(name: str) -> str:
    """A CSS or JS file shipped next to the template."""
    text = resources.files("vendorscope.report").joinpath("templates", name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower() or "<!--" in text:
        raise ValueError(f"{name} must not contain a closing tag or a comment opener")
    return text


def script_json(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left raw.

    ``ensure_ascii`` also turns lone surrogates (undecodable bytes some
    collectors keep) into escapes, so the page is always valid UTF-8.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(script: str, style: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src '{_sha256(script)}'; "
        f"style-src '{_sha256(style)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def safe_url(url: str | None) -> str | None:
    """Only http(s) links: a pack's URL must not become ``javascript:``."""
    if not url:
        return None
    text = url.strip()
    return text if text.lower().startswith(("https://", "http://")) else None


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def cover_facts(data: ReportData) -> dict[str, Any]:
    """What the cover tells an auditor about where the evidence came from: sources and their dates."""
    per_source: dict[str, list[Any]] = {}
    for s in data.snapshots:
        per_source.setdefault(s.source, []).append(s)
    starts = [s.started_at for s in data.snapshots]
    return {
        "first_seen": f"{min(starts):%Y-%m-%d %H:%M} UTC" if starts else None,
        "last_seen": f"{max(starts):%Y-%m-%d %H:%M} UTC" if starts else None,
        "sources": [
            {"source": source, "snapshots": len(rows), "latest": f"{max(r.started_at for r in rows):%Y-%m-%d}"}
            for source, rows in sorted(per_source.items())
        ],
    }


def render_html(data: ReportData, *, csp: bool = True) -> str:
    """The report as one HTML document.

    ``csp=False`` leaves out the Content-Security-Policy; the tests use it to
    show that escaping alone keeps hostile banners inert.
    """
    script = asset_text("report.js")
    style = asset_text("report.css")
    payload = report_dict(data, only_assets_with_findings=True)
    burndowns = [(bd, burndown_chart(bd, data.as_of)) for bd in data.burndowns if any(p.covered for p in bd.points)]
    idle = [bd for bd in data.burndowns if not any(p.covered for p in bd.points)]
    policies = [
        {
            "id": p.id,
            "title": p.title,
            "jurisdiction": p.jurisdiction,
            "authority": p.authority,
            "instrument": p.instrument,
            "url": safe_url(p.url),
            "binding": p.binding,
            "reviewed": p.reviewed,
            "stale": p.stale,
        }
        for p in data.policies
    ]
    policy_ids = sorted({p.id for p in data.policies} | {f.policy for f in data.findings})
    cover = cover_facts(data)
    return environment().get_template(TEMPLATE).render(
        data=data,
        h=data.headline,
        include_clear=data.include_clear,
        charts={
            "vendor": bar_chart(data.by_group, "Assets by vendor group"),
            "site": bar_chart(data.by_site, "Assets by site"),
            "role": bar_chart(data.by_role, "Assets by role"),
        },
        burndowns=burndowns,
        idle_burndowns=idle,
        policies=policies,
        policy_ids=policy_ids,
        cover=cover,
        data_json=script_json(payload),
        script=Markup(script),
        style=Markup(style),
        csp=content_security_policy(script, style) if csp else None,
        pct=_pct,
        status_label=lambda s: STATUS_LABELS.get(s, s),
    )


def write_html(data: ReportData, out: IO[str]) -> None:
    out.write(render_html(data))
