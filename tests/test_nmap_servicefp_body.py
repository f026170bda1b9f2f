"""Page bodies inside nmap service fingerprints: the HTTP answers nmap escapes into ``SF:`` lines become
``http.body`` (with ``http.server`` and ``http.title``) through evidence/http.py, the same as a probe or a
capture of the same bytes; the decoder is fuzzed with Hypothesis."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from xml.sax.saxutils import quoteattr

from hypothesis import given, settings
from hypothesis import strategies as st
from nmap_fp import nmap_escape

from vendorscope.collect.imports import nmap as N
from vendorscope.collect.imports.common import Collector
from vendorscope.evidence import http as http_evidence
from vendorscope.evidence.record import MAX_VALUE

NOW = datetime(2026, 12, 5, tzinfo=UTC)

# A real fingerprint: nmap 7.94SVN -sV output of a Werkzeug server on port 8000, quoted in a public
# TryHackMe "Airplane" write-up on GitHub (an unrecognised service, so nmap printed its answers).
WERKZEUG_FP = r"""SF-Port8000-TCP:V=7.94SVN%I=7%D=12/11%Time=675A24C2%P=x86_64-pc-linux-gnu%
SF:r(GetRequest,1F3,"HTTP/1\.1\x20302\x20FOUND\r\nServer:\x20Werkzeug/3\.0
SF:\.2\x20Python/3\.8\.10\r\nDate:\x20Wed,\x2011\x20Dec\x202024\x2023:48:1
SF:7\x20GMT\r\nContent-Type:\x20text/html;\x20charset=utf-8\r\nContent-Len
SF:gth:\x20269\r\nLocation:\x20http://airplane\.thm:8000/\?page=index\.htm
SF:l\r\nConnection:\x20close\r\n\r\n<!doctype\x20html>\n<html\x20lang=en>\
SF:n<title>Redirecting\.\.\.</title>\n<h1>Redirecting\.\.\.</h1>\n<p>You\x
SF:20should\x20be\x20redirected\x20automatically\x20to\x20the\x20target\x2
SF:0URL:\x20<a\x20href=\"http://airplane\.thm:8000/\?page=index\.html\">ht
SF:tp://airplane\.thm:8000/\?page=index\.html</a>\.\x20If\x20not,\x20click
SF:\x20the\x20link\.\n")%r(FourOhFourRequest,184,"HTTP/1\.1\x20404\x20NOT\
SF:x20FOUND\r\nServer:\x20Werkzeug/3\.0\.2\x20Python/3\.8\.10\r\nDate:\x20
SF:Wed,\x2011\x20Dec\x202024\x2023:48:23\x20GMT\r\nContent-Type:\x20text/h
SF:tml;\x20charset=utf-8\r\nContent-Length:\x20207\r\nConnection:\x20close
SF:\r\n\r\n<!doctype\x20html>\n<html\x20lang=en>\n<title>404\x20Not\x20Fou
SF:nd</title>\n<h1>Not\x20Found</h1>\n<p>The\x20requested\x20URL\x20was\x2
SF:0not\x20found\x20on\x20the\x20server\.\x20If\x20you\x20entered\x20the\x
SF:20URL\x20manually\x20please\x20check\x20your\x20spelling\x20and\x20try\
SF:x20again\.</p>\n");"""

# Another real one: a Go server on port 55555 (nmap 7.94SVN, quoted in a public write-up on GitHub).
GO_FP = r"""SF-Port55555-TCP:V=7.94SVN%I=7%D=1/10%Time=678185FF%P=x86_64-pc-linux-gnu%
SF:r(GetRequest,A2,"HTTP/1\.0\x20302\x20Found\r\nContent-Type:\x20text/htm
SF:l;\x20charset=utf-8\r\nLocation:\x20/web\r\nDate:\x20Fri,\x2010\x20Jan\
SF:x202025\x2020:41:35\x20GMT\r\nContent-Length:\x2027\r\n\r\n<a\x20href=\
SF:"/web\">Found</a>\.\n\n");"""


def test_werkzeug_answers_become_body_server_and_title() -> None:
    found = N.servicefp_evidence(WERKZEUG_FP, port=8000, protocol="tcp", service=None)
    by_probe: dict[str, dict[str, str]] = {}
    for ev in found:
        assert ev.context and ev.context["from"] == "servicefp"
        by_probe.setdefault(ev.context["fp_probe"], {})[ev.kind] = ev.value
    get = by_probe["GetRequest"]
    assert get["http.server"] == "Werkzeug/3.0.2 Python/3.8.10"
    assert get["http.title"] == "Redirecting..."
    assert get["http.body"].startswith("<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>")
    assert get["http.body"].endswith("If not, click the link.")
    assert by_probe["FourOhFourRequest"]["http.title"] == "404 Not Found"
    assert "The requested URL was not found on the server." in by_probe["FourOhFourRequest"]["http.body"]


def test_a_body_from_a_fingerprint_equals_the_body_of_the_same_bytes() -> None:
    [(_probe, raw)] = N.servicefp_responses(GO_FP)
    direct = http_evidence.response_evidence(raw)
    via_fp = [ev._replace(context={k: v for k, v in (ev.context or {}).items() if k not in ("from", "fp_probe")})
              for ev in N.servicefp_evidence(GO_FP, port=55555, protocol="tcp", service=None)]
    assert via_fp == direct
    assert {ev.kind: ev.value for ev in via_fp}["http.body"] == '<a href="/web">Found</a>.'


def test_the_import_turns_servicefp_bodies_into_observations() -> None:
    xml = f"""<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap -sV 127.0.0.1" start="1733960897">
<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="8000"><state state="open"/><service name="http" servicefp={quoteattr(WERKZEUG_FP)}
 method="probed" conf="10"/></port></ports></host></nmaprun>"""
    out = list(N.read_nmap(io.BytesIO(xml.encode()), "scan.xml", "import:nmap:scan.xml", Collector(), NOW))
    bodies = [o for o in out if o.kind == "http.body"]
    assert len(bodies) == 2 and all(o.keys.ip == "127.0.0.1" for o in bodies)
    assert {o.value for o in out if o.kind == "http.server"} == {"Werkzeug/3.0.2 Python/3.8.10"}


_STATUS = st.sampled_from([b"200 OK", b"401 Unauthorized", b"404 Not Found", b"302 Found"])
_BODY = st.binary(max_size=400).filter(lambda b: b.strip() != b"")


@settings(max_examples=150, deadline=None)
@given(_STATUS, _BODY, st.sampled_from(["GetRequest", "HTTPOptions", "FourOhFourRequest", "NULL"]))
def test_any_escaped_http_answer_round_trips_to_the_same_evidence(status: bytes, body: bytes, probe: str) -> None:
    raw = b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\n\r\n" + body
    fp = f'SF-Port80-TCP:V=7.94%I=7%r({probe},{len(raw):X},"{nmap_escape(raw)}");'
    via_fp = [ev._replace(context={k: v for k, v in (ev.context or {}).items() if k not in ("from", "fp_probe")})
              for ev in N.servicefp_evidence(fp, port=80, protocol="tcp", service=None, with_greeting=False)]
    assert via_fp == http_evidence.response_evidence(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('SF:r(GetRequest,1F"HTTP/1.\\x20\r\n<title>%)0a')), max_size=1500))
def test_hostile_http_fingerprints_never_crash_and_stay_bounded(text: str) -> None:
    for ev in N.servicefp_evidence(text, port=80, protocol="tcp", service=None):
        assert len(ev.value) <= max(MAX_VALUE, http_evidence.BODY_CAP)
