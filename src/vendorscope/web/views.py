"""Small pure helpers the templates and both routers share: text shown safely, shapes, parsing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from vendorscope.model import Asset, Finding
from vendorscope.report.csv_writer import safe_cell
from vendorscope.report.html import safe_url
from vendorscope.report.json_report import asset_dict, finding_dict
from vendorscope.web.data import MAX_PAGE_SIZE, SORT_KEYS, Assessment, AssetFilter, ListedAsset, Page

# Characters that reorder or hide text (bidirectional overrides and isolates,
# zero-width marks) and C0/C1 controls: escaping HTML does not make them
# harmless, so they are shown as visible code points instead.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def finalize(value: Any) -> Any:
    """Every ``{{ value }}`` in a template passes through here, then through auto-escaping."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


def day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def status_label(status: Any) -> str:
    return str(getattr(status, "value", status)).replace("_", " ")


def link(url: str | None) -> str | None:
    """Only http(s) links leave the page; ``javascript:`` and the like become plain text."""
    return safe_url(url)


FILTERS = {"day": day, "status_label": status_label, "visible": visible}


def parse_day(text: str | None) -> date | None:
    """A date from a form or query; None when empty. Raises ValueError with a clear message."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of: expected a date YYYY-MM-DD, got {text!r}") from None


def asset_filter(group: str | None = None, verdict: str | None = None, site: str | None = None,
                 role: str | None = None, source: str | None = None, min_confidence: str | float | None = None,
                 q: str | None = None) -> AssetFilter:
    confidence: float | None = None
    if min_confidence not in (None, ""):
        try:
            confidence = float(min_confidence)
        except ValueError:
            raise ValueError(f"min_confidence: expected a number from 0 to 1, got {min_confidence!r}") from None
    return AssetFilter(group=group, verdict=verdict, site=site, role=role, source=source,
                       min_confidence=confidence, text=q)


def listed_dict(row: ListedAsset) -> dict[str, Any]:
    """One row of the asset list, as the API and the JSON export give it."""
    return {
        "id": row.id,
        "vendor": row.vendor,
        "vendor_name": row.vendor_name,
        "group": row.group,
        "product": row.product,
        "device_type": row.device_type,
        "confidence": round(row.confidence, 4),
        "role": row.role,
        "site": row.site,
        "site_tags": list(row.tags),
        "category": row.category,
        "worst_status": row.worst_status,
        "sources": list(row.sources),
        "ips": list(row.ips),
        "macs": list(row.macs),
        "hostnames": list(row.hostnames),
        "last_seen": row.last_seen.isoformat() if row.last_seen else None,
        "conflicts": row.conflicts,
    }


LISTED_COLUMNS = ("id", "vendor", "group", "product", "device_type", "confidence", "role", "site", "site_tags",
                  "category", "worst_status", "sources", "ips", "macs", "hostnames", "last_seen", "conflicts")


def csv_cell(value: Any) -> str | int | float:
    """A CSV cell that a spreadsheet will not run as a formula (the one CSV writer's rule)."""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return safe_cell(value)


def asset_detail(asset: Asset, assessment: Assessment, findings: Iterable[Finding]) -> dict[str, Any]:
    """One asset as the JSON report shows it, with its findings."""
    category = assessment.report.categories.get(asset.id)
    out = asset_dict(asset, category.value if category is not None else None)
    out["findings"] = [finding_dict(f) for f in findings]
    return out


def observation_rows(asset: Asset) -> list[dict[str, Any]]:
    """Every observation with where it came from and the rules that fired on it."""
    rules: dict[int, list[Any]] = {}
    for attr in asset.attributions:
        if attr.observation is not None:
            rules.setdefault(id(attr.observation), []).append(attr)
    rows = []
    for obs in asset.observations:
        context = dict(obs.context or {})
        where = ", ".join(f"{k} {v}" for k, v in list(context.items())[:8])
        rows.append({"kind": obs.kind, "value": obs.value, "source": obs.source, "seen_at": obs.seen_at,
                     "where": where, "attributions": rules.get(id(obs), [])})
    return rows


# ---------------------------------------------------------------- the asset list's query (pages, API, export)

LIST_KEYS = ("group", "verdict", "site", "role", "source", "min_confidence", "q", "sort", "desc", "size", "as_of")
MAX_QUERY_TEXT = 200
_TRUE, _FALSE = {"1", "true", "on", "yes", "t", "y"}, {"0", "false", "off", "no", "f", "n"}


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One request for the asset list, the same for the page, the API and the export."""

    flt: AssetFilter
    sort: str = "category"
    desc: bool = False
    page: int = 1
    size: int = 50
    as_of: str | None = None
    kept: tuple[tuple[str, str], ...] = ()  # the parameters given (not page): what links to other pages carry


def list_query(params: Mapping[str, str]) -> ListQuery:
    """Parse the asset list's parameters; ValueError names the parameter first (``size: from 1 to 500``)."""
    kept = tuple((k, v) for k in LIST_KEYS if (v := (params.get(k) or "").strip()))
    given = dict(kept)
    q = given.get("q")
    if q is not None and len(q) > MAX_QUERY_TEXT:
        raise ValueError(f"q: at most {MAX_QUERY_TEXT} characters")
    sort = given.get("sort", "category")
    if sort not in SORT_KEYS:
        raise ValueError(f"sort: one of {', '.join(SORT_KEYS)}")
    flag = given.get("desc", "false").lower()
    if flag not in _TRUE | _FALSE:
        raise ValueError("desc: expected true or false")
    flt = asset_filter(given.get("group"), given.get("verdict"), given.get("site"), given.get("role"),
                       given.get("source"), _number(given, "min_confidence", float, None, 0, 1), q)
    return ListQuery(flt, sort, flag in _TRUE, _number(params, "page", int, 1, 1, None),
                     _number(given, "size", int, 50, 1, MAX_PAGE_SIZE), given.get("as_of"), kept)


def _number(params: Mapping[str, str], name: str, kind: type[int] | type[float], default: Any, low: float,
            high: float | None) -> Any:
    text = (params.get(name) or "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}: expected {'an integer' if kind is int else 'a number'}") from None
    if value != value:  # NaN
        raise ValueError(f"{name}: expected a number")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}: from {low:g}" + (f" to {high:g}" if high is not None else ""))
    return value


def page_links(path: str, query: ListQuery, page: Page) -> dict[str, str | None]:
    """Links to the previous and next pages of the same view (filters, sort, size kept); None at either end."""

    def to(n: int) -> str:
        return f"{path}?{urlencode([*query.kept, ('page', str(n))])}"

    return {"prev": to(page.page - 1) if page.page > 1 else None,
            "next": to(page.page + 1) if page.page < page.pages else None}
