"""Two servers over one inventory: each holds a lease, and only takes over the jobs of a server whose
lease has ended (a clean stop) or expired (a killed server).

Real parts on SQLite and PostgreSQL: `vendorscope serve` in a subprocess killed with SIGKILL, the app's
lifespan in this process beside it, JobRunners racing for one job. Leases are shortened to 2 s
(``VENDORSCOPE_SERVER_LEASE_S``) so that waiting for an expiry takes seconds, not half a minute; the
waits are bounded polls of a condition, never timing assertions. Probes go to a real SSH greeting on
loopback, as in test_watch_resume.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from probe_servers import ServerThread, huawei_ssh, loopback
from test_watch_resume import Served, setup_of, tokens_for, write_scope
from test_web_watch import _wait

from vendorscope.judge.packs import load_packs
from vendorscope.store.accounts import Accounts, Job
from vendorscope.store.inventory import open_inventory
from vendorscope.web.data import WebData
from vendorscope.web.jobs import LEASE_ENV, JobRunner, WatchConfig, lease_seconds

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from vendorscope.web.app import create_app  # noqa: E402

HOST = loopback(160, 0, 1)  # 160-169: no other test module listens there
LEASE_S = 2.0  # heartbeats every 0.67 s: a busy test machine still renews in time


@pytest.fixture(scope="module")
def huawei() -> Iterator[ServerThread]:
    with huawei_ssh(HOST) as t:
        yield t


@pytest.fixture
def db(db_url: str) -> str:
    """conftest's inventory (SQLite, then PostgreSQL), its schema created."""
    with open_inventory(db_url):
        pass
    return db_url


def accounts_do(db: str, what: Any) -> Any:
    with open_inventory(db) as inv:
        return what(Accounts(inv.engine))


def watch_jobs(db: str) -> list[Job]:
    return [j for j in accounts_do(db, lambda a: a.jobs()) if j.kind == "watch"]


def resumes(db: str, job_id: int) -> int:
    return sum(e.action == "watch.resume" for e in accounts_do(db, lambda a: a.audit_trail(f"job:{job_id}")))


def beats_past(db: str, server_id: str, since: datetime, leases: float) -> None:
    """Wait until ``server_id`` renewed its lease ``leases`` leases after ``since``: by then it has had many
    chances to take over what it must not take."""
    def renewed() -> bool:
        servers = {s.id: s for s in accounts_do(db, lambda a: a.servers())}
        return server_id in servers and servers[server_id].heartbeat_at >= since + timedelta(seconds=leases * LEASE_S)

    _wait(renewed, f"server {server_id} renewing its lease")


# ---------------------------------------------------------------- pure parts


def test_the_lease_is_configurable_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LEASE_ENV, raising=False)
    assert lease_seconds() == 30.0 and lease_seconds(2) == 2
    monkeypatch.setenv(LEASE_ENV, "1.5")
    assert lease_seconds() == 1.5
    for bad in ("soon", "0", "-1"):
        monkeypatch.setenv(LEASE_ENV, bad)
        with pytest.raises(ValueError):
            lease_seconds()


# ---------------------------------------------------------------- a live server, then a killed one


def test_a_live_server_keeps_its_jobs_and_a_killed_servers_watch_moves_over_once(
        huawei: ServerThread, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEASE_ENV, str(LEASE_S))  # the subprocess inherits it
    headers = tokens_for(db)
    analyst, viewer = (headers[r]["Authorization"].split()[1] for r in ("analyst", "viewer"))
    scope_file = write_scope(tmp_path / "scope.toml", f"{HOST}/32")
    monkeypatch.chdir(tmp_path)  # with PostgreSQL, the served watch keeps its audit log in the working directory
    first = Served(db, "--scope", str(scope_file))
    try:
        job_id = first.call("POST", "/api/v1/watch", analyst, {"every": "1s"})["watch"]["id"]
        _wait(lambda: first.call("GET", "/api/v1/watch", viewer)["watch"]["rounds"] >= 1, "a first round")
        [first_server] = [s for s in accounts_do(db, lambda a: a.servers()) if s.pid == first.proc.pid]
        # An import under way in the first server (its upload is in that server's private folder).
        upload = accounts_do(db, lambda a: a.create_job("pcap", "big.pcap", "alice", owner=first_server.id))
        accounts_do(db, lambda a: a.update_job(upload.id, state="running", total=100))

        probes = setup_of(scope_file, tmp_path / "audit-second.jsonl")
        with TestClient(create_app(db, probes=probes, lease_s=LEASE_S)) as client:
            second = client.app.state.web.jobs  # type: ignore[attr-defined]
            beats_past(db, second.server_id, datetime.now(UTC), 3)
            # The first server is alive: its import and its watch are still its own.
            assert accounts_do(db, lambda a: a.job(upload.id)).state == "running"
            [watch] = watch_jobs(db)
            assert watch.owner == first_server.id and watch.state == "running" and second.watching is None
            rounds = watch.done
            _wait(lambda: watch_jobs(db)[0].done > rounds, "the first server's next round")
            shown = client.get("/api/v1/watch", headers=headers["viewer"]).json()["watch"]
            assert shown["id"] == job_id and shown["state"] == "running" and not shown["running"]
            # One watch per inventory: the second server does not start another beside it.
            refused = client.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1s"})
            assert refused.status_code == 409 and "another server" in refused.json()["error"]
            assert resumes(db, job_id) == 0

            first.end(signal.SIGKILL)  # a crash: its lease is left to expire
            killed_at = datetime.now(UTC)
            taken = _wait(lambda: (lambda w: w if w.owner == second.server_id else None)(watch_jobs(db)[0]),
                          "the second server taking the watch over")
            assert taken.id == job_id and taken.state == "running"
            _wait(lambda: watch_jobs(db)[0].done > taken.done, "a round of the second server")
            failed = accounts_do(db, lambda a: a.job(upload.id))
            assert failed.state == "failed" and "interrupted" in (failed.error or "")
            beats_past(db, second.server_id, killed_at, 3)
            # Taken over once: one resume in the audit trail, one watch, run by this process.
            assert resumes(db, job_id) == 1
            assert [(j.id, j.state, j.owner) for j in watch_jobs(db)] == [(job_id, "running", second.server_id)]
            assert second.watching is not None and second.watching.job_id == job_id
            assert client.get("/api/v1/watch", headers=headers["viewer"]).json()["watch"]["running"]
        # A clean stop ends the lease at once (no row left) and pauses the watch for the next server.
        assert accounts_do(db, lambda a: a.servers()) == []
        assert watch_jobs(db)[0].state == "running"
    finally:
        if first.proc.poll() is None:
            first.end(signal.SIGKILL)


def test_a_cleanly_stopped_servers_watch_moves_to_a_live_server_without_waiting_for_expiry(
        huawei: ServerThread, db: str, tmp_path: Path) -> None:
    headers = tokens_for(db)
    scope_file = write_scope(tmp_path / "scope.toml", f"{HOST}/32")
    # A lease longer than the wait below: the clean stop's ending of it hands the watch over.
    with TestClient(create_app(db, lease_s=15)) as other:
        runner = other.app.state.web.jobs  # type: ignore[attr-defined]
        with TestClient(create_app(db, probes=setup_of(scope_file, tmp_path / "audit.jsonl"), lease_s=15)) as c:
            assert c.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1h"}).status_code == 202
            [watch] = watch_jobs(db)
            assert watch.owner != runner.server_id
        # Checked at the other server's next heartbeat (every lease / 3, 5 s here).
        _wait(lambda: watch_jobs(db)[0].owner == runner.server_id, "the live server resuming the watch")
        assert runner.watching is not None and runner.watching.job_id == watch.id
        assert resumes(db, watch.id) == 1


# ---------------------------------------------------------------- racing for one job


def test_of_servers_taking_one_job_at_once_exactly_one_wins(db: str) -> None:
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        job = accounts.create_job("watch", "scope.toml every 1h", "alice", owner="a-server-that-was-killed")
        lease = timedelta(seconds=LEASE_S)
        start = threading.Barrier(8)
        won: list[str] = []

        def take(name: str) -> None:
            with open_inventory(db) as mine:  # each its own engine and connections, as separate servers
                start.wait()
                if Accounts(mine.engine).take_job(job.id, job.owner, name, lease):
                    won.append(name)

        threads = [threading.Thread(target=take, args=(f"server-{i}",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1, won
        assert accounts.job(job.id).owner == won[0]  # type: ignore[union-attr]
        # A live owner's job is not taken, even by a caller that read the right owner.
        accounts.register_server(won[0], "here", 1, lease)
        assert not accounts.take_job(job.id, won[0], "late", lease)


def test_two_servers_starting_at_once_resume_a_dead_servers_watch_once(huawei: ServerThread, db: str,
                                                                        tmp_path: Path) -> None:
    scope_file = write_scope(tmp_path / "scope.toml", f"{HOST}/32")
    config = WatchConfig(str(scope_file), (HOST,), "1h", None, str(tmp_path / "audit.jsonl"), 4, "alice")
    job = accounts_do(db, lambda a: a.create_job("watch", "scope.toml every 1h", "alice", config=config.to_json(),
                                                 owner="a-server-that-was-killed"))
    accounts_do(db, lambda a: a.update_job(job.id, state="running"))
    runners: list[JobRunner] = []
    with open_inventory(db) as one, open_inventory(db) as two:
        for inv in (one, two):
            runners.append(JobRunner(Accounts(inv.engine), db, lease_s=LEASE_S))
        datas = [WebData(inv, load_packs()) for inv in (one, two)]
        start = threading.Barrier(2)

        def serve(i: int) -> None:  # what each server's lifespan does at start-up
            start.wait()
            runners[i].start(datas[i])

        threads = [threading.Thread(target=serve, args=(i,)) for i in range(2)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            watching = [r for r in runners if r.watching is not None]
            assert len(watching) == 1 and watching[0].watching.job_id == job.id  # type: ignore[union-attr]
            assert watch_jobs(db)[0].owner == watching[0].server_id
            # Both keep beating; the one that lost never takes the live winner's watch.
            other = next(r for r in runners if r is not watching[0])
            beats_past(db, other.server_id, datetime.now(UTC), 3)
            assert other.watching is None and watch_jobs(db)[0].owner == watching[0].server_id
            assert resumes(db, job.id) == 1
        finally:
            for r in runners:
                r.close()


def test_a_server_whose_watch_was_taken_over_stops_running_it(huawei: ServerThread, db: str,
                                                               tmp_path: Path) -> None:
    """A stalled server (its lease expired while it slept) finds its watch taken: it lets go, writing nothing."""
    headers = tokens_for(db)
    scope_file = write_scope(tmp_path / "scope.toml", f"{HOST}/32")
    # A lease longer than the test: the successor registered below stays alive, so the watch stays its.
    probes = setup_of(scope_file, tmp_path / "audit.jsonl")
    with TestClient(create_app(db, probes=probes, lease_s=30)) as c:
        runner = c.app.state.web.jobs  # type: ignore[attr-defined]
        assert c.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1s"}).status_code == 202
        watching = runner.watching
        assert watching is not None
        # What a server that found this one's lease expired does: its lease, and the owner changed.
        accounts_do(db, lambda a: a.register_server("the-successor", "elsewhere", 1, timedelta(seconds=30)))
        with open_inventory(db) as inv, inv.engine.begin() as conn:
            conn.execute(sa.text("UPDATE web_job SET owner = 'the-successor' WHERE id = :id"),
                         {"id": watching.job_id})
        _wait(lambda: not watching.thread.is_alive(), "the watch thread letting go")
        assert runner.watching is None
    job = watch_jobs(db)[0]
    assert job.owner == "the-successor" and job.state == "running"
    assert "paused" not in (job.message or "")  # nothing written over the successor's job


def test_the_lease_table_and_owner_column_are_added_to_an_existing_inventory(tmp_path: Path) -> None:
    """Migration 0006_server_lease over an inventory at 0005 with a job: the job is kept, with no owner."""
    from alembic import command

    from vendorscope.store import inventory as inventory_module

    db = str(tmp_path / "v5.db")
    with open_inventory(db) as inv:
        Accounts(inv.engine).create_job("pcap", "lab.pcap", "alice", owner="someone")
        with inv.engine.begin() as conn:
            command.downgrade(inventory_module._alembic_config(conn), "0005_watch_config")
            assert "web_server" not in sa.inspect(conn).get_table_names()
    with open_inventory(db) as inv:
        jobs = Accounts(inv.engine).jobs()
        assert Accounts(inv.engine).servers() == []
    assert [(j.name, j.owner) for j in jobs] == [("lab.pcap", None)]


def test_a_watch_stopped_from_another_server_stops_where_it_runs(huawei: ServerThread, db: str,
                                                                 tmp_path: Path) -> None:
    headers = tokens_for(db)
    scope_file = write_scope(tmp_path / "scope.toml", f"{HOST}/32")
    probes = setup_of(scope_file, tmp_path / "audit.jsonl")
    with TestClient(create_app(db, probes=probes, lease_s=LEASE_S)) as running, \
            TestClient(create_app(db, lease_s=LEASE_S)) as other:
        runner = running.app.state.web.jobs  # type: ignore[attr-defined]
        assert running.post("/api/v1/watch", headers=headers["analyst"], json={"every": "1s"}).status_code == 202
        _wait(lambda: watch_jobs(db)[0].done >= 1, "a first round")
        watching = runner.watching
        assert watching is not None
        stopped = other.delete("/api/v1/watch", headers=headers["analyst"])
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["watch"]["state"] == "done" and not stopped.json()["watch"]["running"]
        _wait(lambda: not watching.thread.is_alive(), "the running server letting go of the watch")
        assert runner.watching is None
        job = watch_jobs(db)[0]
        beats_past(db, runner.server_id, datetime.now(UTC), 3)
        # Stopped for good: no more rounds, nothing written over, taken up by neither server.
        assert watch_jobs(db) == [job] and job.state == "done" and "stopped by token:analyst" in (job.message or "")
        assert runner.watching is None and other.app.state.web.jobs.watching is None  # type: ignore[attr-defined]
        assert other.delete("/api/v1/watch", headers=headers["analyst"]).status_code == 404
