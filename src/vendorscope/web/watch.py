"""Continuous monitoring: probe the scope every so often, store a snapshot, raise alerts.

An alert is raised when a high-risk device appears (an asset the judge puts
in ``covered``, ``review`` or ``high_risk`` that the inventory did not have
before the round), and when a deadline has passed while covered equipment is
still present (an ``overdue`` finding; once per requirement and deadline).
Each alert is a log line, a JSON POST to the webhook (if one is set) and a
row in ``web_alert``, which the overview page shows as a banner.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from vendorscope.model import Status
from vendorscope.store.accounts import Accounts, Alert
from vendorscope.web.data import Assessment, WebData

log = logging.getLogger("vendorscope.watch")
HIGH_RISK_CATEGORIES = frozenset({"covered", "review", "high_risk"})
WEBHOOK_TIMEOUT_S = 10.0
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: str  # "high_risk_appeared" or "deadline_passed"
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def parse_every(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``1d`` (a bare number is seconds) → seconds."""
    found = _EVERY.match(text)
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"--every: expected a duration such as 30m, 1h or 1d, not {text!r}")
    return float(found.group(1)) * _UNIT_S[found.group(2) or "s"]


def high_risk_ids(assessment: Assessment | None) -> set[str]:
    if assessment is None:
        return set()
    return {r.id for r in assessment.rows if r.category in HIGH_RISK_CATEGORIES}


def appeared(before: Assessment | None, after: Assessment) -> list[AlertEvent]:
    """High-risk assets in ``after`` that were not high-risk assets in ``before``."""
    new = high_risk_ids(after) - high_risk_ids(before)
    out = []
    for row in after.rows:
        if row.id in new:
            what = " ".join(x for x in (row.vendor_name, row.product) if x) or "unidentified"
            out.append(AlertEvent("high_risk_appeared", f"high-risk device appeared: {row.id} ({what}, "
                                  f"{row.category.replace('_', ' ')})",
                                  {"asset_id": row.id, "vendor": row.vendor, "group": row.group,
                                   "product": row.product, "category": row.category, "ips": list(row.ips)}))
    return out


def passed_deadlines(after: Assessment, already: Iterable[tuple[str, str, str]]) -> list[AlertEvent]:
    """One alert per (policy, requirement, deadline) past due with covered assets, unless raised before."""
    seen = set(already)
    assets: dict[tuple[str, str, str], list[str]] = {}
    for findings in after.findings_by_asset.values():
        for f in findings:
            if f.status is Status.overdue and f.deadline is not None:
                assets.setdefault((f.policy, f.requirement, f.deadline.isoformat()), []).append(f.asset_id)
    out = []
    for key in sorted(assets):
        if key in seen:
            continue
        policy, requirement, deadline = key
        ids = sorted(assets[key])
        out.append(AlertEvent("deadline_passed", f"deadline passed with covered equipment present: {policy} "
                              f"{requirement} (due {deadline}): {len(ids)} asset{'s' if len(ids) != 1 else ''}",
                              {"policy": policy, "requirement": requirement, "deadline": deadline,
                               "assets": ids[:100], "count": len(ids)}))
    return out


def raised_deadlines(alerts: Iterable[Alert]) -> set[tuple[str, str, str]]:
    return {(str(a.detail.get("policy")), str(a.detail.get("requirement")), str(a.detail.get("deadline")))
            for a in alerts if a.kind == "deadline_passed"}


def post_webhook(url: str, payload: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT_S) -> str | None:
    """POST ``payload`` as JSON; returns None, or a one-line error (a monitor must not die of a webhook)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "vendorscope-watch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own URL
            response.read(1 << 16)
    except urllib.error.HTTPError as exc:
        return f"webhook {url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"webhook {url}: {getattr(exc, 'reason', exc)}"
    return None


@dataclass
class RoundResult:
    snapshot_id: int | None
    hosts: int
    observations: int
    alerts: list[AlertEvent]
    started_at: datetime | None = None  # when the round began: a resumed watch counts its next round from it


class Monitor:
    """One watched scope over one inventory; :meth:`round` probes, stores, judges and alerts."""

    def __init__(self, data: WebData, accounts: Accounts, db: str, probe: Callable[[], tuple[Any, Any]],
                 webhook: str | None = None, as_of: Callable[[], date] = date.today) -> None:
        self.data = data
        self.accounts = accounts
        self.db = db
        self.probe = probe  # runs the probes: returns (report, ingest result)
        self.webhook = webhook
        self.as_of = as_of

    def round(self) -> RoundResult:
        started_at = datetime.now(UTC)
        before = self.data.assessment(self.as_of()) if self.data.snapshots() else None
        report, result = self.probe()
        after = self.data.assessment(self.as_of())
        events = appeared(before, after) + passed_deadlines(after, raised_deadlines(self.accounts.alerts(10_000)))
        for event in events:
            self.raise_alert(event, result.snapshot_id)
        return RoundResult(result.snapshot_id, int(report.stats.get("hosts", 0)), len(report.observations), events,
                           started_at)

    def raise_alert(self, event: AlertEvent, snapshot_id: int | None) -> None:
        log.warning("ALERT %s: %s", event.kind, event.message)
        stored = self.accounts.add_alert(event.kind, event.message, event.detail, snapshot_id)
        if self.webhook:
            payload = {"source": "vendorscope", "id": stored.id, "at": stored.at.isoformat(), "kind": event.kind,
                       "message": event.message, "detail": event.detail, "snapshot_id": snapshot_id}
            problem = post_webhook(self.webhook, payload)
            if problem:
                log.error("%s (alert %s kept in the inventory)", problem, stored.id)


def run_rounds(monitor: Monitor, every_s: float, rounds: int | None, stop: threading.Event,
               on_round: Callable[[int, RoundResult], None] = lambda _n, _r: None, first_wait_s: float = 0.0) -> int:
    """Run rounds every ``every_s`` seconds (from the start of one to the next) until ``rounds`` or ``stop``.

    ``first_wait_s``: how long to wait before the first round (a resumed watch keeps its rhythm).
    """
    done = 0
    if first_wait_s > 0:
        stop.wait(first_wait_s)
    while not stop.is_set() and (rounds is None or done < rounds):
        started = _now()
        result = monitor.round()
        done += 1
        on_round(done, result)
        if rounds is not None and done >= rounds:
            break
        stop.wait(max(0.0, every_s - (_now() - started)))
    return done


def _now() -> float:
    import time

    return time.monotonic()


def probe_function(scope: Any, addresses: list[str], audit_path: Path, db: str, concurrency: int,
                   on_host: Callable[[Any], None] | None = None) -> Callable[[], tuple[Any, Any]]:
    """One probe round as `vendorscope probe` runs it: the scope's gate, the audit log, one snapshot."""

    def run() -> tuple[Any, Any]:
        from vendorscope.collect.probe.audit import AuditLog
        from vendorscope.collect.probe.runner import run_probe
        from vendorscope.pipeline import ingest

        with AuditLog.open(audit_path) as audit:
            report = run_probe(scope, addresses, audit, concurrency=concurrency, on_host=on_host)
        result = ingest(report.observations, source="probe", db=db, started_at=report.started_at,
                        stats=report.stats)
        return report, result

    return run
