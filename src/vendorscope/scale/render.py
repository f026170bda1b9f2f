"""The exposure view as JSON or as one self-contained HTML page (auto-escaped, the report's charts)."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from vendorscope.report.charts import bar_chart
from vendorscope.report.data import BreakdownRow
from vendorscope.report.html import asset_text, content_security_policy, environment, safe_url

TABLES: tuple[tuple[str, str, str], ...] = (
    ("by_group", "By vendor group", "vendor group"),
    ("by_product", "By product and version", "product"),
    ("by_service", "By port and service", "port/service"),
    ("by_country", "By country", "country"),
    ("by_asn", "By autonomous system", "autonomous system"),
)


def render_json(exposure: dict[str, Any]) -> str:
    return json.dumps(exposure, ensure_ascii=False, indent=1) + "\n"


def render_html(exposure: dict[str, Any]) -> str:
    style = asset_text("report.css")
    packs = [{**p, "url": safe_url(p.get("url"))} for p in exposure["packs"]]
    tables = []
    for name, title, key in TABLES:
        rows = [BreakdownRow(**r) for r in exposure[name]]
        tables.append({
            "id": name.replace("_", "-"), "title": title, "key": key, "rows": rows,
            "chart": bar_chart(rows, f"{exposure['unit'].capitalize()} {title.lower()}"),
            "truncated": exposure["truncated"][name],
        })
    return environment("vendorscope.scale").get_template("exposure.html.j2").render(
        e={**exposure, "packs": packs},
        tables=tables,
        style=Markup(style),
        # No script on this page: the policy allows only the hash of an empty one.
        csp=content_security_policy("", style),
    )
