"""The JSON report: one object, documented by docs/report-schema.json (JSON Schema 2020-12).

The HTML report embeds the same object (with only the assets its findings
name), so the two never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import IO, Any

from vendorscope.model import Asset, Finding
from vendorscope.report.data import (
    BreakdownRow,
    ReportData,
    asset_keys,
    evidence_dict,
    strongest_evidence,
)

FORMAT = "vendorscope-report"
FORMAT_VERSION = 1


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _row(r: BreakdownRow) -> dict[str, Any]:
    return {
        "key": r.key,
        "assets": r.assets,
        "covered": r.covered,
        "review": r.review,
        "high_risk": r.high_risk,
        "other": r.other,
    }


def asset_dict(asset: Asset, category: str | None) -> dict[str, Any]:
    v = asset.verdict
    return {
        "id": asset.id,
        "keys": asset_keys(asset),
        "vendor": v.vendor,
        "vendor_name": v.vendor_name,
        "group": v.group,
        "product": v.product,
        "version": v.version,
        "device_type": v.device_type,
        "confidence": round(float(v.confidence), 4),
        "role": asset.role.value,
        "site": asset.site,
        "site_tags": sorted(asset.site_tags),
        "first_seen": _iso(asset.first_seen),
        "last_seen": _iso(asset.last_seen),
        "category": category,
        "observations": len(asset.observations),
        "conflicts": [
            {
                "label_vendor": c.label_vendor,
                "label_kind": c.label_kind,
                "fingerprint_vendor": c.fingerprint_vendor,
                "fingerprint_kind": c.fingerprint_kind,
                "detail": c.detail,
            }
            for c in asset.conflicts
        ],
        "evidence": [evidence_dict(link) for link in strongest_evidence(asset)],
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "asset_id": f.asset_id,
        "policy": f.policy,
        "requirement": f.requirement,
        "status": f.status.value,
        "force": f.force,
        "severity": f.severity,
        "as_of": f.as_of.isoformat(),
        "deadline": _iso(f.deadline),
        "days_left": f.days_left,
        "reason": f.reason,
        "reasons": list(f.reasons),
        "evidence": list(f.evidence_lines),
        "evidence_chain": [evidence_dict(link) for link in f.evidence],
        "conflicts": list(f.conflicts),
    }


def _category(data: ReportData, asset_id: str) -> str | None:
    category = data.categories.get(asset_id)
    return None if category is None else category.value


def report_dict(data: ReportData, *, only_assets_with_findings: bool = False) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    h = data.headline
    nd = h.next_deadline
    assets: Iterable[Asset] = data.assets
    if only_assets_with_findings:
        named = {f.asset_id for f in data.findings}
        assets = [a for a in data.assets if a.id in named]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_at": data.generated_at.isoformat(),
        "as_of": data.as_of.isoformat(),
        "tool": {"name": "vendorscope", "version": data.tool_version},
        "policies": [
            {
                "id": p.id,
                "title": p.title,
                "jurisdiction": p.jurisdiction,
                "authority": p.authority,
                "instrument": p.instrument,
                "url": p.url,
                "binding": p.binding,
                "reviewed": _iso(p.reviewed),
                "stale": p.stale,
            }
            for p in data.policies
        ],
        "headline": {
            "assets": h.assets,
            "identified": h.identified,
            "high_risk": h.high_risk,
            "covered": h.covered,
            "review": h.review,
            "overdue": h.overdue,
            "conflicts": h.conflicts,
            "findings": h.findings,
            "findings_by_status": dict(h.findings_by_status),
            "next_deadline": None
            if nd is None
            else {
                "deadline": nd.deadline.isoformat(),
                "days_left": nd.days_left,
                "policy": nd.policy,
                "requirement": nd.requirement,
                "assets": nd.assets,
            },
        },
        "breakdowns": {
            "vendor_group": [_row(r) for r in data.by_group],
            "site": [_row(r) for r in data.by_site],
            "role": [_row(r) for r in data.by_role],
        },
        "burndown": [
            {
                "policy": b.policy,
                "requirement": b.requirement,
                "deadline": b.deadline.isoformat(),
                "points": [
                    {"at": p.at.isoformat(), "snapshot_id": p.snapshot_id, "covered": p.covered} for p in b.points
                ],
            }
            for b in data.burndowns
        ],
        "snapshots": [
            {
                "id": s.id,
                "source": s.source,
                "started_at": s.started_at.isoformat(),
                "assets": s.assets,
                "attributed": s.attributed,
                "conflicts": s.conflicts,
            }
            for s in data.snapshots
        ],
        "assets": [asset_dict(a, _category(data, a.id)) for a in assets],
        "findings": [finding_dict(f) for f in data.findings],
    }


def write_json(data: ReportData, out: IO[str], *, indent: int | None = 2) -> None:
    json.dump(report_dict(data), out, ensure_ascii=False, indent=indent)
    out.write("\n")


def render_json(data: ReportData, *, indent: int | None = 2) -> str:
    return json.dumps(report_dict(data), ensure_ascii=False, indent=indent) + "\n"
