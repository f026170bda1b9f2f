"""The CSV report: one row per finding, with the asset's keys, its verdict and an evidence summary.

Cells are hostile input (banners, hand-typed site names): they go through the
one CSV writer (report/csv_writer.py), which prefixes with ``'`` every cell a
spreadsheet would read as a formula. Numbers written by vendorscope itself
(days left) are left alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

from vendorscope.model import KEY_NAMES
from vendorscope.report.csv_writer import safe_cell, write_csv_rows
from vendorscope.report.data import ReportData, evidence_summary

COLUMNS: tuple[str, ...] = (
    "asset_id",
    *KEY_NAMES,
    "vendor",
    "vendor_name",
    "group",
    "product",
    "version",
    "device_type",
    "confidence",
    "role",
    "site",
    "site_tags",
    "policy",
    "requirement",
    "status",
    "force",
    "severity",
    "as_of",
    "deadline",
    "days_left",
    "reason",
    "conflicts",
    "evidence",
)
__all__ = ["COLUMNS", "render_csv", "rows", "safe_cell", "write_csv"]


def rows(data: ReportData) -> Iterator[dict[str, Any]]:
    assets = data.asset_by_id()
    for f in data.findings:
        asset = assets.get(f.asset_id)
        v = asset.verdict if asset is not None else None
        keys = asset.keys if asset is not None else {}
        row: dict[str, Any] = {
            "asset_id": f.asset_id,
            **{k: " ".join(sorted(keys.get(k, ()))) for k in KEY_NAMES},
            "vendor": v.vendor if v else None,
            "vendor_name": v.vendor_name if v else None,
            "group": v.group if v else None,
            "product": v.product if v else None,
            "version": v.version if v else None,
            "device_type": v.device_type if v else None,
            "confidence": f"{v.confidence:.2f}" if v else None,
            "role": asset.role.value if asset is not None else None,
            "site": asset.site if asset is not None else None,
            "site_tags": " ".join(sorted(asset.site_tags)) if asset is not None else None,
            "policy": f.policy,
            "requirement": f.requirement,
            "status": f.status.value,
            "force": f.force,
            "severity": f.severity,
            "as_of": f.as_of.isoformat(),
            "deadline": f.deadline.isoformat() if f.deadline else None,
            "days_left": f.days_left,
            "reason": f.reason,
            "conflicts": "; ".join(c.detail for c in asset.conflicts) if asset is not None else None,
            "evidence": evidence_summary(asset, f),
        }
        yield row


def write_csv(data: ReportData, out: IO[str]) -> int:
    """Write the findings through the one CSV writer; returns the number of rows."""
    return write_csv_rows(rows(data), COLUMNS, out)


def render_csv(data: ReportData) -> str:
    buf = io.StringIO()
    write_csv(data, buf)
    return buf.getvalue()
