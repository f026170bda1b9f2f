"""``vendorscope scale exposure``: the national view of attributed scan data.

Spark reduces the attributed rows (``scale identify``'s Parquet) to small
counts (:func:`exposure_counts`); everything after that is pure Python on those
counts (:func:`build_exposure`): which vendors each policy pack covers (the
judge's own :func:`~vendorscope.judge.evaluate.coverage_of` on the as-of date),
and the breakdowns per vendor group, product and version, port/service,
country and autonomous system, split into the report's categories and drawn
with the report's charts.

The unit is the host (distinct IP address) when the rows carry ``ip``, each
with the verdict of its best attribution (highest confidence); a row without
an address counts as a unit of its own.
Port/service counts services (IP, port) the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from vendorscope.identify.registry import Registry
from vendorscope.judge.evaluate import coverage_of
from vendorscope.judge.packs import PolicyPack
from vendorscope.report.data import BreakdownRow, Category

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

UNKNOWN = "(unknown)"
MAX_TABLE_ROWS = 200


@dataclass(frozen=True, slots=True)
class ExposureCounts:
    """What Spark hands back: totals and (vendor, key..., count) tuples, small whatever the input."""

    unit: str  # "hosts" or "rows"
    rows: int
    errors: int
    units: int  # hosts (or rows) with at least one readable observation
    by_product: list[tuple[str, str | None, str | None, int]] = field(default_factory=list)
    by_country: list[tuple[str, str | None, int]] = field(default_factory=list)
    by_asn: list[tuple[str, int | None, str | None, int]] = field(default_factory=list)
    by_service: list[tuple[str, int | None, str | None, int]] = field(default_factory=list)


# -- Spark ----------------------------------------------------------------------------------------


def exposure_counts(frame: DataFrame) -> ExposureCounts:
    """Reduce attributed rows to :class:`ExposureCounts` (one pass to cache the host verdicts)."""
    from pyspark.sql import functions as F

    columns = set(frame.columns)
    if not {"vendor", "confidence"} <= columns:
        raise ValueError("has no vendor and confidence columns (is it the output of `scale identify`?)")

    def col(name: str, kind: str = "string") -> Any:
        return F.col(name) if name in columns else F.lit(None).cast(kind)

    unit = "hosts" if "ip" in columns else "rows"
    rows = frame.select(
        # A row without an address is a unit of its own.
        F.coalesce(col("ip"), F.concat(F.lit("row:"), F.monotonically_increasing_id().cast("string"))).alias("unit"),
        col("error").alias("error"), col("vendor").alias("vendor"), F.col("confidence").alias("confidence"),
        col("product").alias("product"), col("version").alias("version"), col("country").alias("country"),
        col("asn", "bigint").alias("asn"), col("as_name").alias("as_name"), col("port", "int").alias("port"),
        col("service").alias("service"),
    )
    totals = rows.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count("error").alias("errors"),
        F.countDistinct(F.when(F.col("error").isNull(), F.col("unit"))).alias("units"),
    ).first()
    found = rows.filter(F.col("vendor").isNotNull())
    best = F.max(F.struct("confidence", "vendor", "product", "version")).alias("best")
    hosts = found.groupBy("unit").agg(
        best, F.max("country").alias("country"), F.max("asn").alias("asn"), F.max("as_name").alias("as_name")
    ).select("best.vendor", "best.product", "best.version", "country", "asn", "as_name").cache()
    services = found.groupBy("unit", "port", "service").agg(best).select("best.vendor", "port", "service")

    def tuples(df: DataFrame, *keys: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in df.groupBy(*keys).count().collect()]

    try:
        return ExposureCounts(
            unit=unit,
            rows=int(totals["rows"]) if totals else 0,
            errors=int(totals["errors"]) if totals else 0,
            units=int(totals["units"]) if totals else 0,
            by_product=tuples(hosts, "vendor", "product", "version"),
            by_country=tuples(hosts, "vendor", "country"),
            by_asn=tuples(hosts, "vendor", "asn", "as_name"),
            by_service=tuples(services, "vendor", "port", "service"),
        )
    finally:
        hosts.unpersist()


# -- pure -----------------------------------------------------------------------------------------


def vendor_category(vendor: str, packs: Sequence[PolicyPack], on: date, registry: Registry) -> Category:
    """Covered if some pack covers the maker on ``on``, review if some pack asks for a review,
    else high-risk if the registry says so (the maker or its group), else other."""
    states = {coverage_of(vendor, pack, on, registry).state for pack in packs}
    if "covered" in states:
        return Category.covered
    if "review" in states:
        return Category.review
    if vendor in registry and (registry[vendor].high_risk or registry[registry.group_of(vendor, on)].high_risk):
        return Category.high_risk
    return Category.other


def breakdown(items: Iterable[tuple[str, str, int]], category: dict[str, Category]) -> list[BreakdownRow]:
    """(key, vendor, count) → one stacked row per key, biggest first."""
    split: dict[str, dict[Category, int]] = defaultdict(lambda: dict.fromkeys(Category, 0))
    for key, vendor, n in items:
        split[key][category.get(vendor, Category.other)] += n
    rows = [
        BreakdownRow(key=key, assets=sum(c.values()), covered=c[Category.covered], review=c[Category.review],
                     high_risk=c[Category.high_risk], other=c[Category.other])
        for key, c in split.items()
    ]
    return sorted(rows, key=lambda r: (-r.assets, r.key))


def _name(registry: Registry, vendor: str) -> str:
    return registry[vendor].name if vendor in registry else vendor


def _group(registry: Registry, vendor: str, on: date) -> str:
    return registry.group_of(vendor, on) if vendor in registry else vendor


def _asn_key(asn: int | None, name: str | None) -> str:
    if asn is None:
        return UNKNOWN
    return f"AS{asn} {name}" if name else f"AS{asn}"


def _service_key(port: int | None, service: str | None) -> str:
    if port is None and not service:
        return UNKNOWN
    return "/".join(str(p) for p in (port, service) if p not in (None, ""))


def pack_exposure(
    pack: PolicyPack, by_vendor: dict[str, int], on: date, registry: Registry
) -> dict[str, Any]:
    """One pack's covered list and the units it covers (or asks to review) on ``on``."""
    covered: dict[str, int] = {}
    review: dict[str, int] = {}
    for vendor, n in by_vendor.items():
        state = coverage_of(vendor, pack, on, registry).state
        if state == "covered":
            covered[vendor] = n
        elif state == "review":
            review[vendor] = n
    return {
        "id": pack.id, "title": pack.title, "jurisdiction": pack.jurisdiction, "url": pack.url,
        "covers": [c.name for c in pack.covers],
        "covered": sum(covered.values()), "review": sum(review.values()),
        "covered_vendors": dict(sorted(covered.items(), key=lambda kv: (-kv[1], kv[0]))),
        "review_vendors": dict(sorted(review.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def build_exposure(
    counts: ExposureCounts, packs: Sequence[PolicyPack], on: date, registry: Registry
) -> dict[str, Any]:
    """The national view as plain data (what the JSON output is, and what the HTML shows)."""
    by_vendor: dict[str, int] = defaultdict(int)
    for vendor, _, _, n in counts.by_product:
        by_vendor[vendor] += n
    category = {v: vendor_category(v, packs, on, registry) for v in by_vendor}
    for vendor, *_ in counts.by_service:
        category.setdefault(vendor, vendor_category(vendor, packs, on, registry))
    identified = sum(by_vendor.values())
    tables = {
        "by_group": breakdown(((_group(registry, v, on), v, n) for v, n in by_vendor.items()), category),
        "by_product": breakdown(
            ((" ".join(x for x in (_name(registry, v), p, ver) if x), v, n) for v, p, ver, n in counts.by_product),
            category),
        "by_service": breakdown(((_service_key(p, s), v, n) for v, p, s, n in counts.by_service), category),
        "by_country": breakdown(((c or UNKNOWN, v, n) for v, c, n in counts.by_country), category),
        "by_asn": breakdown(((_asn_key(a, name), v, n) for v, a, name, n in counts.by_asn), category),
    }
    totals = {
        "rows": counts.rows, "errors": counts.errors, counts.unit: counts.units, "identified": identified,
        **{c.value: sum(n for v, n in by_vendor.items() if category[v] is c) for c in Category},
    }
    return {
        "as_of": on.isoformat(),
        "unit": counts.unit,
        "totals": totals,
        "packs": [pack_exposure(p, by_vendor, on, registry) for p in packs],
        **{name: [asdict(r) for r in rows[:MAX_TABLE_ROWS]] for name, rows in tables.items()},
        "truncated": {name: max(len(rows) - MAX_TABLE_ROWS, 0) for name, rows in tables.items()},
    }
