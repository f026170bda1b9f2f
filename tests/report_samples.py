"""Assets, findings, packs and history built directly, for the report tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from vendorscope.model import Asset, Attribution, Conflict, EvidenceLink, Finding, Observation, Role, Status, Verdict
from vendorscope.report.data import HistoryPoint

AS_OF = date(2026, 3, 1)
HOSTILE_BANNER = 'SSH-2.0-HUAWEI-1.5 <script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
HOSTILE_SITE = "<script>window.pwned=3</script>Depot"
HOSTILE_PRODUCT = '<img src=x onerror="window.pwned=4">Cam'
HIGH_RISK = frozenset({"huawei", "zte", "hikvision", "dahua", "hytera"})

# vendor id, display name, group, product, device type, role, evidence kind, value
VENDORS = [
    ("huawei", "Huawei", "huawei", "NE40E", "router", Role.core, "ssh.banner", "SSH-2.0-HUAWEI-1.5"),
    ("zte", "ZTE", "zte", "ZXR10", "router", Role.transport, "snmp.sysdescr", "ZXR10 ROS Version V4.08"),
    ("hikvision", "Hikvision", "hikvision", "DS-2CD2143", "camera", Role.cctv, "http.server", "App-webs/"),
    ("dahua", "Dahua", "dahua", "IPC-HDW", "camera", Role.cctv, "rtsp.server", "Rtsp Server/3.0"),
    ("hytera", "Hytera", "hytera", "PD785", "radio", Role.radio, "sip.user_agent", "Hytera SIP"),
    ("cisco", "Cisco", "cisco", "Catalyst 9300", "switch", Role.enterprise, "snmp.sysdescr", "Cisco IOS XE"),
    (None, None, None, None, None, Role.unknown, "mac", "00:11:22:33:44:55"),
]
SITES = ["HQ", "Plant 2", "Base Alpha", None]


@dataclass(frozen=True)
class Pack:
    id: str
    title: str
    jurisdiction: str
    authority: str
    instrument: str
    url: str
    binding: bool
    reviewed: date | None = None

    def stale(self, today: date) -> bool:
        return self.reviewed is None or (today - self.reviewed).days > 180


PACKS = [
    Pack("us-ndaa-889", "US NDAA section 889", "US", "US Congress", "NDAA FY2019 s. 889",
         "https://www.acq.osd.mil/dpap/dars/section889.html", True),
    Pack("de-5g-core", "Germany 5G core agreement", "DE", "BMI", "agreement with operators",
         "javascript:alert(1)", True),
]
DEADLINE_SOON = date(2026, 12, 31)
DEADLINE_PASSED = date(2025, 6, 30)


def asset(i: int, *, hostile: bool = False) -> Asset:
    vendor, name, group, product, dtype, role, kind, value = VENDORS[i % len(VENDORS)]
    mac = f"02:00:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    seen = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=i)
    site = SITES[i % len(SITES)]
    if hostile:
        value, site, product = HOSTILE_BANNER, HOSTILE_SITE, HOSTILE_PRODUCT
    obs = Observation(kind=kind, value=value, source="pcap:lab.pcap", seen_at=seen,
                      context={"file": "lab.pcap", "frame": 100 + i, "port": 22})
    attributions = []
    if vendor is not None:
        attributions.append(Attribution(vendor=vendor, vendor_name=name or vendor, group=group or vendor,
                                        confidence=0.9, rule=f"{kind}.{vendor}", product=product,
                                        version="1.5", device_type=dtype, observation=obs))
    conflicts = []
    if vendor == "hikvision" and i % 3 == 0:
        conflicts.append(Conflict(label_vendor="acme", label_kind="inventory.manufacturer",
                                  fingerprint_vendor="hikvision", fingerprint_kind="http.server",
                                  detail="labelled Acme, fingerprint says Hikvision"))
    return Asset(
        id=f"mac:{mac}",
        keys={"mac": {mac}, "ip": {ip}},
        observations=[obs],
        attributions=attributions,
        verdict=Verdict(vendor=vendor, vendor_name=name, group=group, confidence=0.9 if vendor else 0.0,
                        product=product, version="1.5" if vendor else None, device_type=dtype),
        conflicts=conflicts,
        role=role,
        site=site,
        site_tags=frozenset({"government"}) if site == "Base Alpha" else frozenset(),
        first_seen=seen,
        last_seen=seen,
    )


def findings_for(a: Asset, as_of: date = AS_OF) -> list[Finding]:
    v = a.verdict
    out = []
    ev = tuple(EvidenceLink.of(att) for att in a.attributions)
    if v.group in HIGH_RISK:
        status = Status.prohibited if v.group in ("huawei", "zte") or a.site == "Base Alpha" else Status.review
        out.append(Finding(a.id, "us-ndaa-889", "part-b-use", status, as_of, None, "high",
                           f"{v.vendor_name} equipment in the enterprise", ev))
    if v.group in ("huawei", "zte") and a.role is Role.core:
        out.append(Finding(a.id, "de-5g-core", "core-exit", Status.must_remove, as_of, DEADLINE_SOON, "high",
                           "5G core: out by the end of 2026", ev))
    if v.group == "zte":
        out.append(Finding(a.id, "de-5g-core", "legacy-exit", Status.overdue, as_of, DEADLINE_PASSED, "high",
                           "was due mid 2025", ev))
    if not out:
        out.append(Finding(a.id, "us-ndaa-889", "part-b-use", Status.clear, as_of, None, "info", "not covered"))
    return out


def sample(n: int, hostile: int = 1) -> tuple[list[Asset], list[Finding]]:
    """``n`` assets; the first ``hostile`` carry hostile banners, sites and products (Huawei core)."""
    assets = [asset(i * len(VENDORS) if i < hostile else i, hostile=i < hostile) for i in range(n)]
    findings = [f for a in assets for f in findings_for(a)]
    return assets, findings


def history(points: int = 4) -> list[HistoryPoint]:
    """A shrinking number of covered assets, one point a month up to the as-of date."""
    out = []
    for k in range(points):
        at = datetime(2025, 12, 1, tzinfo=UTC) + timedelta(days=30 * k)
        out.append(HistoryPoint(
            at=at,
            snapshot_id=k + 1,
            covered={("de-5g-core", "core-exit"): 40 - 8 * k, ("de-5g-core", "legacy-exit"): 20 - 2 * k,
                     ("us-ndaa-889", "part-b-use"): 100 - 5 * k},
            deadlines={("de-5g-core", "core-exit"): DEADLINE_SOON, ("de-5g-core", "legacy-exit"): DEADLINE_PASSED,
                       ("us-ndaa-889", "part-b-use"): None},
        ))
    return out
