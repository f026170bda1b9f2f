"""The demo: a fictional operator, Northwind Telekom, run through the whole pipeline.

Every step is a real `vendorscope` command, printed before it runs, so the demo
doubles as a tour of the tool:

1. identify a bundled sample of evidence;
2. passive discovery on a bundled capture;
3. start the lab (emulated devices on 127.77.0.0/24, or the next free /24) and import the operator's
   inventory export of May 2026 (sites, roles, one military site);
4. probe the lab (only loopback addresses, as the lab's scope file allows);
5. import November's inventory export (some high-risk devices were removed);
6. findings, history and the self-contained HTML report.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vendorscope.lab.model import STATE_FILE, LabDevice

DEMO_BASE = "127.77.0.0/24"
# Tried in order when DEMO_BASE is taken (a `vendorscope lab up` of the user's, another demo).
DEMO_BASES = (DEMO_BASE, *(f"127.77.{n}.0/24" for n in range(1, 8)))
OPERATOR = "Northwind Telekom"

# Where each kind of equipment stands in the fictional network, and what its
# site is tagged with (site tags raise severity).
SITES: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("Frankfurt Core DC", ("5g",)),
    "transport": ("Frankfurt Core DC", ()),
    "ran": ("Hamburg RAN Cluster", ("5g",)),
    "management": ("Frankfurt Core DC", ()),
    "cctv": ("Camp Northwind", ("military",)),
    "radio": ("Camp Northwind", ("military",)),
    "enterprise": ("Berlin HQ", ("government",)),
    "cpe": ("Leipzig Customer Premises", ()),
    "unknown": ("Berlin HQ", ()),
}
# Devices the operator had removed between the May and the November export.
REMOVED_BY_NOVEMBER = ("zte-m6000", "hikvision-nvr", "huawei-ar6120", "dahua-nvr")


@dataclass(frozen=True, slots=True)
class DemoPaths:
    work: Path
    db: Path
    lab_state: Path
    report: Path

    @classmethod
    def under(cls, work: Path, report: Path) -> DemoPaths:
        return cls(work=work, db=work / "demo.db", lab_state=work / "lab", report=report)


def data_file(name: str) -> Path:
    return Path(str(resources.files("vendorscope.lab") / "data" / name))


def inventory_rows(devices: Sequence[LabDevice], removed: Sequence[str] = ()) -> list[dict[str, str]]:
    """The operator's CMDB export: what the operator believes about each device."""
    from vendorscope.identify.registry import default_registry

    registry = default_registry()
    rows = []
    for n, device in enumerate(devices, 1):
        if device.fault or device.profile in removed:
            continue
        site, tags = SITES.get(device.role, SITES["unknown"])
        maker = device.label or (registry[device.vendor].legal_names[0:1] or [registry[device.vendor].name])[0] \
            if device.vendor else ""
        rows.append(
            {
                "Asset Tag": f"NW-{n:05d}",
                "Hostname": device.hostname,
                "IP Address": device.ip,
                "Manufacturer": maker,
                "Model": device.product,
                "Site": site,
                "Function": device.role,
                "Tags": ";".join(tags),
            }
        )
    return rows


def write_inventory(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # Excel writes a BOM
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def load_lab_devices(state_dir: Path) -> list[LabDevice]:
    state = json.loads((state_dir / STATE_FILE).read_text("utf-8"))
    return [LabDevice.from_dict(d) for d in state["devices"]]


class DemoStep:
    """Runs `vendorscope ARGS` as a user would, showing the command first."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo

    def __call__(self, *args: str | Path, title: str, check: bool = True, capture_errors: bool = False) -> int:
        """Run one command; with ``capture_errors`` its stderr is kept in ``last_errors`` (and still shown)."""
        shown = " ".join(str(a) for a in args)
        if self.echo:
            heading = f"== {title}"
            # Bold only on a terminal: a pipe or a file gets no escape codes (NO_COLOR honoured).
            if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
                heading = f"\033[1m{heading}\033[0m"
            print(f"\n{heading}\n$ vendorscope {shown}", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "vendorscope", *map(str, args)],
            stderr=subprocess.PIPE if capture_errors else None,
            text=True,
        )
        self.last_errors = result.stderr or ""
        if capture_errors and self.last_errors:
            sys.stderr.write(self.last_errors)
        if check and result.returncode not in (0, 1):
            raise RuntimeError(f"`vendorscope {shown}` failed with exit code {result.returncode}")
        return result.returncode

    last_errors: str = ""


def start_demo_lab(step: DemoStep, state_dir: Path, bases: Sequence[str] = DEMO_BASES) -> str:
    """Start the lab on the first of ``bases`` that is free; returns the base it got."""
    for base in bases:
        code = step("lab", "up", "--state-dir", state_dir, "--base", base, "--format", "jsonl",
                    title=f"3. Start the lab: emulated devices of {OPERATOR} on {base}",
                    check=False, capture_errors=True)
        if code == 0:
            return base
        if "already in use" not in step.last_errors:
            raise RuntimeError(f"`vendorscope lab up --base {base}` failed with exit code {code}")
        print(f"{base} is taken (another lab or server holds it); trying the next network", flush=True)
    raise RuntimeError(f"no free loopback network for the demo lab among {', '.join(bases)}")


def run_demo(paths: DemoPaths, step: DemoStep | None = None) -> None:
    step = step or DemoStep()
    paths.work.mkdir(parents=True, exist_ok=True)
    paths.db.unlink(missing_ok=True)
    db = ("--db", str(paths.db))
    step("identify", data_file("demo-observations.jsonl"), title="1. Identify a sample of evidence")
    step("pcap", data_file("demo.pcapng"), *db, title="2. Passive discovery: every device in a capture")
    start_demo_lab(step, paths.lab_state)
    try:
        devices = load_lab_devices(paths.lab_state)
        may = paths.work / "2026-05" / "northwind-cmdb.csv"
        november = paths.work / "2026-11" / "northwind-cmdb.csv"
        write_inventory(may, inventory_rows(devices))
        write_inventory(november, inventory_rows(devices, REMOVED_BY_NOVEMBER))
        step("import", "table", may, *db, "--source", "northwind-cmdb", "--recorded-at", "2026-05-04",
             title="4. Import the inventory export of May 2026 (sites, roles, a military site)")
        present = [d.ip for d in devices if d.profile not in REMOVED_BY_NOVEMBER]
        step("probe", "--scope", paths.lab_state / "scope.toml", *present, *db,
             "--audit-log", paths.work / "probe-audit.jsonl",
             title="5. Probe the devices still in the network (only what the scope file allows)")
        step("import", "table", november, *db, "--source", "northwind-cmdb",
             title="6. Import November's export: some high-risk devices were removed")
    finally:
        step("lab", "down", "--state-dir", paths.lab_state, title="Stop the lab", check=False)
    step("history", *db, title="7. Progress between snapshots")
    step("findings", *db, "--jurisdiction", "DE", title="8. What Germany's 5G agreement says about each asset")
    step("findings", *db, "--status", "overdue", title="9. Everything overdue, in every jurisdiction")
    step("report", "--format", "html", "-o", paths.report, "--organisation", OPERATOR, *db, title="10. The report")
    print(f"\nOpen {paths.report} in a browser (it needs no network). The inventory is {paths.db}.")
