"""Background imports: an uploaded file becomes a snapshot, with progress in the database.

A job reads its file with the same collectors as `vendorscope pcap` and
`vendorscope import`, and stores what it read through the same pipeline. A
file that breaks part-way still stores what was read before the break; the
job then ends ``failed`` with a one-line error naming the file and place.

Several servers may share one inventory. Each holds a lease (a ``web_server``
row whose heartbeat a daemon thread renews every ``HEARTBEAT_S``) and owns the
jobs it runs (``web_job.owner``); a server only fails or takes over the jobs of
a server whose lease has expired (``LEASE_S`` without a heartbeat) or ended.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from vendorscope.model import Observation
from vendorscope.store.accounts import Accounts, Job

log = logging.getLogger("vendorscope.web")

# What an upload can be: the name shown, and the collector that reads it.
UPLOAD_KINDS: dict[str, str] = {
    "pcap": "packet capture (pcap, pcapng, .gz)",
    "nmap": "nmap XML",
    "table": "inventory table (CSV, XLSX)",
    "scandata": "internet-scan data (JSON lines)",
    "sbom": "SBOM (CycloneDX, SPDX)",
}
MAX_UPLOAD_BYTES = 2 << 30
PROGRESS_EVERY_S = 0.25
MIN_WATCH_EVERY_S = 1.0  # tests watch every second; people every hour
WATCH_STOP_WAIT_S = 30.0  # how long stopping waits for the round under way
HEARTBEAT_S = 10.0  # how often a server renews its lease
LEASE_S = 30.0  # a server without a heartbeat for this long is gone: its jobs may be taken over
# Tests (and impatient operators) shorten the lease of a `serve` process through its environment.
LEASE_ENV = "VENDORSCOPE_SERVER_LEASE_S"


def lease_seconds(given: float | None = None) -> float:
    """The lease to hold: ``given``, else the environment's ``VENDORSCOPE_SERVER_LEASE_S``, else ``LEASE_S``."""
    if given is not None:
        chosen = given
    else:
        try:
            chosen = float(os.environ.get(LEASE_ENV) or LEASE_S)
        except ValueError:
            raise ValueError(f"{LEASE_ENV}: a number of seconds, not {os.environ.get(LEASE_ENV)!r}") from None
    if not 0 < chosen < 86400:
        raise ValueError(f"a server's lease lasts more than 0 s and less than a day, not {chosen:g} s")
    return chosen


@dataclass(frozen=True)
class ProbeSetup:
    """What `serve --scope` allows analysts to start from the web: rounds of `watch` over one scope."""

    scope: Any
    scope_path: Path
    addresses: list[str]
    audit_path: Path
    concurrency: int
    webhook: str | None = None


@dataclass(frozen=True)
class WatchConfig:
    """What a watch needs to go on in another server process; kept as JSON in its job row.

    The scope is kept as its file's path, not its contents: the file is the gate, so a
    resumed watch obeys the scope as it is now (narrowed, it refuses to resume).
    """

    scope_path: str
    addresses: tuple[str, ...]
    every: str
    webhook: str | None
    audit_path: str
    concurrency: int
    started_by: str
    last_round_at: datetime | None = None
    alerts: int = 0

    @classmethod
    def of(cls, probes: ProbeSetup, every: str, user: str) -> WatchConfig:
        # Absolute paths: the next server may run from another folder.
        return cls(str(probes.scope_path.resolve()), tuple(probes.addresses), every.strip(), probes.webhook,
                   str(probes.audit_path.resolve()), probes.concurrency, user)

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope_path, "addresses": list(self.addresses), "every": self.every,
                "webhook": self.webhook, "audit_log": self.audit_path, "concurrency": self.concurrency,
                "started_by": self.started_by,
                "last_round_at": self.last_round_at.isoformat() if self.last_round_at else None,
                "alerts": self.alerts}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> WatchConfig:
        """The configuration kept in a job row; ValueError (one line) if it is missing or damaged."""
        if not data:
            raise ValueError("its job keeps no configuration (started by an older vendorscope)")
        try:
            last = datetime.fromisoformat(data["last_round_at"]) if data.get("last_round_at") else None
            webhook = None if data.get("webhook") is None else str(data["webhook"])
            if webhook is not None and not webhook.lower().startswith(("http://", "https://")):
                raise ValueError(f"webhook {webhook[:100]!r} is not an http(s) URL")
            return cls(str(data["scope"]), tuple(str(a) for a in data["addresses"]), str(data["every"]), webhook,
                       str(data["audit_log"]), int(data["concurrency"]), str(data["started_by"]),
                       last if last is None or last.tzinfo else last.replace(tzinfo=UTC),
                       int(data.get("alerts") or 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"its kept configuration is damaged ({type(exc).__name__}: {exc})") from None

    def probes(self) -> ProbeSetup:
        """The setup to probe with again: the scope file re-read, every address checked against it.

        Raises ValueError (one line) when the file is gone or broken or no longer allows an address.
        """
        from vendorscope.collect.probe.scope import ScopeError, ScopeViolation, load_scope

        try:
            scope = load_scope(self.scope_path)
            for address in self.addresses:
                scope.check(address)
        except (ScopeError, ScopeViolation) as exc:
            raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        if not self.addresses:
            raise ValueError(f"{self.scope_path}: no address to probe")
        return ProbeSetup(scope, Path(self.scope_path), list(self.addresses), Path(self.audit_path),
                          self.concurrency, self.webhook)


def first_wait_s(last_round_at: datetime | None, every_s: float, now: datetime) -> float:
    """Seconds until a resumed watch's next round: ``every`` after the last round began, at once if overdue.

    Never more than ``every``: a last round "in the future" (the clock was set back) must not stall the watch.
    """
    if last_round_at is None:
        return 0.0
    return min(every_s, max(0.0, (last_round_at + timedelta(seconds=every_s) - now).total_seconds()))


@dataclass
class Watching:
    """A watch running in this process: what the job row does not hold."""

    job_id: int
    every: str
    every_s: float
    stop: threading.Event
    thread: threading.Thread = field(default_factory=threading.Thread)
    rounds: int = 0
    alerts: int = 0
    next_run: datetime | None = None
    stopped_by: str | None = None
    paused: bool = False  # stopped because the server stops: the job stays running for the next server


class JobRunner:
    """Runs imports one at a time in a background thread; the uploads wait in a private folder."""

    def __init__(self, accounts: Accounts, db: str, on_stored: Callable[[], None] = lambda: None,
                 lease_s: float | None = None) -> None:
        self.accounts = accounts
        self.db = db
        self.on_stored = on_stored
        self.folder = Path(tempfile.mkdtemp(prefix="vendorscope-uploads-"))
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vendorscope-job")
        self.watching: Watching | None = None
        self._watch_lock = threading.Lock()
        self.server_id = str(uuid.uuid4())
        self.lease = timedelta(seconds=lease_seconds(lease_s))
        # Three heartbeats per lease: one late or failed beat does not let another server take over.
        self.heartbeat_s = min(HEARTBEAT_S, self.lease.total_seconds() / 3)
        self._closing = threading.Event()
        self._beating: threading.Thread | None = None
        # How a watch writes its job: only while this server owns it and no one stopped it elsewhere.
        self._mine: dict[str, Any] = {"only_owner": self.server_id, "only_unfinished": True}

    def start(self, data: Any) -> None:
        """At start-up: take a lease, recover what stopped servers left, then keep the lease alive."""
        self.accounts.register_server(self.server_id, socket.gethostname(), os.getpid(), self.lease)
        self.recover(data)
        self._beating = threading.Thread(target=self._beat, args=(data,), name="vendorscope-lease", daemon=True)
        self._beating.start()

    def close(self) -> None:
        self.pause_watch()
        # The lease lives on while the import under way ends: another server must not fail it meanwhile.
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._closing.set()
        if self._beating is not None:
            self._beating.join(timeout=WATCH_STOP_WAIT_S)
        # Ended, not left to expire: the next server resumes the paused watch at once.
        self.accounts.unregister_server(self.server_id)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _beat(self, data: Any) -> None:
        while not self._closing.wait(self.heartbeat_s):
            try:
                self._tick(data)
            except Exception as exc:  # a database hiccup must not end the lease for good
                log.warning("server lease: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def _tick(self, data: Any) -> None:
        """One heartbeat: renew the lease, let go of a watch taken over, take over what expired servers left."""
        # Renewed, or made again if it was pruned as expired (this process was stalled); expired rows of
        # killed servers go on the way.
        self.accounts.register_server(self.server_id, socket.gethostname(), os.getpid(), self.lease)
        self._drop_lost_watch()
        if not self._closing.is_set():  # stopping: renew the lease, take nothing new on
            self.recover(data)

    def _drop_lost_watch(self) -> None:
        """Our watch was stopped from another server, or our lease lapsed once and another server took the
        watch: stop our thread, writing nothing (its writes are conditional on owning the unfinished job),
        so that the watch never runs twice nor starts again."""
        watching = self.watching
        if watching is None or not watching.thread.is_alive():
            return
        job = self.accounts.job(watching.job_id)
        if job is None or (job.owner == self.server_id and not job.finished):
            return
        log.warning("job %s (watch): %s; this server stops running it", job.id,
                    "stopped from another server" if job.owner == self.server_id else "taken over by another server")
        with self._watch_lock:
            if self.watching is watching:
                self.watching = None
        watching.paused = True
        watching.stop.set()  # not joined: the heartbeat must go on while the round under way ends

    def _orphaned(self, job: Job, live: dict[str, Any]) -> bool:
        """Left by a server that is gone: no owner (older jobs), or an owner whose lease ended or expired."""
        return job.owner != self.server_id and job.owner not in live

    def submit(self, kind: str, filename: str, stream: IO[bytes], user: str) -> Job:
        if kind not in UPLOAD_KINDS:
            raise ValueError(f"unknown upload kind {kind!r}; kinds: {', '.join(UPLOAD_KINDS)}")
        name = Path(filename or "upload").name or "upload"
        job = self.accounts.create_job(kind, name, user, owner=self.server_id)
        target = self.folder / f"{job.id}-{_safe(name)}"
        size = 0
        with target.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    out.close()
                    target.unlink(missing_ok=True)
                    self.accounts.update_job(job.id, state="failed",
                                             error=f"{name}: larger than {MAX_UPLOAD_BYTES >> 30} GiB: not read")
                    return self.accounts.job(job.id) or job
                out.write(chunk)
        self.accounts.update_job(job.id, total=size)
        self.executor.submit(self._run, job.id, kind, name, target)
        return self.accounts.job(job.id) or job

    def submit_probe(self, probes: ProbeSetup, data: Any, user: str) -> Job:
        """One round of `watch` as a job: probe the scope, store a snapshot, raise alerts."""
        job = self.accounts.create_job("probe", probes.scope_path.name, user, total=len(probes.addresses),
                                       owner=self.server_id)
        self.executor.submit(self._run_probe, job.id, probes, data)
        return self.accounts.job(job.id) or job

    # ---- continuous monitoring: `vendorscope watch` as a repeating job

    def start_watch(self, probes: ProbeSetup, data: Any, every: str, user: str) -> Job:
        """Rounds of `watch` every ``every`` (``30m``, ``1h``…) until stopped; one watch at a time.

        The job row keeps the watch's configuration: the next server resumes it (:meth:`resume_watch`).
        Raises ValueError for a bad interval, RuntimeError when a watch runs already.
        """
        every_s = _watch_interval(every)
        config = WatchConfig.of(probes, every, user)
        with self._watch_lock:
            if self.watching is not None and self.watching.thread.is_alive():
                raise RuntimeError(f"a watch runs already (job {self.watching.job_id}): stop it first")
            self._refuse_if_watched_elsewhere()
            job = self.accounts.create_job("watch", f"{probes.scope_path.name} every {config.every}", user,
                                           total=len(probes.addresses), config=config.to_json(),
                                           owner=self.server_id)
            self._launch(job, probes, data, config, every_s, 0.0)
        return self.accounts.job(job.id) or job

    def _refuse_if_watched_elsewhere(self) -> None:
        """One watch per inventory: RuntimeError if another live server runs one."""
        live = self.accounts.live_servers(self.lease)
        for job in self.accounts.jobs(200):
            if job.kind == "watch" and not job.finished and job.owner != self.server_id and job.owner in live:
                server = live[job.owner]
                raise RuntimeError(f"a watch runs already in another server ({server.host}, pid {server.pid}, "
                                   f"job {job.id}): stop it there first")

    def recover(self, data: Any) -> None:
        """Over what stopped servers left unfinished (at start-up, then at every heartbeat): their imports
        and probe rounds cannot go on (the uploads were in that server's private folder) and end ``failed``;
        the watch resumes. Jobs of servers whose lease is alive are theirs: left alone."""
        live = self.accounts.live_servers(self.lease)
        for job in self.accounts.jobs(200):
            if job.kind != "watch" and not job.finished and self._orphaned(job, live):
                # Compare-and-set: of two servers recovering at once, one writes the failure.
                self.accounts.take_job(job.id, job.owner, self.server_id, self.lease, state="failed",
                                       error=f"interrupted: the server stopped; "
                                       f"{'upload the file' if job.kind in UPLOAD_KINDS else 'start it'} again")
        self.resume_watch(data)

    def resume_watch(self, data: Any) -> Job | None:
        """Go on with the watch a stopped server left running (unless a user stopped it): at start-up, and at
        every heartbeat for a server killed meanwhile. Only if its owner's lease has ended or expired and no
        live server runs a watch; taken with a compare-and-set on the owner, so exactly one server goes on.

        Its next round comes ``every`` after its last round began (at once if that time has passed).
        A watch that cannot go on (its scope file gone, or no longer allowing an address) ends
        ``failed`` with a one-line reason. Returns the job taken, or None (none left, or not ours to take).
        """
        live = self.accounts.live_servers(self.lease)
        pending = [j for j in self.accounts.jobs(200) if j.kind == "watch" and not j.finished]
        mine = self.watching is not None and self.watching.thread.is_alive()
        # One watch at a time: only the newest goes on, and none if a live server (this one too) runs one.
        watched = mine or any(not self._orphaned(j, live) for j in pending)
        job = pending[0] if pending and not watched else None
        for older in pending:
            if older is not job and self._orphaned(older, live):
                self.accounts.take_job(older.id, older.owner, self.server_id, self.lease, state="failed",
                                       error="interrupted: the server stopped")
        # Compare-and-set on the owner: of two servers taking it at once, exactly one goes on.
        if job is None or not self.accounts.take_job(job.id, job.owner, self.server_id, self.lease):
            return None
        try:
            config = WatchConfig.from_json(job.config)
            every_s = _watch_interval(config.every)
            probes = config.probes()
        except ValueError as exc:
            error = f"interrupted: the server stopped and the watch cannot resume: {exc}"[:400]
            log.warning("job %s (watch): %s", job.id, error)
            self.accounts.update_job(job.id, **self._mine, state="failed", error=error)
            return self.accounts.job(job.id)
        wait = first_wait_s(config.last_round_at, every_s, datetime.now(UTC))
        with self._watch_lock:
            if self.watching is not None and self.watching.thread.is_alive():
                return self.accounts.job(job.id)
            self._launch(job, probes, data, config, every_s, wait)
        log.info("resumed watch job %s (%s, started by %s); next round in %.0f s", job.id, job.name,
                 config.started_by, wait)
        self.accounts.audit("vendorscope", "watch.resume", f"job:{job.id}",
                            {"scope": Path(config.scope_path).name, "every": config.every, "rounds": job.done})
        return self.accounts.job(job.id)

    def _launch(self, job: Job, probes: ProbeSetup, data: Any, config: WatchConfig, every_s: float,
                wait_s: float) -> None:
        """Start the watch's thread (the caller holds the watch lock): rounds counted on from the job's."""
        from vendorscope.web.watch import Monitor, probe_function, run_rounds

        watching = Watching(job.id, config.every, every_s, threading.Event(), rounds=job.done,
                            alerts=config.alerts)
        monitor = Monitor(data, self.accounts, self.db,
                          probe_function(probes.scope, probes.addresses, probes.audit_path, self.db,
                                         probes.concurrency), webhook=probes.webhook)
        kept = config

        def on_round(n: int, result: Any) -> None:
            nonlocal kept
            self.on_stored()
            watching.rounds = rounds = job.done + n
            watching.alerts += len(result.alerts)
            watching.next_run = datetime.now(UTC) + timedelta(seconds=every_s)
            kept = replace(kept, last_round_at=result.started_at, alerts=watching.alerts)
            message = (f"{_rounds(rounds)}, {_alerts(watching.alerts)}; last: {result.hosts} hosts, "
                       f"{result.observations} observations, {_alerts(len(result.alerts))}, "
                       f"snapshot {result.snapshot_id}")
            # Only while it is ours: a server that lost its lease stops here instead of writing over.
            if not self.accounts.update_job(job.id, **self._mine, done=rounds,
                                            snapshot_id=result.snapshot_id, config=kept.to_json(), message=message):
                log.warning("job %s (watch): taken over or stopped by another server; this server stops running it",
                            job.id)
                watching.paused = True
                watching.stop.set()

        def run() -> None:
            try:
                run_rounds(monitor, every_s, None, watching.stop, on_round, first_wait_s=wait_s)
            except Exception as exc:  # one line in the job; the audit log has every probe sent
                log.warning("job %s (watch) failed: %s", job.id, exc)
                self.accounts.update_job(job.id, **self._mine, state="failed",
                                         error=_one_line(exc, probes.scope_path.name, probes.scope_path))
                return
            finally:
                watching.next_run = None
                with self._watch_lock:  # a watch lost or failed is no longer this server's
                    if self.watching is watching:
                        self.watching = None
            if watching.paused:  # the job stays running: the next server resumes it
                self.accounts.update_job(job.id, **self._mine,
                                         message=f"{_rounds(watching.rounds)}, {_alerts(watching.alerts)}; "
                                         "paused: the server stopped (the next server resumes it)")
                return
            self.accounts.update_job(job.id, **self._mine, state="done", error=None,
                                     message=f"stopped after {_rounds(watching.rounds)}, {_alerts(watching.alerts)}"
                                     f"{f' ({watching.stopped_by})' if watching.stopped_by else ''}")

        self.accounts.update_job(job.id, **self._mine, state="running")
        watching.next_run = datetime.now(UTC) + timedelta(seconds=wait_s)
        watching.thread = threading.Thread(target=run, name=f"vendorscope-watch-{job.id}", daemon=True)
        self.watching = watching
        watching.thread.start()

    def stop_watch(self, why: str) -> Job | None:
        """Stop the running watch for good (its current round ends first); the job, or None if none ran.

        A watch another server runs is marked done here; that server stops its thread at its next round or
        heartbeat, whichever comes first (it finds its job finished).
        """
        return self._end_watch(why, paused=False) or self._stop_watch_elsewhere(why)

    def _stop_watch_elsewhere(self, why: str) -> Job | None:
        job = next((j for j in self.accounts.jobs(200) if j.kind == "watch" and not j.finished), None)
        if job is None:
            return None
        alerts = int((job.config or {}).get("alerts") or 0)
        # Conditional on the owner read: a server taking it over meanwhile wins, and this stop says no watch.
        if not self.accounts.update_job(job.id, only_owner=job.owner, only_unfinished=True, state="done", error=None,
                                        message=f"stopped after {_rounds(job.done)}, {_alerts(alerts)} ({why})"):
            return None
        return self.accounts.job(job.id)

    def pause_watch(self) -> Job | None:
        """The server stops: end the watch's thread but leave its job running, for the next server."""
        return self._end_watch("the server stopped", paused=True)

    def _end_watch(self, why: str, paused: bool) -> Job | None:
        with self._watch_lock:
            watching, self.watching = self.watching, None
        if watching is None or not watching.thread.is_alive():
            return None
        watching.stopped_by = why
        watching.paused = paused
        watching.stop.set()
        watching.thread.join(timeout=WATCH_STOP_WAIT_S)
        return self.accounts.job(watching.job_id)

    def watch_status(self) -> tuple[Job, Watching | None] | None:
        """The latest watch job, with its live state when it runs in this process."""
        latest = next((j for j in self.accounts.jobs(200) if j.kind == "watch"), None)
        if latest is None:
            return None
        live = self.watching
        return latest, live if live is not None and live.job_id == latest.id and live.thread.is_alive() else None

    def _run_probe(self, job_id: int, probes: ProbeSetup, data: Any) -> None:
        from vendorscope.web.watch import Monitor, probe_function

        tracker = _Progress(self.accounts, job_id)
        self.accounts.update_job(job_id, state="running")
        run = probe_function(probes.scope, probes.addresses, probes.audit_path, self.db, probes.concurrency,
                             on_host=lambda _result: tracker.advance(1))
        try:
            result = Monitor(data, self.accounts, self.db, run, webhook=probes.webhook).round()
        except Exception as exc:  # one line in the job; the audit log has every probe sent
            log.warning("job %s (probe) failed: %s", job_id, exc)
            tracker.flush()
            self.accounts.update_job(job_id, state="failed", error=_one_line(exc, probes.scope_path.name,
                                                                             probes.scope_path))
            return
        self.on_stored()
        tracker.flush()
        self.accounts.update_job(job_id, state="done", snapshot_id=result.snapshot_id, done=tracker.done,
                                 message=f"{result.hosts} hosts, {result.observations} observations, "
                                 f"{len(result.alerts)} alerts, snapshot {result.snapshot_id}")

    def _run(self, job_id: int, kind: str, name: str, path: Path) -> None:
        tracker = _Progress(self.accounts, job_id)
        self.accounts.update_job(job_id, state="running")
        collected: list[Observation] = []
        error: str | None = None
        try:
            for obs in read_upload(kind, path, name, tracker.advance):
                collected.append(obs)
        except Exception as exc:  # the job reports it in one line; what was read is still stored
            error = _one_line(exc, name, path)
        tracker.flush()
        snapshot_id = None
        try:
            if collected or error is None:
                from vendorscope.pipeline import ingest

                source = "pcap:" + name if kind == "pcap" else f"import:{kind}:{name}"
                stats: dict[str, object] = {"kind": kind, "upload": name, "error": error}
                result = ingest(collected, source=source, db=self.db, started_at=datetime.now(UTC), stats=stats)
                snapshot_id = result.snapshot_id
                self.on_stored()
        except Exception as exc:
            error = error or f"cannot store {name}: {_one_line(exc, name, path)}"
        message = f"{len(collected):,} observations" + (f", snapshot {snapshot_id}" if snapshot_id else "")
        if error is not None:
            log.warning("job %s (%s %s) failed: %s", job_id, kind, name, error)
        self.accounts.update_job(job_id, state="failed" if error else "done", error=error, message=message,
                                 snapshot_id=snapshot_id, done=tracker.done)
        path.unlink(missing_ok=True)


class _Progress:
    def __init__(self, accounts: Accounts, job_id: int) -> None:
        self.accounts = accounts
        self.job_id = job_id
        self.done = 0
        self.last = 0.0
        self.lock = threading.Lock()

    def advance(self, n: int) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if now - self.last < PROGRESS_EVERY_S:
                return
            self.last = now
        self.flush()

    def flush(self) -> None:
        self.accounts.update_job(self.job_id, done=self.done)


def read_upload(kind: str, path: Path, name: str, advance: Callable[[int], None]) -> Iterator[Observation]:
    """The observations of one uploaded file, read by the collector of its kind.

    A bad record or a damaged file raises with a one-line message; what was
    yielded before stays yielded.
    """
    if kind == "pcap":
        from vendorscope.collect.pcap import SkipReport, read_observations

        yield from read_observations(path, progress=advance, report=SkipReport(), name=name)
        return
    from vendorscope.collect.imports.common import BadRecord, Collector, source_name
    from vendorscope.collect.imports.readers import read_file

    bad: list[BadRecord] = []
    collector = Collector(strict=False, on_bad=bad.append)
    now = datetime.now(UTC)
    if kind == "table":
        # The table reader reads the file itself: report its size when done.
        yield from read_file("table", path, source_name(kind, name), collector, now, on_read=advance)
        advance(path.stat().st_size)
    else:
        yield from read_file(kind, path, source_name(kind, name), collector, now, on_read=advance)
    if bad:
        first = str(bad[0]).replace(str(path), name)
        more = f" (and {len(bad) - 1} more bad records)" if len(bad) > 1 else ""
        raise ValueError(first + more)


def _watch_interval(every: str) -> float:
    """Seconds between rounds; ValueError for a bad or too short interval."""
    from vendorscope.web.watch import parse_every

    every_s = parse_every(every)
    if every_s < MIN_WATCH_EVERY_S:
        raise ValueError(f"every: at least {MIN_WATCH_EVERY_S:g} seconds, not {every!r}")
    return every_s


def _rounds(n: int) -> str:
    return f"{n} round{'s' if n != 1 else ''}"


def _alerts(n: int) -> str:
    return f"{n} alert{'s' if n != 1 else ''}"


def _one_line(exc: BaseException, name: str, path: Path) -> str:
    """The error's first line, naming the uploaded file (never the server's temporary path)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0].replace(str(path), name)[:300]
    return text if name in text else f"{name}: {text}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "upload"
