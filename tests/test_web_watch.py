"""`vendorscope watch`: probe rounds on loopback, alerts to a log, a real webhook receiver and the overview."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from probe_servers import ServerThread, huawei_ssh, loopback
from typer.testing import CliRunner

from vendorscope.cli import app
from vendorscope.store.accounts import Accounts
from vendorscope.store.inventory import open_inventory
from vendorscope.web.watch import parse_every, post_webhook

runner = CliRunner()
OCTET = 40
HUAWEI_HOST = loopback(OCTET, 0, 1)
NET = f"127.{HUAWEI_HOST.split('.')[1]}.0.0/24"


@pytest.fixture(scope="module")
def huawei() -> Iterator[ServerThread]:
    with huawei_ssh(HUAWEI_HOST) as t:
        yield t


class Receiver:
    """A real HTTP server on loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                length = int(self.headers.get("Content-Length", "0"))
                bodies.append({"content_type": self.headers.get("Content-Type"),
                               "json": json.loads(self.rfile.read(length))})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def scope_file(tmp_path: Path) -> Path:
    path = tmp_path / "scope.toml"
    path.write_text(f"""
[scope]
allow = ["{HUAWEI_HOST}/32"]
ports = [2222]
udp_ports = []
rate = 1000
per_host = 4
timeout = 0.5
retries = 0
[snmp]
communities = []
""")
    return path


def test_parse_every() -> None:
    assert parse_every("1h") == 3600 and parse_every("30m") == 1800 and parse_every("1d") == 86400
    assert parse_every("0.5s") == 0.5 and parse_every("90") == 90
    for bad in ("", "1w", "-1h", "0", "soon"):
        with pytest.raises(ValueError, match="--every"):
            parse_every(bad)


def test_a_dead_webhook_is_one_line_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        problem = post_webhook(f"http://127.0.0.1:{port}/x", {"a": 1}, timeout=2)
    assert problem is not None and problem.startswith(f"webhook http://127.0.0.1:{port}/x:") and "\n" not in problem


def test_watch_needs_a_scope() -> None:
    result = runner.invoke(app, ["watch", "--every", "1h"])
    assert result.exit_code == 2 and "no scope" in result.output


def test_watch_rejects_a_bad_interval(scope_file: Path) -> None:
    result = runner.invoke(app, ["watch", "--scope", str(scope_file), "--every", "often"])
    assert result.exit_code == 2 and "--every" in result.output


def test_watch_alerts_by_log_webhook_and_banner(huawei: ServerThread, receiver: Receiver, scope_file: Path,
                                                tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = str(tmp_path / "watch.db")
    # The site is military: the UK direction's deadline for such sites (2023) has passed.
    with open_inventory(db) as inv:
        inv.annotate(f"ip:{HUAWEI_HOST}", add_tags=["military"])
    with caplog.at_level(logging.WARNING, logger="vendorscope.watch"):
        result = runner.invoke(app, ["watch", "--scope", str(scope_file), "--every", "0.2s", "--rounds", "2",
                                     "--db", db, "--webhook", receiver.url,
                                     "--audit-log", str(tmp_path / "audit.jsonl")])
    assert result.exit_code == 0, result.output
    assert "round 1:" in result.output and "round 2:" in result.output
    with open_inventory(db) as inv:
        snapshots = inv.snapshots()
        alerts = Accounts(inv.engine).alerts()
    assert [s.source for s in snapshots] == ["probe", "probe"]  # one snapshot per round
    kinds = sorted(a.kind for a in alerts)
    # Raised once each: the second round finds the same device and the same passed deadline.
    assert kinds == ["deadline_passed", "high_risk_appeared"]
    appeared = next(a for a in alerts if a.kind == "high_risk_appeared")
    assert appeared.detail["group"] == "huawei" and HUAWEI_HOST in appeared.message
    assert appeared.snapshot_id == snapshots[0].id
    passed = next(a for a in alerts if a.kind == "deadline_passed")
    assert passed.detail["policy"] == "uk-tsa-huawei-dvd" and passed.detail["count"] == 1
    # The log line.
    assert any("ALERT high_risk_appeared" in m and HUAWEI_HOST in m for m in caplog.messages)
    assert any("ALERT deadline_passed" in m for m in caplog.messages)
    # The webhook: one JSON POST per alert.
    assert len(receiver.bodies) == 2
    assert {b["content_type"] for b in receiver.bodies} == {"application/json"}
    assert {b["json"]["kind"] for b in receiver.bodies} == set(kinds)
    assert all(b["json"]["source"] == "vendorscope" and b["json"]["message"] for b in receiver.bodies)
    # The banner on the overview page.
    fastapi = pytest.importorskip("fastapi")
    assert fastapi
    from fastapi.testclient import TestClient
    from web_support import PASSWORD

    from vendorscope.web.app import create_app

    with open_inventory(db) as inv:
        Accounts(inv.engine).add_user("officer", "viewer", PASSWORD)
    with TestClient(create_app(db)) as client:
        token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"name": "officer", "password": PASSWORD, "login_csrf": token.group(1)})
        page = client.get("/").text
    banner = page.split('<section class="alerts"', 1)[1].split("</section>", 1)[0]
    assert "high-risk device appeared" in banner and "deadline passed" in banner



# ---------------------------------------------------------------- the watch as a job of the web UI


def _wait(check: Any, what: str, limit_s: float = 60.0) -> Any:
    """Poll until ``check()`` is truthy (a bound on the wait, not a timing assertion)."""
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_the_web_watches_every_second_shows_rounds_and_alerts_and_stops(
        huawei: ServerThread, scope_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from web_support import PASSWORD

    from vendorscope.collect.probe.scope import load_scope
    from vendorscope.web.app import create_app
    from vendorscope.web.jobs import ProbeSetup

    db = str(tmp_path / "web-watch.db")
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        analyst = accounts.create_token("analyst", "analyst")[1]
        viewer = accounts.create_token("viewer", "viewer")[1]
        accounts.add_user("officer", "viewer", PASSWORD)
    scope = load_scope(scope_file)
    probes = ProbeSetup(scope, scope_file, scope.expand(()), tmp_path / "audit.jsonl", 4)
    a_headers, v_headers = {"Authorization": f"Bearer {analyst}"}, {"Authorization": f"Bearer {viewer}"}
    with TestClient(create_app(db, probes=probes)) as client:
        assert client.get("/api/v1/watch", headers=v_headers).json() == {"watch": None, "alerts": []}
        assert client.post("/api/v1/watch", headers=v_headers, json={"every": "1s"}).status_code == 403
        bad = client.post("/api/v1/watch", headers=a_headers, json={"every": "often"})
        assert bad.status_code == 422 and "expected a duration" in bad.json()["error"]
        assert client.post("/api/v1/watch", headers=a_headers, json={"every": "0.1s"}).status_code == 422
        r = client.post("/api/v1/watch", headers=a_headers, json={"every": "1s"})
        assert r.status_code == 202, r.text
        started = r.json()["watch"]
        assert started["kind"] == "watch" and started["running"] and started["every"] == "1s"
        again = client.post("/api/v1/watch", headers=a_headers, json={"every": "1s"})
        assert again.status_code == 409 and "runs already" in again.json()["error"]

        # Rounds go on by themselves; what the watch shows comes from the store on every request.
        status = _wait(lambda: (lambda w: w if w["watch"]["rounds"] >= 2 else None)(
            client.get("/api/v1/watch", headers=v_headers).json()), "two rounds")
        watch = status["watch"]
        assert watch["running"] and watch["state"] == "running" and watch["every_s"] == 1.0
        assert watch["next_run"] is not None and watch["snapshot_id"]
        # The Huawei device raised one alert however many rounds found it, shown with the watch.
        kinds = [x["kind"] for x in status["alerts"]]
        assert kinds.count("high_risk_appeared") == 1, kinds
        assert any(HUAWEI_HOST in x["message"] for x in status["alerts"])
        snapshots = client.get("/api/v1/snapshots", headers=v_headers).json()["snapshots"]
        assert len(snapshots) >= 2 and {s["source"] for s in snapshots} == {"probe"}

        # The pages: the watch after a reload, the banner on the overview.
        token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"name": "officer", "password": PASSWORD, "login_csrf": token.group(1)})
        page = client.get("/imports").text
        section = page.split('<section id="watch"', 1)[1].split("</section>", 1)[0]
        assert "Watching" in section and "every 1s" in section and "next round" in section
        assert "Stop watching" not in section  # a viewer cannot stop it
        overview = client.get("/").text
        assert "high-risk device appeared" in overview.split('<section class="alerts"', 1)[1]

        stopped = client.delete("/api/v1/watch", headers=a_headers)
        assert stopped.status_code == 200, stopped.text
        final = stopped.json()["watch"]
        assert not final["running"] and final["state"] == "done" and "stopped by token:analyst" in final["message"]
        rounds = final["rounds"]
        assert client.delete("/api/v1/watch", headers=a_headers).status_code == 404
        # Stopped means stopped: no round after it.
        assert client.get("/api/v1/watch", headers=v_headers).json()["watch"]["rounds"] == rounds
        assert "Last watch" in client.get("/imports").text

        # A watch left running when the server stops goes on in the next server (test_watch_resume.py).
        assert client.post("/api/v1/watch", headers=a_headers, json={"every": "1h"}).status_code == 202
    with TestClient(create_app(db, probes=probes)) as client:
        watch = client.get("/api/v1/watch", headers=v_headers).json()["watch"]
        assert watch["state"] == "running" and watch["running"] and watch["every"] == "1h"
        assert client.delete("/api/v1/watch", headers=a_headers).status_code == 200


def test_a_server_without_a_scope_cannot_watch(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from vendorscope.web.app import create_app

    db = str(tmp_path / "noscope.db")
    with open_inventory(db) as inv:
        analyst = Accounts(inv.engine).create_token("analyst", "analyst")[1]
    with TestClient(create_app(db)) as client:
        r = client.post("/api/v1/watch", headers={"Authorization": f"Bearer {analyst}"}, json={"every": "1h"})
        assert r.status_code == 409 and "--scope" in r.json()["error"]
