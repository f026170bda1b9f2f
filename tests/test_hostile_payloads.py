"""One table of hostile payloads, sent through every input and rendered through every output.

Inputs: a capture (SSH banner, HTTP ``Server:``, DHCP hostname), an inventory CSV (hostname and
site cells), an nmap XML service, a scan-data line, the ``--source`` label and a site annotation
(``assets ID --set-site``). Outputs: terminal tables at 80 columns, CSV, JSON lines, the HTML
report (also in Debian's Chromium), CycloneDX. Every command runs as a user runs it (a real
process, a real SQLite inventory); each output must be intact and show the payload as text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest

from vendorscope.lab.capture import _Frames, _scapy, _tcp_session, write_capture


@dataclass(frozen=True)
class Payload:
    name: str
    raw: bytes
    # how a terminal must show it (escaped), when that is short enough to survive a table cell
    shown: str | None = None


PAYLOADS: list[Payload] = [
    Payload("markup-close", b"[/]", "[/]"),
    Payload("markup-bold", b"[bold]x[/bold]", "[bold]x[/bold]"),
    Payload("esc-clear", b"\x1b[2J", "\\x1b[2J"),
    Payload("osc-title", b"\x1b]0;t\x07", "\\x1b]0;t\\x07"),
    Payload("bel", b"a\x07b", "a\\x07b"),
    Payload("nul", b"a\x00b"),
    Payload("rlo", "\u202egnp.exe".encode(), "\\u202egnp.exe"),
    Payload("emoji-code", b":cd:", ":cd:"),
    Payload("formula-hyperlink", b'=HYPERLINK("http://x")'),
    Payload("formula-plus", b"+1"),
    Payload("formula-minus", b"-1"),
    Payload("formula-at", b"@SUM(A1)"),
    Payload("script", b"</script><script>alert(1)</script>"),
    Payload("img", b'"><img src=x onerror=alert(1)>'),
    Payload("javascript-url", b"javascript:alert(1)"),
    Payload("long", b"L" * 10_000),
    Payload("invalid-utf8", b"bad\xff\xfe\xc3("),
]
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cmdb_refuses(raw: bytes) -> bool:
    """The table import refuses a cell of control bytes or of bytes that are not UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return bool(CONTROL_BYTES.search(raw))
HUAWEI = "e0:06:30"  # a Huawei OUI: every test device is high-risk, so findings and reports show it


def mac(index: int, block: int) -> str:
    return f"{HUAWEI}:{block:02x}:{index // 256:02x}:{index % 256:02x}"


# Documentation networks (RFC 5737), one per input: addresses only written into files, never reached.
_NETWORKS = {1: "192.0.2", 4: "198.51.100", 5: "203.0.113"}


def ip(index: int, block: int) -> str:
    assert index < 240, "one /24 per input"
    return f"{_NETWORKS[block]}.{index + 1}"


def argv_safe(p: Payload) -> bool:
    return b"\x00" not in p.raw  # the OS cannot pass NUL in an argument


# -- inputs ---------------------------------------------------------------------------------------------------


def write_capture_file(path: Path) -> None:
    s, _lldp, _cdp = _scapy()
    out = _Frames()
    for i, p in enumerate(PAYLOADS):
        server = (mac(i, 1), ip(i, 1))
        client = ("02:00:00:00:00:01", "192.0.2.250")  # a documentation address, only written into the file
        _tcp_session(out, s, client, server, 40000 + i, 22, [b"SSH-2.0-" + p.raw[:200] + b"\r\n"])
        _tcp_session(out, s, client, server, 41000 + i, 80, [b"HTTP/1.1 200 OK\r\nServer: " + p.raw + b"\r\n\r\n"],
                     [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
        dhcp_mac = mac(i, 2)
        out.add(s.Ether(src=dhcp_mac, dst="ff:ff:ff:ff:ff:ff") / s.IP(src="0.0.0.0", dst="255.255.255.255")
                / s.UDP(sport=68, dport=67)
                / s.BOOTP(op=1, chaddr=bytes.fromhex(dhcp_mac.replace(":", "")))
                / s.DHCP(options=[("message-type", "request"), ("hostname", p.raw[:250]), "end"]))
    with path.open("wb") as f:
        write_capture(f, out.frames, fmt="pcap")


def write_inventory(path: Path, payloads: list[tuple[int, Payload]]) -> None:
    rows = [b"manufacturer,mac,hostname,site"]
    for i, p in payloads:
        quoted = b'"' + p.raw.replace(b'"', b'""') + b'"'
        rows.append(b"Huawei," + mac(i, 3).encode() + b"," + quoted + b"," + quoted)
    path.write_bytes(b"\r\n".join(rows) + b"\r\n")


def write_nmap(path: Path) -> None:
    hosts = []
    for i, p in enumerate(PAYLOADS):
        # XML 1.0 cannot hold control characters even as references: nmap writes them escaped as text
        text = p.raw.decode("utf-8", "backslashreplace")
        text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
        hosts.append(
            f'<host><status state="up"/><address addr="{ip(i, 4)}" addrtype="ipv4"/>'
            f'<address addr="{mac(i, 4)}" addrtype="mac" vendor="Huawei"/><ports>'
            f'<port protocol="tcp" portid="80"><state state="open"/>'
            f'<service name="http" product={quoteattr(text)} version="1"/></port></ports></host>'
        )
    path.write_text('<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap" start="1700000000">'
                    + "".join(hosts) + "</nmaprun>\n", encoding="utf-8")


def write_scandata(path: Path) -> None:
    lines = []
    for i, p in enumerate(PAYLOADS):
        banner = "SSH-2.0-" + p.raw.decode("utf-8", "surrogateescape")
        record = {"ip_str": ip(i, 5), "port": 22, "transport": "tcp", "timestamp": "2026-01-01T00:00:00",
                  "data": banner + "\r\n", "hostnames": [f"h{i}.example"]}
        lines.append(json.dumps(record, ensure_ascii=True).replace("\\udc", "\\u00"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- running the CLI ------------------------------------------------------------------------------------------


@dataclass
class Run:
    args: list[str]
    rc: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return (self.out + self.err).decode("utf-8")  # strict: every output is valid UTF-8


def cli(*args: str | bytes, cwd: Path) -> Run:
    env = {**os.environ, "COLUMNS": "80", "LINES": "40", "NO_COLOR": "1", "TERM": "xterm"}
    argv = [sys.executable, "-m", "vendorscope", *(os.fsdecode(a) if isinstance(a, bytes) else a for a in args)]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300)
    return Run([str(a) for a in args], done.returncode, done.stdout, done.stderr)


def assert_terminal_safe(run: Run) -> str:
    """No traceback, valid UTF-8, and no raw control character or bidi override reaches the terminal."""
    text = run.text
    assert "Traceback" not in text, text[-2000:]
    bad = RAW_CONTROLS.findall(text.replace("\n", ""))
    assert not bad, f"{run.args}: raw {bad[:5]!r} reached the terminal"
    assert "\U0001f4bf" not in text  # :cd: never becomes an emoji
    return text


def squeeze(text: str) -> str:
    """Table text without borders and line breaks, so a value folded over lines reads whole again."""
    return re.sub(r"[\s│┃║|─━┄┈╭╮╰╯┏┓┗┛┡┩┣┫╇╈┳┻╋┼├┤┬┴┌┐└┘]+", "", text)


@dataclass
class World:
    folder: Path
    db: Path
    runs: list[Run]
    sources: dict[str, Payload]
    pcap_observations: dict[str, list[str]]
    site_runs: list[tuple[Payload, Run]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "inventory.db"
    write_capture_file(folder / "cap.pcap")
    # bytes that are not UTF-8 make the whole file read as another encoding: that row gets its own file
    write_inventory(folder / "inventory.csv", [(i, p) for i, p in enumerate(PAYLOADS) if p.name != "invalid-utf8"])
    write_inventory(folder / "legacy.csv", [(i, p) for i, p in enumerate(PAYLOADS) if p.name == "invalid-utf8"])
    write_nmap(folder / "scan.xml")
    write_scandata(folder / "scan.jsonl")
    labels = [p for p in PAYLOADS if argv_safe(p) and len(p.raw) < 100]
    sources = {label.name: label for label in labels[:3]}
    runs = [cli("pcap", "cap.pcap", "--db", str(db), "--observations", "pcap.jsonl", cwd=folder)]
    pcap_observations: dict[str, list[str]] = {}
    for line in (folder / "pcap.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        pcap_observations.setdefault(record["kind"], []).append(record["value"])
    imports = [("table", "inventory.csv legacy.csv"), ("nmap", "scan.xml"), ("scandata", "scan.jsonl")]
    for (kind, file), source in zip(imports, sources.values(), strict=True):
        runs.append(cli("import", kind, *file.split(), "--db", str(db), "--source", source.raw, cwd=folder))
    # a site annotation on each device of the capture (the outputs below show them)
    site_runs = [(p, cli("assets", f"mac:{mac(i, 1)}", "--db", str(db), "--set-site", p.raw, cwd=folder))
                 for i, p in enumerate(PAYLOADS) if argv_safe(p)]
    return World(folder, db, runs, sources, pcap_observations, site_runs)


def test_every_input_is_read_and_its_table_is_safe(world: World) -> None:
    for run in world.runs:
        text = assert_terminal_safe(run)
        # rc 1 says some records were bad (an invalid-UTF-8 CSV cell); never a crash (2 is a usage error)
        assert run.rc in (0, 1), text[-2000:]
        assert "devices" in text
    for kind in ("ssh.banner", "http.server", "dhcp.hostname"):
        assert kind in world.pcap_observations, kind
    for p in PAYLOADS:
        if p.shown is not None and not CONTROL_BYTES.search(p.raw):  # decoders turn control bytes into spaces
            assert any(_payload_text(p)[:200] in value for value in world.pcap_observations["http.server"]), p.name


def test_terminal_tables_show_payloads_as_escaped_text(world: World) -> None:
    cwd, db = world.folder, str(world.db)
    outputs = [cli("assets", "--db", db, cwd=cwd), cli("findings", "--db", db, cwd=cwd),
               cli("snapshots", "--db", db, cwd=cwd), cli("diff", "--db", db, cwd=cwd)]
    for run in outputs:
        assert run.rc == 0, run.text[-2000:]
        assert_terminal_safe(run)
    # every asset of the CSV, shown alone: the hostname and site lines hold each payload, escaped
    for i, p in enumerate(PAYLOADS):
        run = cli("asset", f"mac:{mac(i, 3)}", "--db", db, cwd=cwd)
        text = assert_terminal_safe(run)
        if cmdb_refuses(p.raw) and p.name != "invalid-utf8":
            # the table import refuses a row with control bytes or bytes that are not UTF-8 (a bad record)
            assert run.rc != 0 and len(run.err.decode().strip().splitlines()) == 1, (p.name, text)
            continue
        assert run.rc == 0, run.text[-2000:]
        if p.shown is not None:
            assert squeeze(p.shown) in squeeze(text), (p.name, text[:3000])
        if p.name == "invalid-utf8":
            assert "bad" in text  # read as the legacy encoding it looks like
    snapshots = squeeze(outputs[2].text)
    for p in world.sources.values():
        assert squeeze(p.shown or "") in snapshots, (p.name, snapshots[:2000])


def test_a_site_annotation_is_text_everywhere(world: World) -> None:
    cwd, db = world.folder, str(world.db)
    for p, run in world.site_runs:
        assert run.rc == 0, run.text[-2000:]
        text = squeeze(assert_terminal_safe(run))
        if p.shown is not None:
            assert squeeze(p.shown) in text, (p.name, text)
    history = cli("history", "--db", db, cwd=cwd)
    assert history.rc == 0, history.text[-2000:]
    assert_terminal_safe(history)


def _payload_text(p: Payload) -> str:
    return p.raw.decode("utf-8", "surrogateescape")


def test_csv_outputs_neutralise_formulas_and_parse_back(world: World) -> None:
    cwd, db = world.folder, str(world.db)
    report_csv = world.folder / "report.csv"
    runs = [cli("assets", "--db", db, "--format", "csv", cwd=cwd),
            cli("findings", "--db", db, "--format", "csv", cwd=cwd),
            cli("report", "--db", db, "--format", "csv", "-o", str(report_csv), cwd=cwd)]
    texts = [runs[0].out.decode("utf-8"), runs[1].out.decode("utf-8"), report_csv.read_text(encoding="utf-8")]
    for run, text in zip(runs, texts, strict=True):
        assert run.rc == 0, run.text[-2000:]
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows)
        for row in rows[1:]:
            for cell in row:
                if cell.startswith(FORMULA_START):
                    float(cell)  # only vendorscope's own numbers (days left) may start with a sign
        sites = {cell for row in rows for cell in row}
        for p in PAYLOADS:
            if p.name.startswith("formula") and argv_safe(p):
                assert "'" + _payload_text(p) in sites, (p.name, run.args)
        assert "[/]" in text and ":cd:" in text


def test_json_lines_are_valid_utf8_and_hold_the_payloads(world: World) -> None:
    cwd, db = world.folder, str(world.db)
    values: list[str] = []
    for args in (("assets", "--db", db, "--format", "jsonl"), ("findings", "--db", db, "--format", "jsonl"),
                 ("asset", f"mac:{mac(2, 1)}", "--db", db, "--format", "jsonl")):
        run = cli(*args, cwd=cwd)
        assert run.rc == 0, run.text[-2000:]
        for line in run.out.decode("utf-8").splitlines():
            doc = json.loads(line)
            values.extend(strings(doc))
    for p in PAYLOADS:
        if argv_safe(p) and p.name != "invalid-utf8":
            assert _payload_text(p) in values, p.name  # the site annotation, intact
    # bytes that were not UTF-8 are stored and written as escapes (the lines decoded as strict UTF-8 above)
    assert any(v.startswith("bad\\") and v.endswith("(") for v in values)


def strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in strings(v)]
    return []


@pytest.fixture(scope="module")
def html_report(world: World) -> Path:
    path = world.folder / "report.html"
    run = cli("report", "--db", str(world.db), "--format", "html", "-o", str(path), cwd=world.folder)
    assert run.rc == 0, run.text[-2000:]
    assert_terminal_safe(run)
    return path


def test_html_report_escapes_every_payload(html_report: Path) -> None:
    page = html_report.read_text(encoding="utf-8")
    # the data travels as JSON with <, > and & escaped: no payload can open or close an element
    for needle in ("<script>alert", "<img src=x", "</script><script>"):
        assert needle not in page, needle


def test_cyclonedx_is_valid_json_with_the_payloads_as_text(world: World) -> None:
    path = world.folder / "bom.cdx.json"
    run = cli("report", "--db", str(world.db), "--format", "cyclonedx", "-o", str(path), cwd=world.folder)
    assert run.rc == 0, run.text[-2000:]
    bom = json.loads(path.read_bytes().decode("utf-8"))
    assert bom["bomFormat"] == "CycloneDX"
    values = strings(bom)
    for p in PAYLOADS:
        if argv_safe(p) and p.name != "invalid-utf8":
            assert any(_payload_text(p) in v for v in values), p.name


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason="Debian's chromium is missing")
def test_html_report_in_chromium_runs_nothing(html_report: Path, world: World) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda r: r.continue_() if r.request.url == html_report.as_uri() else r.abort())
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(html_report.as_uri(), wait_until="load")
            page.wait_for_selector("#findings-body tr.finding")
            page.fill("#q", "script")
            body = page.inner_text("body")
            rows = page.locator("#findings-body tr.finding")
            for index in range(min(rows.count(), 10)):
                if rows.nth(index).is_visible():
                    rows.nth(index).click()
            assert page.evaluate("document.images.length") == 0
            assert page.evaluate("document.scripts.length") == 2
        finally:
            browser.close()
    assert dialogs == [] and errors == []
    assert "</script><script>alert(1)</script>" in body  # shown as text
