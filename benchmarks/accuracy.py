"""Accuracy: how much of what Rapid7 recog can name does vendorscope name, and is any high-risk device missed?

Runs every example string of a recog checkout (default: ../shared/recog found from the project
root or a parent) through vendorscope's engine as an observation, twice:

- with recog loaded: share of examples whose best attribution names recog's vendor (target
  >= 95%) and also its product; every example of a high-risk vendor found; no high-risk
  attribution on an example of another vendor;
- with the project's own rules only: share of recog's high-risk examples found (target >= 90%),
  the misses listed; precision and recall per evidence kind;

plus the lab's cited device answers (devices.toml vendor-endpoint bodies, the snmprec inventory
values) per evidence kind, `http.body` and the SNMP inventory kinds included (recog has none of
them): recall on each profile's own maker, and no high-risk attribution on another maker's answer;

plus the IEEE registry checks (MA-M, MA-S and IAB blocks name their registrant; look-alikes don't
attribute). Exit status 1 when a target is missed.

    python benchmarks/accuracy.py [--recog PATH] [--misses N]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from vendorscope.evidence import http as http_evidence
from vendorscope.evidence import snmp as snmp_evidence
from vendorscope.identify.engine import Engine
from vendorscope.identify.recog import (
    RecogDatabase,
    VendorMap,
    expected_naming,
    load_recog,
    observed_value,
    vendor_slug,
)
from vendorscope.identify.registry import Registry, default_registry

ROOT = Path(__file__).resolve().parents[1]
TARGET_NAMED = 0.95
TARGET_OWN_HIGH_RISK = 0.90
TARGET_HIGH_RISK_PRECISION = 0.99  # on every set: high-risk attributions that name the right maker
# Inventory kinds that label a device but name no maker by design (no rule reads them): out of recall.
LABEL_ONLY_KINDS = frozenset({"snmp.entity.serial", "snmp.entity.model_name", "snmp.entity.software_rev",
                              "snmp.private_firmware"})
# MAC checks: (address, block, registrant) of MA-M, MA-S and IAB blocks; then look-alikes.
MAC_BLOCKS = (
    ("88:C9:B3:10:00:01", "MA-M", "Cervoz Technology Co; Ltd."),
    ("70:B3:D5:04:20:01", "MA-S", "Coveloz Technologies Inc."),
    ("00:1B:C5:00:00:01", "MA-S", "Converging Systems Inc."),  # an IAB block
)
MAC_NOT_ATTRIBUTED = ("40:2C:76:10:00:01", "02:E0:FC:12:34:56", "01:E0:FC:12:34:56")


def shared_recog(start: Path = ROOT) -> Path | None:
    """$VENDORSCOPE_TEST_RECOG, else the first shared/recog beside the project or a parent folder."""
    env = os.environ.get("VENDORSCOPE_TEST_RECOG")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for folder in (start, *start.parents):
        candidate = folder / "shared" / "recog"
        if (candidate / "xml").is_dir():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class Case:
    kind: str
    value: str
    rule: str  # the recog fingerprint the example belongs to
    vendor: str | None  # as recog names it
    group: str | None  # its registry group (or a slug when the registry does not know it)
    product: str | None
    complete: bool  # vendor and product fully known from the example
    high_risk: bool


@dataclass
class Tally:
    total: int = 0
    vendor_right: int = 0
    product_right: int = 0
    attributed: int = 0
    attributed_right: int = 0
    misses: list[str] = field(default_factory=list)


def cases_of(recog: RecogDatabase, registry: Registry) -> list[Case]:
    vendor_of = VendorMap(registry)
    out = []
    for fp in recog.fingerprints.values():
        for example in fp.examples:
            vendor, product, complete = expected_naming(fp, example)
            vid = (vendor_of(vendor) or vendor_slug(vendor)) if vendor else None
            group = registry.group_of(vid) if vid in registry else vid
            high_risk = bool(group in registry and registry[group].high_risk) if group else False
            out.append(Case(fp.rule.kinds[0], observed_value(fp, example), fp.rule.id, vendor, group, product,
                            complete, high_risk))
    return out


def lab_cases(registry: Registry) -> list[Case]:
    """Every lab profile's vendor-endpoint bodies and SNMP inventory values, as its maker would name them."""
    from vendorscope.lab.profiles import data_path, load_profiles
    from vendorscope.lab.snmp import load_snmprec

    out = []
    for profile in load_profiles():
        if profile.vendor is None:
            continue
        group = registry.group_of(profile.vendor)
        high_risk = bool(group in registry and registry[group].high_risk)

        def case(kind: str, value: str, rule: str, group: str = group, high_risk: bool = high_risk,
                 vendor: str = profile.vendor) -> Case:
            return Case(kind, value, rule, vendor, group, None, True, high_risk)

        for service in (profile.http, profile.https):
            for answer in service.answers if service else ():
                found = http_evidence.body_evidence(answer.body.encode(), [("content-type", answer.content_type)],
                                                    answer.path)
                if found is not None:
                    out.append(case(found.kind, found.value, f"{profile.name} {answer.path}"))
        if profile.snmp is not None and profile.snmp.data:
            for oid, item in load_snmprec(data_path("data", "snmp", profile.snmp.data)).items():
                raw = bytes(item.asOctets()) if hasattr(item, "asOctets") else None
                dotted = ".".join(str(x) for x in oid)
                found_snmp = snmp_evidence.inventory_evidence(dotted, raw) if raw else None
                if found_snmp is not None and found_snmp.kind not in LABEL_ONLY_KINDS:
                    out.append(case(found_snmp.kind, found_snmp.value, f"{profile.name} {dotted}"))
    return out


def high_risk_precision(found: int, false_hits: list[str]) -> float:
    """Share of high-risk attributions that name the example's own maker (1.0 when there are none)."""
    return found / (found + len(false_hits)) if found + len(false_hits) else 1.0


def high_risk_groups(registry: Registry) -> set[str]:
    return {registry.group_of(v.id) for v in registry.vendors.values() if v.high_risk}


def measure(engine: Engine, cases: list[Case]) -> dict[str, Tally]:
    """Per evidence kind: vendor right (best attribution), product right, precision of attributions."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for case in cases:
        if case.vendor is None or not case.complete:
            continue
        tally = tallies[case.kind]
        tally.total += 1
        found = engine.identify_value(case.kind, case.value)
        best = found[0] if found else None
        if best is not None:
            tally.attributed += 1
        if best is not None and best.group == case.group:
            tally.vendor_right += 1
            tally.attributed_right += 1
            if case.product is None or any(a.group == case.group and a.product == case.product for a in found):
                tally.product_right += 1
        elif len(tally.misses) < 1000:
            got = f"{best.vendor_name} ({best.rule})" if best else "nothing"
            tally.misses.append(f"{case.kind} {case.value[:70]!r}: recog says {case.vendor}, got {got}")
    return dict(tallies)


def ever_member_groups(registry: Registry, group: str | None) -> set[str]:
    """The groups ``group`` ever belonged to (a brand or subsidiary then: a white label of its maker)."""
    if group is None or group not in registry:
        return set()
    return {registry.group_of(aff.parent) for aff in registry[group].affiliations}


def high_risk_pass(engine: Engine, cases: list[Case], registry: Registry) -> tuple[int, list[str], list[str]]:
    """(high-risk examples found, the missed ones, false high-risk attributions).

    A component attribution (a chip or SDK inside the device, e.g. HiSilicon's HiIpcam in a
    Foscam camera) does not name the device, so it is no false attribution of the device; nor
    is naming the maker of a label that belonged to that maker (Lorex devices made by Dahua).
    """
    risky = high_risk_groups(registry)
    found_count, missed, false_hits = 0, [], []
    for case in cases:
        found = engine.identify_value(case.kind, case.value)
        groups = {a.group for a in found}
        if case.high_risk:
            if case.group in groups:
                found_count += 1
            else:
                missed.append(f"{case.kind} {case.value[:80]!r} ({case.vendor}, {case.rule})")
        elif case.vendor is not None:
            device_groups = {a.group for a in found if not a.component}
            allowed = {case.group} | ever_member_groups(registry, case.group)
            wrong = sorted(device_groups & risky - allowed)
            if wrong:
                false_hits.append(f"{case.kind} {case.value[:80]!r}: recog says {case.vendor}, got {wrong}")
    return found_count, missed, false_hits


def mac_checks(engine: Engine) -> list[str]:
    problems = []
    for mac, block, registrant in MAC_BLOCKS:
        info = engine.oui.lookup(mac)
        if (info.block, info.registrant) != (block, registrant):
            problems.append(f"{mac}: expected {block} {registrant!r}, got {info.block} {info.registrant!r}")
    for mac in MAC_NOT_ATTRIBUTED:
        if engine.identify_value("mac", mac):
            problems.append(f"{mac}: must not be attributed")
    return problems


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "  n/a"


def print_kinds(title: str, tallies: dict[str, Tally]) -> None:
    print(f"\n{title}")
    print(f"  {'kind':<24} {'examples':>8} {'vendor':>7} {'product':>8} {'precision':>9} {'recall':>7}")
    for kind, t in sorted(tallies.items(), key=lambda kv: -kv[1].total):
        print(f"  {kind:<24} {t.total:>8} {_pct(t.vendor_right, t.total):>7} {_pct(t.product_right, t.total):>8} "
              f"{_pct(t.attributed_right, t.attributed):>9} {_pct(t.vendor_right, t.total):>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recog", type=Path, default=None, help="a recog checkout (or its xml/ folder)")
    parser.add_argument("--misses", type=int, default=25, help="how many misses to list")
    args = parser.parse_args(argv)
    recog_path = args.recog or shared_recog()
    if recog_path is None:
        print("no recog checkout: pass --recog PATH or set VENDORSCOPE_TEST_RECOG", file=sys.stderr)
        return 2
    registry = default_registry()
    recog = load_recog([recog_path], registry)
    cases = cases_of(recog, registry)
    checkable = [c for c in cases if c.vendor is not None and c.complete]
    print(f"recog at {recog_path}: {len(recog.fingerprints)} fingerprints, {len(cases)} examples, "
          f"{len(checkable)} name a vendor")
    ok = True

    with_recog = Engine(registry=registry, recog=recog)
    tallies = measure(with_recog, cases)
    total = sum(t.total for t in tallies.values())
    named = sum(t.vendor_right for t in tallies.values())
    product = sum(t.product_right for t in tallies.values())
    print(f"\nwith recog loaded: vendor named right {_pct(named, total)} ({named}/{total}, target >= 95%), "
          f"vendor and product {_pct(product, total)}")
    ok &= total > 0 and named / total >= TARGET_NAMED
    found, missed, false_hits = high_risk_pass(with_recog, cases, registry)
    high = found + len(missed)
    print(f"  high-risk examples found: {found}/{high}; false high-risk attributions: {len(false_hits)}; "
          f"high-risk precision {high_risk_precision(found, false_hits):.3f} (target >= {TARGET_HIGH_RISK_PRECISION})")
    ok &= high_risk_precision(found, false_hits) >= TARGET_HIGH_RISK_PRECISION
    for line in (missed + false_hits)[: args.misses]:
        print(f"    {line}")
    ok &= not missed and not false_hits
    misses = [m for t in tallies.values() for m in t.misses]
    if misses:
        print(f"  first {min(args.misses, len(misses))} of {len(misses)} examples not named right:")
        for line in misses[: args.misses]:
            print(f"    {line}")

    own = Engine(registry=registry)
    own_found, own_missed, own_false = high_risk_pass(own, cases, registry)
    print(f"\nown rules only: recog's high-risk examples found {_pct(own_found, high)} ({own_found}/{high}, "
          f"target >= 90%); false high-risk attributions: {len(own_false)}; high-risk precision "
          f"{high_risk_precision(own_found, own_false):.3f} (target >= {TARGET_HIGH_RISK_PRECISION})")
    ok &= high_risk_precision(own_found, own_false) >= TARGET_HIGH_RISK_PRECISION
    for line in (own_missed + own_false)[: max(args.misses, 100)]:
        print(f"    {line}")
    ok &= high > 0 and own_found / high >= TARGET_OWN_HIGH_RISK
    print_kinds("own rules only, per evidence kind (recog's examples that name a vendor)", measure(own, cases))
    print_kinds("with recog loaded, per evidence kind", tallies)

    lab = lab_cases(registry)
    lab_found, lab_missed, lab_false = high_risk_pass(own, lab, registry)
    print(f"\nlab's cited answers (vendor endpoints, SNMP inventory): high-risk found {lab_found}/"
          f"{lab_found + len(lab_missed)}; false high-risk attributions: {len(lab_false)}; high-risk precision "
          f"{high_risk_precision(lab_found, lab_false):.3f} (target >= {TARGET_HIGH_RISK_PRECISION}; label-only "
          f"kinds {', '.join(sorted(LABEL_ONLY_KINDS))} left out)")
    ok &= high_risk_precision(lab_found, lab_false) >= TARGET_HIGH_RISK_PRECISION
    for line in lab_false[: args.misses]:
        print(f"    {line}")
    ok &= not lab_false
    print_kinds("lab answers, own rules, per evidence kind (precision and recall on each profile's maker)",
                measure(own, lab))

    problems = mac_checks(own)
    print(f"\nIEEE registry: MA-M/MA-S/IAB registrants and look-alikes: {'ok' if not problems else 'FAILED'}")
    for line in problems:
        print(f"    {line}")
    ok &= not problems
    kinds = Counter(c.kind for c in cases)
    print(f"\n{len(kinds)} evidence kinds; result: {'all targets met' if ok else 'a target was missed'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
