"""A watch started from the web goes on after the server restarts, unless a user stopped it.

Real restarts: the app's lifespan run twice over the same SQLite file and PostgreSQL database, and
`vendorscope serve` as a subprocess stopped (SIGTERM) and killed (SIGKILL) between starts. The
probes go to a real SSH greeting on loopback, as in test_web_watch.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pg import PostgresServer
from probe_servers import ServerThread, huawei_ssh, loopback
from test_web_watch import Receiver, _wait
from web_support import PASSWORD

from vendorscope.store.accounts import Accounts, Job
from vendorscope.store.inventory import open_inventory
from vendorscope.web.jobs import LEASE_ENV, ProbeSetup, WatchConfig, first_wait_s

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from vendorscope.web.app import create_app  # noqa: E402

HUAWEI_HOST = loopback(150, 0, 1)


@pytest.fixture(scope="module")
def huawei() -> Iterator[ServerThread]:
    with huawei_ssh(HUAWEI_HOST) as t:
        yield t


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def write_scope(path: Path, allow: str = f"{HUAWEI_HOST}/32") -> Path:
    path.write_text(f'[scope]\nallow = ["{allow}"]\nports = [2222]\nudp_ports = []\nrate = 1000\nper_host = 4\n'
                    'timeout = 0.5\nretries = 0\n[snmp]\ncommunities = []\n')
    return path


def setup_of(scope_file: Path, audit: Path, webhook: str | None = None) -> ProbeSetup:
    from vendorscope.collect.probe.scope import load_scope

    scope = load_scope(scope_file)
    return ProbeSetup(scope, scope_file, scope.expand(()), audit, 4, webhook)


def tokens_for(db: str) -> dict[str, dict[str, str]]:
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        made = {role: accounts.create_token(role, role)[1] for role in ("viewer", "analyst")}
    return {role: {"Authorization": f"Bearer {secret}"} for role, secret in made.items()}


def watch_job(db: str) -> Job:
    with open_inventory(db) as inv:
        found = next(j for j in Accounts(inv.engine).jobs() if j.kind == "watch")
    return found


def rounds_at_least(client: TestClient, headers: dict[str, str], n: int) -> Any:
    def check() -> Any:
        watch = client.get("/api/v1/watch", headers=headers).json()["watch"]
        return watch if watch and watch["rounds"] >= n else None

    return _wait(check, f"{n} rounds")


# ---------------------------------------------------------------- pure parts


def test_the_kept_configuration_round_trips_and_damage_is_one_line(tmp_path: Path) -> None:
    kept = WatchConfig("/srv/scope.toml", ("127.0.0.1",), "1h", "http://127.0.0.1:9/hook", "/srv/audit.jsonl", 8,
                       "alice", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), 3)
    assert WatchConfig.from_json(json.loads(json.dumps(kept.to_json()))) == kept
    with pytest.raises(ValueError, match="older vendorscope"):
        WatchConfig.from_json(None)
    damaged = {**kept.to_json(), "concurrency": "many"}
    with pytest.raises(ValueError, match="damaged") as caught:
        WatchConfig.from_json(damaged)
    assert "\n" not in str(caught.value)
    for bad in ({"webhook": "file:///etc/passwd"}, {"addresses": None}, {"last_round_at": "yesterday"}):
        with pytest.raises(ValueError, match="damaged"):
            WatchConfig.from_json({**kept.to_json(), **bad})
    naive = WatchConfig.from_json({**kept.to_json(), "last_round_at": "2026-12-01T09:00:00"})
    assert naive.last_round_at == kept.last_round_at  # stored without a zone: UTC, as written
    # The scope file is the gate: gone, or no longer allowing an address, the watch cannot go on.
    with pytest.raises(ValueError, match="no such scope file"):
        WatchConfig(str(tmp_path / "gone.toml"), ("127.0.0.1",), "1h", None, "a", 1, "x").probes()
    narrowed = write_scope(tmp_path / "narrow.toml", "127.0.0.2/32")
    with pytest.raises(ValueError, match="outside scope"):
        WatchConfig(str(narrowed), ("127.0.0.1",), "1h", None, "a", 1, "x").probes()


def test_the_next_round_counts_from_the_last_one() -> None:
    last = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert first_wait_s(None, 3600, last) == 0.0  # no round yet: at once
    assert first_wait_s(last, 3600, last + timedelta(minutes=20)) == 40 * 60
    assert first_wait_s(last, 3600, last + timedelta(hours=5)) == 0.0  # overdue: at once, not five rounds
    assert first_wait_s(last, 3600, last - timedelta(days=2)) == 3600  # the clock went back: one interval at most


# ---------------------------------------------------------------- the app's lifespan, twice


def _restart_keeps_an_hourly_watch(db: str, scope_file: Path, tmp_path: Path, receiver_url: str) -> None:
    headers = tokens_for(db)
    probes = setup_of(scope_file, tmp_path / "audit.jsonl", receiver_url)
    with TestClient(create_app(db, probes=probes)) as client:
        r = client.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1h"})
        assert r.status_code == 202, r.text
        first = rounds_at_least(client, headers["viewer"], 1)
    job = watch_job(db)
    # The server stopped; the job says so but stays running, with what the next server needs.
    assert job.state == "running" and "paused: the server stopped" in (job.message or "")
    kept = WatchConfig.from_json(job.config)
    assert kept.scope_path == str(scope_file.resolve()) and kept.addresses == (HUAWEI_HOST,)
    assert kept.every == "1h" and kept.webhook == receiver_url and kept.started_by == "token:analyst"
    assert kept.last_round_at is not None
    assert kept.audit_path == str((tmp_path / "audit.jsonl").resolve())

    # The next server has no --scope: the job row is enough.
    with TestClient(create_app(db)) as client:
        watch = client.get("/api/v1/watch", headers=headers["viewer"]).json()["watch"]
        assert watch["id"] == first["id"] and watch["running"] and watch["state"] == "running"
        assert watch["every"] == "1h" and watch["every_s"] == 3600 and watch["rounds"] == 1
        assert watch["scope"] == scope_file.name and watch["addresses"] == 1 and watch["webhook"] is True
        assert receiver_url not in json.dumps(watch)  # the webhook's URL is not shown to viewers
        # Next round an hour after the last began, not at start-up.
        next_run = datetime.fromisoformat(watch["next_run"])
        assert abs((next_run - (kept.last_round_at + timedelta(hours=1))).total_seconds()) < 1
        with open_inventory(db) as inv:
            actions = [e.action for e in Accounts(inv.engine).audit_trail(f"job:{watch['id']}")]
        assert actions[:2] == ["watch.resume", "watch.start"], actions  # newest first
        # The Imports page shows the resumed watch, and its Stop button stops it for good.
        with open_inventory(db) as inv:
            Accounts(inv.engine).add_user("ana", "analyst", PASSWORD)
        token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"name": "ana", "password": PASSWORD, "login_csrf": token.group(1)})
        page = client.get("/imports").text
        section = page.split('<section id="watch"', 1)[1].split("</section>", 1)[0]
        assert "Watching" in section and "token:analyst" in section and "1 round" in section
        csrf = re.search(r'name="csrf" value="([^"]+)"', section)
        assert csrf is not None and "Stop watching" in section
        stopped = client.post("/watch/stop", data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert stopped.status_code == 303
        final = client.get("/api/v1/watch", headers=headers["viewer"]).json()["watch"]
        assert final["state"] == "done" and "stopped by ana" in final["message"]

    # Stopped by a user: the next server leaves it stopped.
    with TestClient(create_app(db)) as client:
        watch = client.get("/api/v1/watch", headers=headers["viewer"]).json()["watch"]
        assert watch["state"] == "done" and not watch["running"] and watch["rounds"] == 1
    assert watch_job(db).state == "done"


def test_an_hourly_watch_survives_a_restart_on_sqlite(huawei: ServerThread, receiver: Receiver,
                                                      tmp_path: Path) -> None:
    db = str(tmp_path / "resume.db")
    with open_inventory(db):
        pass
    _restart_keeps_an_hourly_watch(db, write_scope(tmp_path / "scope.toml"), tmp_path, receiver.url)


def test_an_hourly_watch_survives_a_restart_on_postgresql(huawei: ServerThread, receiver: Receiver,
                                                          pg_server: PostgresServer, tmp_path: Path) -> None:
    db = pg_server.create_database()
    with open_inventory(db):
        pass
    _restart_keeps_an_hourly_watch(db, write_scope(tmp_path / "scope.toml"), tmp_path, receiver.url)


def test_a_resumed_watch_probes_again_counts_on_and_uses_its_webhook(huawei: ServerThread, receiver: Receiver,
                                                                     tmp_path: Path) -> None:
    db = str(tmp_path / "rounds.db")
    with open_inventory(db):
        pass
    headers = tokens_for(db)
    probes = setup_of(write_scope(tmp_path / "scope.toml"), tmp_path / "audit.jsonl", receiver.url)
    with TestClient(create_app(db, probes=probes)) as client:
        assert client.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1s"}).status_code == 202
        before = rounds_at_least(client, headers["viewer"], 1)["rounds"]
    assert [b["json"]["kind"] for b in receiver.bodies] == ["high_risk_appeared"]
    # While no server runs, the site becomes military: the UK deadline for it has passed, which only
    # a round of the resumed watch can notice (and report to the webhook kept in the job).
    with open_inventory(db) as inv:
        inv.annotate(f"ip:{HUAWEI_HOST}", add_tags=["military"])
        snapshots_before = len(inv.snapshots())
    with TestClient(create_app(db)) as client:
        watch = rounds_at_least(client, headers["viewer"], before + 1)
        assert watch["running"] and watch["every"] == "1s"
        _wait(lambda: len(receiver.bodies) >= 2, "the deadline alert at the webhook")
        alerts = client.get("/api/v1/watch", headers=headers["viewer"]).json()["alerts"]
    kinds = sorted(b["json"]["kind"] for b in receiver.bodies)
    assert kinds == ["deadline_passed", "high_risk_appeared"]  # the device that was known is not new
    assert sorted(a["kind"] for a in alerts) == kinds
    with open_inventory(db) as inv:
        assert len(inv.snapshots()) > snapshots_before  # the resumed rounds stored snapshots
    job = watch_job(db)
    assert job.done > before and job.state == "running" and f"{job.done} rounds" in (job.message or "")


def test_a_watch_whose_scope_no_longer_allows_it_fails_in_one_line_without_probing(
        huawei: ServerThread, tmp_path: Path) -> None:
    db = str(tmp_path / "narrowed.db")
    with open_inventory(db):
        pass
    headers = tokens_for(db)
    scope_file = write_scope(tmp_path / "scope.toml")
    audit = tmp_path / "audit.jsonl"
    with TestClient(create_app(db, probes=setup_of(scope_file, audit))) as client:
        assert client.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1s"}).status_code == 202
        rounds_at_least(client, headers["viewer"], 1)
    probes_sent = audit.read_text().count("\n")
    write_scope(scope_file, "127.0.0.2/32")  # someone narrowed the scope while the server was down
    with TestClient(create_app(db)) as client:
        watch = client.get("/api/v1/watch", headers=headers["viewer"]).json()["watch"]
    assert watch["state"] == "failed" and not watch["running"]
    assert "cannot resume" in watch["error"] and "outside scope" in watch["error"] and "\n" not in watch["error"]
    assert audit.read_text().count("\n") == probes_sent  # nothing was sent


def test_a_watch_job_from_before_kept_configuration_is_marked_interrupted(tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        old = accounts.create_job("watch", "scope.toml every 1h", "alice")  # no config: an older server's
        accounts.update_job(old.id, state="running")
        viewer = accounts.create_token("viewer", "viewer")[1]
    with TestClient(create_app(db)) as client:
        watch = client.get("/api/v1/watch", headers={"Authorization": f"Bearer {viewer}"}).json()["watch"]
    assert watch["state"] == "failed" and "older vendorscope" in watch["error"] and not watch["running"]


def test_imports_and_probe_rounds_left_unfinished_end_failed_at_start_up(tmp_path: Path) -> None:
    db = str(tmp_path / "left.db")
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        running = accounts.create_job("pcap", "big.pcap", "alice")
        accounts.update_job(running.id, state="running", done=10, total=100)
        queued = accounts.create_job("probe", "scope.toml", "alice")
        done = accounts.create_job("nmap", "scan.xml", "alice")
        accounts.update_job(done.id, state="done", message="3 observations")
        viewer = accounts.create_token("viewer", "viewer")[1]
    with TestClient(create_app(db)) as client:
        jobs = {j["id"]: j for j in client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {viewer}"})
                .json()["jobs"]}
    assert jobs[running.id]["state"] == "failed"
    assert jobs[running.id]["error"] == "interrupted: the server stopped; upload the file again"
    assert jobs[queued.id]["state"] == "failed" and jobs[queued.id]["error"].endswith("start it again")
    assert jobs[done.id]["state"] == "done" and jobs[done.id]["error"] is None  # finished jobs stay as they were


def test_the_config_column_is_added_to_an_existing_inventory(tmp_path: Path) -> None:
    """Migration 0005_watch_config over an inventory at 0004 with a job: the job is kept."""
    from alembic import command

    from vendorscope.store import inventory as inventory_module

    db = str(tmp_path / "v4.db")
    with open_inventory(db) as inv:
        Accounts(inv.engine).create_job("pcap", "lab.pcap", "alice")
        with inv.engine.begin() as conn:
            command.downgrade(inventory_module._alembic_config(conn), "0004")
            columns = {c["name"] for c in sa.inspect(conn).get_columns("web_job")}
        assert "config" not in columns
    with open_inventory(db) as inv:
        jobs = Accounts(inv.engine).jobs()
    assert [(j.name, j.config) for j in jobs] == [("lab.pcap", None)]


# ---------------------------------------------------------------- `vendorscope serve`, stopped and killed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`vendorscope serve` in a subprocess on a free loopback port (the environment, PYTHONPATH too, inherited)."""

    def __init__(self, db: str, *extra: str) -> None:
        self.port = _free_port()
        exe = Path(sys.executable).with_name("vendorscope")
        self.proc = subprocess.Popen([str(exe), "serve", "--db", db, "--port", str(self.port), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.end(signal.SIGKILL)
        raise AssertionError("serve did not start listening")

    def call(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def end(self, how: signal.Signals) -> str:
        self.proc.send_signal(how)
        try:
            _out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _out, err = self.proc.communicate()
        return err or ""


def test_serve_resumes_the_watch_after_sigterm_and_after_sigkill(huawei: ServerThread, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A killed server's lease must expire before the next one takes its watch: 1.5 s, not 30 (test_watch_lease).
    monkeypatch.setenv(LEASE_ENV, "1.5")
    db = str(tmp_path / "served.db")
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        analyst = accounts.create_token("analyst", "analyst")[1]
        viewer = accounts.create_token("viewer", "viewer")[1]
    scope_file = write_scope(tmp_path / "scope.toml")

    def rounds(server: Served, at_least: int) -> Any:
        return _wait(lambda: (lambda w: w if w and w["rounds"] >= at_least else None)(
            server.call("GET", "/api/v1/watch", viewer)["watch"]), f"{at_least} rounds")

    server = Served(db, "--scope", str(scope_file))
    try:
        started = server.call("POST", "/api/v1/watch", analyst, {"every": "1s"})["watch"]
        first = rounds(server, 1)["rounds"]
    finally:
        server.end(signal.SIGTERM)  # a clean stop: the lifespan pauses the watch
    assert watch_job(db).state == "running"

    server = Served(db)  # no --scope this time
    try:
        watch = rounds(server, first + 1)
        assert watch["id"] == started["id"] and watch["running"] and watch["created_by"] == "token:analyst"
        second = watch["rounds"]
    finally:
        server.end(signal.SIGKILL)  # a crash: nothing paused it, the row still says running, its lease expires

    server = Served(db)
    try:
        watch = rounds(server, second + 1)
        assert watch["id"] == started["id"] and watch["running"]
        stopped = server.call("DELETE", "/api/v1/watch", analyst)["watch"]
        assert stopped["state"] == "done" and not stopped["running"]
    finally:
        server.end(signal.SIGTERM)
    assert watch_job(db).state == "done"
