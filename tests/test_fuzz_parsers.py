"""Every parser meets hostile bytes: a clear error (its own error type, one line naming the file
and place) or a result, never another exception, and never more output than a size budget.

Bounded and deterministic (``derandomize=True``): the same examples run in CI every time.
The evidence decoders of the pcap layer (ARP, NDP, DHCP, LLDP, CDP, mDNS, NBNS) are also
mutated from real messages in tests/test_pcap_fuzz.py; here every decoder gets random bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import struct
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorscope.collect.imports.common import MAX_VALUE, Collector
from vendorscope.collect.imports.nmap import read_nmap
from vendorscope.collect.imports.sbom import SbomError, read_document, read_sbom
from vendorscope.collect.imports.scandata import read_scandata
from vendorscope.collect.imports.table import read_table
from vendorscope.collect.pcap import NotACaptureError, SkipReport
from vendorscope.collect.pcap.reader import MAX_EMPTY_RUN, read_frames
from vendorscope.evidence import (
    arp,
    cdp,
    dhcp,
    greeting,
    http,
    lldp,
    mdns,
    nbns,
    onvif,
    rtsp,
    sip,
    snmp,
    ssh,
    tls,
    upnp,
    xml,
)
from vendorscope.evidence.record import DecodeError, Evidence
from vendorscope.lab.capture import huawei_certificate, pcap_header, pcap_record, pcapng_header, pcapng_record
from vendorscope.model import Observation

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FEW = settings(FUZZ, max_examples=25)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
# What one evidence value or observation value may hold (characters).
VALUE_BUDGET = MAX_VALUE


# -- the evidence layer: every decoder --------------------------------------------------------------------


def _certificate(data: bytes) -> list[Evidence]:
    return tls.certificate_facts(data)


def _server_flight(data: bytes) -> list[Evidence]:
    return tls.decode_server_flight(data)[0]


def _greeting(data: bytes) -> list[Evidence]:
    found = greeting.classify(23, data)
    return [found] if found is not None else []


def _description(parse: Callable[[bytes], dict[str, str]], evidence: Callable[[dict[str, str]], list[Evidence]]
                 ) -> Callable[[bytes], list[Evidence]]:
    return lambda data: evidence(parse(data))


DECODERS: dict[str, Callable[[bytes], list[Evidence]]] = {
    "arp": arp.decode_arp,
    "ndp": lambda data: arp.decode_ndp(data, b"\xfe\x80" + bytes(14)),
    "cdp": cdp.decode_cdp,
    "dhcp": dhcp.decode_dhcp,
    "dhcp6": dhcp.decode_dhcp6,
    "greeting": _greeting,
    "http-response": http.response_evidence,
    "http-request": http.request_evidence,
    "lldp": lldp.decode_lldp,
    "mdns": mdns.decode_mdns,
    "llmnr": mdns.decode_llmnr,
    "nbns": nbns.decode_nbns,
    "onvif": _description(onvif.parse_device_information, onvif.device_information_evidence),
    "rtsp-response": rtsp.response_evidence,
    "rtsp-request": rtsp.request_evidence,
    "sip": sip.parse_sip,
    "snmp": snmp.decode_snmp,
    "ssh": ssh.ssh_evidence,
    "ssdp": upnp.decode_ssdp,
    "upnp": _description(upnp.parse_description, upnp.description_evidence),
    "tls-certificate": _certificate,
    "tls-flight": _server_flight,
}
# A plausible start for each, so the fuzzer gets past the first check as well as failing it.
PREFIXES: dict[str, bytes] = {
    "http-response": b"HTTP/1.1 200 OK\r\nServer: ",
    "http-request": b"GET / HTTP/1.1\r\nUser-Agent: ",
    "rtsp-response": b"RTSP/1.0 200 OK\r\nServer: ",
    "rtsp-request": b"OPTIONS rtsp://x RTSP/1.0\r\nUser-Agent: ",
    "sip": b"SIP/2.0 200 OK\r\nUser-Agent: ",
    "ssh": b"SSH-2.0-",
    "ssdp": b"HTTP/1.1 200 OK\r\nSERVER: ",
    "upnp": b"<?xml version='1.0'?><root><device><manufacturer>",
    "onvif": b"<Envelope><Body><GetDeviceInformationResponse><Manufacturer>",
    "tls-certificate": huawei_certificate()[:64],
    "tls-flight": b"\x16\x03\x03\x00\x40\x02\x00\x00\x3c\x03\x03",
    "snmp": b"\x30\x82\x00\x40\x02\x01\x01\x04\x06public\xa2",
}


def _check_evidence(found: list[Evidence], size: int) -> None:
    assert isinstance(found, list)
    assert len(found) <= size + 16  # no decoder invents facts beyond what the bytes can hold
    for item in found:
        assert isinstance(item, Evidence)
        assert isinstance(item.kind, str) and item.kind
        assert isinstance(item.value, str) and len(item.value) <= VALUE_BUDGET


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_every_evidence_decoder_takes_any_bytes(name: str) -> None:
    decode = DECODERS[name]
    prefix = PREFIXES.get(name, b"")

    @FUZZ
    @given(st.binary(max_size=600), st.booleans())
    def run(data: bytes, with_prefix: bool) -> None:
        payload = prefix + data if with_prefix else data
        try:
            found = decode(payload)
        except DecodeError as exc:
            message = str(exc)
            assert message and "\n" not in message
            return
        _check_evidence(found, len(payload))

    run()


@FUZZ
@given(st.binary(max_size=400))
def test_xml_root_and_snmp_pieces_take_any_bytes(data: bytes) -> None:
    xml.root(data)  # None or an element, never an exception (defused: no entities, no network)
    for parse in (lambda: snmp.read_tlv(data, 0, len(data)), lambda: snmp.decode_oid(data),
                  lambda: snmp.decode_int(data), lambda: tls.find_certificate(data),
                  lambda: tls.handshake_bytes(data)):
        with contextlib.suppress(DecodeError):
            parse()


# -- pcap and pcapng: blocks and records -------------------------------------------------------------------------

ETHERNET_FRAME = bytes.fromhex("ffffffffffff e00630 1a2b01 0806".replace(" ", "")) + bytes(28)


def _records(draw: Any, pcapng: bool) -> bytes:
    out = bytearray(pcapng_header(1) if pcapng else pcap_header(1))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["good", "empty", "garbage", "length", "block"]))
        if kind == "good":
            frame = ETHERNET_FRAME + draw(st.binary(max_size=60))
            out += pcapng_record(1.0, frame) if pcapng else pcap_record(1.0, frame)
        elif kind == "empty":
            out += pcapng_record(1.0, b"") if pcapng else pcap_record(1.0, b"")
        elif kind == "garbage":
            out += draw(st.binary(max_size=80))
        elif kind == "length":  # a header whose lengths lie
            length = draw(st.sampled_from([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            out += (struct.pack("<IIII", length, 28, 1, 0) if pcapng else struct.pack("<IIII", 1, 0, length, length))
        else:  # a block of any type and length
            out += struct.pack("<II", draw(st.integers(0, 12)), draw(st.sampled_from([0, 12, 13, 16, 1 << 30])))
    return bytes(out)


def _read_all(path: Path) -> tuple[list[Any], SkipReport]:
    report = SkipReport()
    frames = list(read_frames(str(path), report))
    return frames, report


@FUZZ
@given(data=st.data(), pcapng=st.booleans())
def test_capture_blocks_and_records_any_shape(tmp_path: Path, data: st.DataObject, pcapng: bool) -> None:
    blob = _records(data.draw, pcapng)
    path = tmp_path / ("x.pcapng" if pcapng else "x.pcap")
    path.write_bytes(blob)
    try:
        frames, report = _read_all(path)
    except NotACaptureError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert sum(len(f[3]) for f in frames) <= len(blob)  # never more bytes than the file holds
    for line in report.lines():
        assert "\n" not in line


@FEW
@given(st.binary(max_size=300), st.sampled_from([b"", b"\x1f\x8b"]))
def test_any_bytes_as_a_capture_file(tmp_path: Path, data: bytes, prefix: bytes) -> None:
    path = tmp_path / "any.pcap"
    path.write_bytes(prefix + data)
    try:
        frames, _ = _read_all(path)
    except NotACaptureError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert sum(len(f[3]) for f in frames) <= len(prefix + data)


@pytest.mark.parametrize("pcapng", [False, True])
def test_a_zero_filled_capture_stops_after_the_empty_run(tmp_path: Path, pcapng: bool) -> None:
    """The issue's 2 GiB case in small: a header, then zero-length records only."""
    head = pcapng_header(1) if pcapng else pcap_header(1)
    empty = pcapng_record(1.0, b"") if pcapng else pcap_record(1.0, b"")
    path = tmp_path / "zero.cap"
    path.write_bytes(head + empty * (MAX_EMPTY_RUN * 3))
    frames, report = _read_all(path)
    assert frames == [] or all(not f[3] for f in frames)
    stopped = [line for line in report.lines() if "carry no packet bytes" in line]
    assert len(stopped) == 1 and str(path) in stopped[0]


# -- nmap XML --------------------------------------------------------------------------------------------------

NMAP_HEAD = b'<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap" start="1700000000">'
HOST = (b'<host><status state="up"/><address addr="192.0.2.1" addrtype="ipv4"/><ports>'
        b'<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="')


def _check_import(observations: list[Observation], collector: Collector, file: str) -> None:
    for record in collector.bad_records:
        assert record.file == file
        assert "\n" not in record.message and len(record.message) <= 300
    for obs in observations:
        assert isinstance(obs.value, str) and len(obs.value) <= VALUE_BUDGET


def _nmap(data: bytes) -> tuple[list[Observation], Collector]:
    collector = Collector()
    return list(read_nmap(io.BytesIO(data), "scan.xml", "import", collector, NOW)), collector


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([b"", NMAP_HEAD, NMAP_HEAD + HOST]))
def test_nmap_xml_any_bytes(data: bytes, prefix: bytes) -> None:
    observations, collector = _nmap(prefix + data)
    _check_import(observations, collector, "scan.xml")


@FUZZ
@given(st.text(max_size=200), st.sampled_from(["product", "version", "extrainfo", "hostname"]))
def test_nmap_xml_any_attribute_text(value: str, attribute: str) -> None:
    quoted = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    doc = (NMAP_HEAD + b'<host><status state="up"/><address addr="192.0.2.1" addrtype="ipv4"/>'
           b'<hostnames><hostname name="' + (quoted.encode("utf-8", "surrogatepass") if attribute == "hostname"
                                             else b"h") + b'"/></hostnames><ports>'
           b'<port protocol="tcp" portid="80"><state state="open"/><service name="http" '
           + attribute.encode() + b'="' + quoted.encode("utf-8", "surrogatepass") + b'"/></port></ports></host>'
           b"</nmaprun>")
    observations, collector = _nmap(doc)
    _check_import(observations, collector, "scan.xml")


# -- tables: CSV, TSV, XLSX --------------------------------------------------------------------------------------

CSV_HEAD = b"manufacturer,mac,hostname,site\n"


def _table(tmp_path: Path, name: str, data: bytes) -> tuple[list[Observation], Collector]:
    path = tmp_path / name
    path.write_bytes(data)
    collector = Collector()
    return list(read_table(path, name, "import", collector, NOW)), collector


@FUZZ
@given(st.binary(max_size=500), st.sampled_from([b"", CSV_HEAD, CSV_HEAD.replace(b",", b"\t")]),
       st.sampled_from(["t.csv", "t.tsv"]))
def test_csv_and_tsv_any_bytes(tmp_path: Path, data: bytes, prefix: bytes, name: str) -> None:
    observations, collector = _table(tmp_path, name, prefix + data)
    _check_import(observations, collector, name)


@FUZZ
@given(st.lists(st.lists(st.text(max_size=30), min_size=4, max_size=4), max_size=8))
def test_csv_any_cells(tmp_path: Path, rows: list[list[str]]) -> None:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["manufacturer", "mac", "hostname", "site"])
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    observations, collector = _table(tmp_path, "cells.csv", data)
    _check_import(observations, collector, "cells.csv")


def _xlsx(sheet_xml: bytes, strings: bytes | None = None) -> bytes:
    """A minimal workbook around one sheet's XML (what a hostile exporter can write)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                   '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                   ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                   '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def _sheet(rows: bytes, dimension: str = "A1:XFD1048576") -> bytes:
    return (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<dimension ref="' + dimension.encode() + b'"/><sheetData>' + rows + b"</sheetData></worksheet>")


def _cell(ref: str, text: str) -> bytes:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    return f'<c r="{ref}" t="inlineStr"><is><t>{escaped}</t></is></c>'.encode()


HEADER_ROW = (b'<row r="1">' + _cell("A1", "manufacturer") + _cell("B1", "mac") + b"</row>")


def test_a_declared_dimension_of_the_whole_sheet_costs_only_the_cells_present(tmp_path: Path) -> None:
    """The issue's 2 KB workbook: A1:XFD1048576 declared, a cell in the last row and column."""
    rows = (HEADER_ROW + b'<row r="2">' + _cell("A2", "Huawei") + _cell("B2", "00:e0:fc:00:00:01") + b"</row>"
            + b'<row r="1048576">' + _cell("XFD1048576", "far away") + b"</row>")
    data = _xlsx(_sheet(rows))
    assert len(data) < 3000
    observations, collector = _table(tmp_path, "dim.xlsx", data)
    assert collector.bad_count == 0 and collector.records == 1
    assert {o.value for o in observations} >= {"Huawei", "00:e0:fc:00:00:01"}


def test_an_inflating_workbook_is_one_bad_record(tmp_path: Path) -> None:
    from vendorscope.collect.imports import table

    rows = HEADER_ROW + b"<row r=\"2\">" + _cell("A2", "x" * 5000) + b"</row>"
    path = tmp_path / "big.xlsx"
    path.write_bytes(_xlsx(_sheet(rows)))
    collector = Collector()
    limit = table.MAX_XLSX_PART_BYTES
    try:
        table.MAX_XLSX_PART_BYTES = 4096
        assert list(read_table(path, "big.xlsx", "import", collector, NOW)) == []
    finally:
        table.MAX_XLSX_PART_BYTES = limit
    assert collector.bad_count == 1 and "inflates to" in collector.bad_records[0].message


@FUZZ
@given(st.lists(st.tuples(st.integers(1, 1_048_576), st.integers(0, 16_383), st.text(max_size=20)), max_size=12),
       st.sampled_from(["A1:XFD1048576", "A1", "", "ZZZ"]))
def test_xlsx_any_cells_anywhere(tmp_path: Path, cells: list[tuple[int, int, str]], dimension: str) -> None:
    from openpyxl.utils import get_column_letter

    by_row: dict[int, list[bytes]] = {}
    for row, column, text in cells:
        clean_text = "".join(ch for ch in text if ch.isprintable())
        by_row.setdefault(row, []).append(_cell(f"{get_column_letter(column + 1)}{row}", clean_text))
    rows = HEADER_ROW + b"".join(f'<row r="{r}">'.encode() + b"".join(c) + b"</row>"
                                 for r, c in sorted(by_row.items()) if r > 1)
    observations, collector = _table(tmp_path, "any.xlsx", _xlsx(_sheet(rows, dimension)))
    _check_import(observations, collector, "any.xlsx")


@FEW
@given(st.binary(max_size=400))
def test_xlsx_any_sheet_bytes(tmp_path: Path, data: bytes) -> None:
    observations, collector = _table(tmp_path, "bytes.xlsx", _xlsx(data))
    _check_import(observations, collector, "bytes.xlsx")


# -- scan data lines -----------------------------------------------------------------------------------------------

SCAN_LINES = [
    b'{"ip_str":"192.0.2.1","port":22,"data":"SSH-2.0-HUAWEI-1.5\\r\\n","timestamp":"2026-01-01T00:00:00"}',
    b'{"ip":"192.0.2.2","services":[{"port":80,"service_name":"HTTP","http":{"response":{"headers":{}}}}]}',
    b'{"ip":"192.0.2.3","data":{"http":{"status":"success","result":{"response":{"status_code":200}}}}}',
]


def _scandata(data: bytes) -> tuple[list[Observation], Collector]:
    collector = Collector()
    return list(read_scandata(io.BytesIO(data), "scan.jsonl", "import", collector, NOW)), collector


@FUZZ
@given(st.binary(max_size=500), st.sampled_from(SCAN_LINES), st.integers(0, 3))
def test_scandata_any_bytes(data: bytes, line: bytes, cut: int) -> None:
    observations, collector = _scandata(line[: len(line) - cut * 7] + data + b"\n" + line + b"\n")
    _check_import(observations, collector, "scan.jsonl")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["ip", "ip_str", "port", "data", "http", "ssl", "services", "result", "response",
                         "headers", "server", "banner", "cert", "subject", "product", "timestamp"]), inner, max_size=5),
    max_leaves=25,
)


@FUZZ
@given(json_values)
def test_scandata_any_json_shape(value: Any) -> None:
    import json

    line = json.dumps(value).encode("utf-8", "surrogatepass")
    observations, collector = _scandata(line + b"\n")
    _check_import(observations, collector, "scan.jsonl")


def test_an_oversized_scan_line_is_skipped_and_the_next_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from vendorscope.collect.imports import scandata

    monkeypatch.setattr(scandata, "MAX_LINE", 1024)
    observations, collector = _scandata(b'{"data":"' + b"A" * 10_000 + b'"}\n' + SCAN_LINES[0] + b"\n")
    assert collector.bad_count == 1 and collector.bad_records[0].place == "line 1"
    assert {o.keys.ip for o in observations} == {"192.0.2.1"}


# -- SBOM documents --------------------------------------------------------------------------------------------------

CDX_HEAD = b'{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"device","name":"'
SPDX_HEAD = b'{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":[{"SPDXID":"SPDXRef-1","name":"'
CDX_XML_HEAD = (b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>'
                b'<component type="device"><name>')


def _sbom(data: bytes) -> tuple[list[Observation], Collector]:
    collector = Collector()
    return list(read_sbom(data, "bom.json", "import", collector, NOW)), collector


@FUZZ
@given(st.binary(max_size=500), st.sampled_from([b"", CDX_HEAD, SPDX_HEAD, CDX_XML_HEAD]))
def test_sbom_any_bytes(data: bytes, prefix: bytes) -> None:
    observations, collector = _sbom(prefix + data)
    _check_import(observations, collector, "bom.json")


sbom_components = st.recursive(
    st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["device", "firmware", "library", 7, None]),
        "name": st.text(max_size=30) | st.integers(), "version": st.text(max_size=10),
        "manufacturer": st.fixed_dictionaries({"name": st.text(max_size=30)}) | st.text(max_size=5),
        "supplier": st.fixed_dictionaries({"name": st.text(max_size=30)}),
        "purl": st.text(max_size=40), "cpe": st.text(max_size=40), "bom-ref": st.text(max_size=8),
    }),
    lambda inner: st.fixed_dictionaries({"type": st.just("device"), "components": st.lists(inner, max_size=3)}),
    max_leaves=10,
)


@FUZZ
@given(st.lists(sbom_components, max_size=5))
def test_cyclonedx_any_component_tree(components: list[Any]) -> None:
    import json

    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components}
    observations, collector = _sbom(json.dumps(doc).encode("utf-8", "surrogatepass"))
    _check_import(observations, collector, "bom.json")


def test_one_long_line_in_a_gzipped_sbom_stops_at_the_line_limit() -> None:
    """The issue's case in small: a gzip of a few KB holding one line far over the limit."""
    packed = gzip.compress(CDX_HEAD + b"A" * (4 << 20) + b'"}]}\n')
    assert len(packed) < 10_000
    with gzip.open(io.BytesIO(packed)) as stream, pytest.raises(SbomError) as caught:
        read_document(stream, max_line=1 << 20)
    assert caught.value.place == "line 1" and "longer than 1 MB" in str(caught.value)


def test_a_document_over_the_size_limit_is_refused() -> None:
    lines = b"".join(b'{"x": %d}\n' % i for i in range(20_000))
    with pytest.raises(SbomError, match="larger than"):
        read_document(io.BytesIO(lines), max_bytes=100_000)
    assert read_document(io.BytesIO(lines)) == lines


class _Trickle(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        return super().read(7)


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(8, 64))
def test_read_document_names_the_first_line_over_the_limit(pieces: list[bytes], max_line: int) -> None:
    data = b"\n".join(pieces)
    lines = data.split(b"\n")
    too_long = next((number for number, line in enumerate(lines, 1) if len(line) > max_line), None)

    stream = _Trickle(data)  # lines cross the pieces read
    if too_long is None:
        assert read_document(stream, max_line=max_line) == data
    else:
        with pytest.raises(SbomError) as caught:
            read_document(stream, max_line=max_line)
        assert caught.value.place == f"line {too_long}"
