"""A small real inventory for the web tests: observations through the real pipeline, with hostile text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from vendorscope.model import AssetKeys, Observation
from vendorscope.pipeline import ingest
from vendorscope.store.accounts import Accounts
from vendorscope.store.inventory import open_inventory

AS_OF = date(2026, 12, 1)
T1 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
# Hostile text as devices and spreadsheets really can send it.
SCRIPT_BANNER = "SSH-2.0-HUAWEI-1.5 <script>window.pwned=1</script>"
IMG_TITLE = '"><img src=x onerror="window.pwned=2">'
JS_HOSTNAME = "javascript:window.pwned=3"
RTL_SITE = "Depot \u202eTXT.EXE\u202c <script>window.pwned=4</script>"
HOSTILE_MAC = "02:00:00:00:00:66"


def _obs(kind: str, value: str, mac: str, ip: str, at: datetime, source: str = "pcap:lab.pcap",
         hostname: str | None = None, frame: int = 1) -> Observation:
    return Observation(kind=kind, value=value, source=source, seen_at=at,
                       keys=AssetKeys(mac=mac, ip=ip, hostname=hostname),
                       context={"file": "lab.pcap", "frame": frame, "port": 22})


def round_one(at: datetime = T1) -> list[Observation]:
    return [
        _obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", "00:e0:fc:00:00:01", "192.0.2.1", at, frame=10),
        _obs("snmp.sysdescr", "ZXR10 ROS Version V4.08.23 ZXR10 M6000", "02:00:00:00:00:02", "192.0.2.2", at,
             frame=11),
        _obs("http.server", "App-webs/", "02:00:00:00:00:03", "192.0.2.3", at, frame=12),
        _obs("ssh.banner", "SSH-2.0-OpenSSH_9.6", "02:00:00:00:00:04", "192.0.2.4", at, frame=13),
        _obs("ssh.banner", SCRIPT_BANNER, HOSTILE_MAC, "192.0.2.66", at, hostname=JS_HOSTNAME, frame=66),
        _obs("http.title", IMG_TITLE, HOSTILE_MAC, "192.0.2.66", at, frame=67),
    ]


def round_two(at: datetime = T2) -> list[Observation]:
    kept = [o for o in round_one(at) if o.keys.mac != "02:00:00:00:00:04"]
    return [*kept, _obs("http.server", "App-webs/", "02:00:00:00:00:05", "192.0.2.5", at, frame=20)]


def build_inventory(path: Path | str) -> str:
    """Two snapshots of one capture source and a hostile annotation, in a SQLite file or a database URL."""
    db = str(path)
    ingest(round_one(), source="pcap:lab.pcap", db=db, started_at=T1)
    ingest(round_two(), source="pcap:lab.pcap", db=db, started_at=T2)
    with open_inventory(db) as inv:
        inv.annotate(f"mac:{HOSTILE_MAC}", site=RTL_SITE, add_tags=["military"])
    return db


def add_users(db: str) -> dict[str, str]:
    """One user and one token per role; returns the tokens by role."""
    tokens = {}
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        for role in ("viewer", "analyst", "admin"):
            accounts.add_user(role, role, PASSWORD)
            tokens[role] = accounts.create_token(f"{role}-token", role)[1]
    return tokens
