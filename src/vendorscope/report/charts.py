"""Inline SVG charts, made in Python: no JavaScript, no CDN, no fonts to fetch.

Every piece of text that reaches an SVG passes through :func:`markupsafe.escape`
(site names and products come from hostile banners and hand-typed cells); the
builders return :class:`markupsafe.Markup` so that templates insert them as is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

from markupsafe import Markup, escape

from vendorscope.report.data import BreakdownRow, BurnDown

# Colours of the stacked bars, by category; used by the legend too.
COLOURS: dict[str, str] = {
    "covered": "#c0392b",
    "review": "#e08e0b",
    "high_risk": "#7d3c98",
    "other": "#aab4be",
}
LABELS: dict[str, str] = {
    "covered": "covered by a requirement",
    "review": "needs review",
    "high_risk": "high-risk maker, not covered",
    "other": "other",
}
CATEGORIES: tuple[str, ...] = ("covered", "review", "high_risk", "other")
MAX_BARS = 12
LABEL_CHARS = 24
FONT = "font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,sans-serif\""


# C0 controls (other than tab and newlines), DEL and lone surrogates: not allowed
# in XML, never useful in a label.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _e(value: object) -> str:
    """Text for an SVG: escaped, with characters XML forbids replaced by U+FFFD."""
    return str(escape(_UNPRINTABLE.sub("\ufffd", str(value))))


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def fold_rows(rows: Sequence[BreakdownRow], limit: int = MAX_BARS) -> list[BreakdownRow]:
    """The first ``limit - 1`` rows, and the rest summed into one ``other (N)`` row."""
    if len(rows) <= limit:
        return list(rows)
    head, tail = list(rows[: limit - 1]), rows[limit - 1 :]
    head.append(
        BreakdownRow(
            key=f"{len(tail)} more",
            assets=sum(r.assets for r in tail),
            covered=sum(r.covered for r in tail),
            review=sum(r.review for r in tail),
            high_risk=sum(r.high_risk for r in tail),
            other=sum(r.other for r in tail),
        )
    )
    return head


def bar_chart(rows: Sequence[BreakdownRow], title: str, limit: int = MAX_BARS) -> Markup:
    """Horizontal stacked bars: assets per key, split by category."""
    shown = fold_rows(rows, limit)
    width, label_w, count_w, row_h, top = 640, 190, 70, 24, 34
    bar_w = width - label_w - count_w
    height = top + max(len(shown), 1) * row_h + 8
    biggest = max((r.assets for r in shown), default=0) or 1
    parts = [
        f'<svg class="chart bar-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{_e(title)}" {FONT} font-size="12">',
        f"<title>{_e(title)}</title>",
    ]
    x = 0.0
    for cat in CATEGORIES:  # legend
        parts.append(f'<rect x="{_num(x)}" y="6" width="12" height="12" fill="{COLOURS[cat]}"/>')
        parts.append(f'<text x="{_num(x + 16)}" y="16" fill="#333">{_e(LABELS[cat])}</text>')
        x += 26 + 6.4 * len(LABELS[cat])
    if not shown:
        parts.append(f'<text x="{label_w}" y="{top + 16}" fill="#666">no assets</text>')
    for i, r in enumerate(shown):
        y = top + i * row_h
        parts.append(f'<g class="bar" data-key="{_e(r.key)}">')
        parts.append(f"<title>{_e(r.key)}: {r.assets} assets</title>")
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" fill="#222">{_e(_short(r.key))}</text>'
        )
        x = float(label_w)
        for cat in CATEGORIES:
            n = getattr(r, cat)
            if not n:
                continue
            w = bar_w * n / biggest
            parts.append(
                f'<rect class="seg-{cat}" x="{_num(x)}" y="{y + 4}" width="{_num(max(w, 1.0))}" height="{row_h - 8}" '
                f'fill="{COLOURS[cat]}"><title>{_e(r.key)}: {n} {_e(LABELS[cat])}</title></rect>'
            )
            x += w
        parts.append(f'<text x="{_num(x + 6)}" y="{y + 16}" fill="#222">{r.assets}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _day(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


def burndown_chart(series: BurnDown, as_of: date, title: str | None = None) -> Markup:
    """Covered assets after each snapshot (solid), the straight path to zero by the deadline (dashed),
    the deadline (red) and the as-of date (grey)."""
    title = title or f"{series.policy} / {series.requirement}: deadline {series.deadline.isoformat()}"
    width, height = 640, 240
    left, right, top, bottom = 52, 20, 30, 40
    pw, ph = width - left - right, height - top - bottom
    days = [_day(p.at) for p in series.points]
    start = min([*days, as_of, series.deadline])
    end = max([*days, as_of, series.deadline])
    span = max((end - start).days, 1)
    start_o = start.toordinal() - span * 0.03
    end_o = end.toordinal() + span * 0.03
    top_value = max([p.covered for p in series.points] + [1])
    y_max = top_value * 1.15

    def px(d: date) -> float:
        return left + pw * (d.toordinal() - start_o) / (end_o - start_o)

    def py(v: float) -> float:
        return top + ph * (1 - v / y_max)

    parts = [
        f'<svg class="chart burndown" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{_e(title)}" {FONT} font-size="12">',
        f"<title>{_e(title)}</title>",
        f'<text x="{left}" y="18" fill="#222" font-weight="600">{_e(_short(title, 90))}</text>',
    ]
    # axes and y ticks
    parts.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#888"/>'
    )
    ticks = sorted({0, top_value // 2, top_value}) if top_value > 1 else [0, 1]
    for t in ticks:
        y = py(t)
        parts.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{left + pw}" y2="{_num(y)}" stroke="#e4e7eb"/>'
            f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" fill="#555">{t}</text>'
        )
    parts.append(
        f'<text x="14" y="{top + ph / 2}" fill="#555" transform="rotate(-90 14 {top + ph / 2})" '
        f'text-anchor="middle">assets</text>'
    )
    # x labels: first point, as-of, deadline (skipping ones that would overlap)
    labelled: list[float] = []
    for d, cls in ((start, "start"), (series.deadline, "deadline"), (as_of, "as-of"), (end, "end")):
        x = px(d)
        if any(abs(x - other) < 70 for other in labelled):
            continue
        labelled.append(x)
        parts.append(
            f'<text class="x-{cls}" x="{_num(x)}" y="{top + ph + 16}" text-anchor="middle" fill="#555">'
            f"{d.isoformat()}</text>"
        )
    # as-of and deadline markers
    xa = px(as_of)
    parts.append(
        f'<line class="as-of" x1="{_num(xa)}" y1="{top}" x2="{_num(xa)}" y2="{top + ph}" stroke="#6b7785" '
        f'stroke-dasharray="2 3"><title>as of {as_of.isoformat()}</title></line>'
    )
    xd = px(series.deadline)
    if xd < left + pw:
        parts.append(
            f'<rect class="past-deadline" x="{_num(xd)}" y="{top}" width="{_num(left + pw - xd)}" height="{ph}" '
            f'fill="#c0392b" fill-opacity="0.07"><title>past the deadline</title></rect>'
        )
    parts.append(
        f'<line class="deadline" x1="{_num(xd)}" y1="{top}" x2="{_num(xd)}" y2="{top + ph}" stroke="#c0392b" '
        f'stroke-width="2"><title>deadline {series.deadline.isoformat()}</title></line>'
        f'<text x="{_num(xd)}" y="{top + ph + 32}" text-anchor="middle" fill="#c0392b">deadline</text>'
    )
    pts = sorted(zip(days, series.points, strict=True), key=lambda t: (t[0], t[1].at))
    if pts:
        first_day, first = pts[0]
        if first_day < series.deadline and first.covered:
            parts.append(
                f'<line class="target" x1="{_num(px(first_day))}" y1="{_num(py(first.covered))}" '
                f'x2="{_num(xd)}" y2="{_num(py(0))}" stroke="#27ae60" stroke-dasharray="6 4">'
                f"<title>straight path to zero by the deadline</title></line>"
            )
        coords = " ".join(f"{_num(px(d))},{_num(py(p.covered))}" for d, p in pts)
        if len({d for d, _ in pts}) > 1:
            parts.append(f'<polyline class="actual" points="{coords}" fill="none" stroke="#1f4e79" stroke-width="2"/>')
        # One snapshot (or all on one day) is a single point, not a line: drawn larger, and said so.
        single = len({d for d, _ in pts}) == 1
        for d, p in pts[-1:] if single else pts:
            label = f"snapshot {p.snapshot_id}, " if p.snapshot_id is not None else ""
            parts.append(
                f'<circle class="point" cx="{_num(px(d))}" cy="{_num(py(p.covered))}" r="{5 if single else 3.5}" '
                f'fill="#1f4e79"><title>{_e(label)}{d.isoformat()}: {p.covered} covered assets</title></circle>'
            )
        if single:
            parts.append(
                f'<text class="single-point" x="{left + pw}" y="{top + 12}" text-anchor="end" fill="#555">'
                f"one snapshot so far: a single point; the trend shows from the second</text>"
            )
        last_day, last = pts[-1]
        parts.append(
            f'<text x="{_num(min(px(last_day) + 6, left + pw - 30))}" y="{_num(py(last.covered) - 6)}" '
            f'fill="#1f4e79" font-weight="600">{last.covered}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
