"""`serve` (the web dashboard and REST API) and `watch` (continuous monitoring)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import err_console, fail, warn
from vendorscope.cli.judging import (
    AUDIENCE_OPTION,
    JURISDICTION_OPTION,
    MODE_OPTION,
    PACKS_OPTION,
    POLICY_OPTION,
    JudgeMode,
    check_audiences,
    packs_or_fail,
    select_packs,
)

DEFAULT_DB = "vendorscope.db"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _probe_setup(scope_file: Path, db: str, audit_log: Path | None, concurrency: int | None,
                 webhook: str | None) -> Any:
    """The scope, what it allows and where probes are logged: for `watch` and `serve --scope`."""
    from vendorscope.cli.probe import default_audit_path
    from vendorscope.collect.probe.runner import default_concurrency
    from vendorscope.collect.probe.scope import ScopeError, ScopeViolation, load_scope
    from vendorscope.web.jobs import ProbeSetup

    if webhook is not None and not webhook.lower().startswith(("http://", "https://")):
        fail(f"--webhook: an http:// or https:// URL, not {webhook!r}")
    try:
        scope = load_scope(scope_file)
        addresses = scope.expand(())
    except ScopeError as exc:
        fail(str(exc))
    except ScopeViolation as exc:
        fail(f"refused, nothing was sent: {exc}")
    if not addresses:
        fail(f"nothing to probe: {scope_file} allows no address")
    return ProbeSetup(scope, scope_file, addresses, audit_log or default_audit_path(db),
                      concurrency or default_concurrency(), webhook)


@app.command(rich_help_panel="Serve")
def serve(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Inventory: SQLite file or PostgreSQL URL."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="TCP port."),
    policy: list[str] = POLICY_OPTION,
    jurisdiction: list[str] = JURISDICTION_OPTION,
    mode: JudgeMode = MODE_OPTION,
    audience: list[str] = AUDIENCE_OPTION,
    extra: list[Path] = PACKS_OPTION,
    tls_cert: Path = typer.Option(None, "--tls-cert", help="Serve HTTPS with this certificate (PEM)."),
    tls_key: Path = typer.Option(None, "--tls-key", help="The certificate's private key (PEM)."),
    scope_file: Path = typer.Option(None, "--scope", help="Let analysts start probe rounds of this scope from "
                                    "the Imports page and POST /api/v1/probes.", show_default=False),
    webhook: str = typer.Option(None, "--webhook", help="With --scope: POST alerts of those rounds here as JSON."),
) -> None:
    """Serve the web dashboard and the REST API over an inventory.

    Pages need a user (`vendorscope user add`), the API a token (`vendorscope token create`).

    Examples:

      vendorscope serve

      vendorscope serve --db postgresql://scope@db/inventory --port 8443 --tls-cert c.pem --tls-key k.pem
    """
    try:
        import uvicorn

        from vendorscope.web.app import create_app
    except ModuleNotFoundError as exc:
        fail(f"the web dashboard needs {exc.name}: pip install 'vendorscope[web]'")
    from vendorscope.store.inventory import InventoryError

    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together")
    chosen = select_packs(packs_or_fail(extra), policy or (), jurisdiction or ())
    check_audiences(chosen, audience or ())
    if not _is_loopback(host):
        warn(f"listening on {host}: reachable from other machines; put it behind TLS (--tls-cert/--tls-key)")
    probes = _probe_setup(scope_file, db, None, None, webhook) if scope_file is not None else None
    if webhook is not None and probes is None:
        fail("--webhook goes with --scope")
    try:
        web = create_app(db, packs=chosen, mode=mode.value, audiences=audience or None, probes=probes)
    except InventoryError as exc:
        fail(str(exc))
    scheme = "https" if tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    err_console.print(f"vendorscope dashboard on {scheme}://{shown}:{port}/ (inventory {db}); Ctrl-C stops it",
                      highlight=False, markup=False, soft_wrap=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        uvicorn.run(web, host=host, port=port, log_level="warning", server_header=False,
                    ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@app.command(rich_help_panel="Serve")
def watch(
    scope_file: Path = typer.Option(None, "--scope", "-s", help="Scope file (TOML) listing the ranges you may "
                                    "probe. Required.", show_default=False),
    every: str = typer.Option("1h", "--every", help="Time from the start of one round to the next: 30m, 1h, 1d."),
    db: str = typer.Option(DEFAULT_DB, "--db", help="Inventory: SQLite file or PostgreSQL URL."),
    webhook: str = typer.Option(None, "--webhook", help="POST each alert as JSON to this http(s) URL."),
    rounds: int = typer.Option(None, "--rounds", min=1, help="Stop after this many rounds (default: run until "
                               "interrupted)."),
    audit_log: Path = typer.Option(None, "--audit-log", help="Append one JSON line per probe here (default: "
                                   "probe-audit.jsonl next to the db)."),
    concurrency: int = typer.Option(None, "--concurrency", "-c", min=1, max=65536, help="Hosts probed at once."),
    policy: list[str] = POLICY_OPTION,
    jurisdiction: list[str] = JURISDICTION_OPTION,
    mode: JudgeMode = MODE_OPTION,
    audience: list[str] = AUDIENCE_OPTION,
    extra: list[Path] = PACKS_OPTION,
) -> None:
    """Probe the scope again and again: a snapshot per round, and an alert when a high-risk device
    appears or a deadline passes with covered equipment still present.

    An alert is a log line, a JSON POST to --webhook and a banner on the dashboard's overview.

    Examples:

      vendorscope watch --scope scope.toml --every 1h

      vendorscope watch --scope scope.toml --every 6h --webhook https://chat.example/hooks/vendorscope
    """
    import threading

    from vendorscope.store.accounts import Accounts
    from vendorscope.store.inventory import InventoryError, open_inventory
    from vendorscope.web.data import WebData
    from vendorscope.web.watch import Monitor, RoundResult, parse_every, probe_function, run_rounds

    if scope_file is None:
        fail("no scope: watching needs --scope FILE naming the ranges you are allowed to examine "
             "(there is no default scope)")
    try:
        every_s = parse_every(every)
    except ValueError as exc:
        fail(str(exc))
    setup = _probe_setup(scope_file, db, audit_log, concurrency, webhook)
    chosen = select_packs(packs_or_fail(extra), policy or (), jurisdiction or ())
    check_audiences(chosen, audience or ())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def report(n: int, result: RoundResult) -> None:
        err_console.print(f"round {n}: {result.hosts} hosts, {result.observations} observations, snapshot "
                          f"{result.snapshot_id}, {len(result.alerts)} alerts", highlight=False, markup=False)

    try:
        with open_inventory(db) as inventory:
            monitor = Monitor(WebData(inventory, chosen, mode=mode.value, audiences=audience or None),
                              Accounts(inventory.engine), db,
                              probe_function(setup.scope, setup.addresses, setup.audit_path, db, setup.concurrency),
                              webhook=webhook)
            err_console.print(f"watching {len(setup.addresses)} addresses of {scope_file} every {every}; "
                              f"inventory {db}; audit log {setup.audit_path}", highlight=False, markup=False)
            run_rounds(monitor, every_s, rounds, stop, report)
    except InventoryError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        stop.set()
        err_console.print("stopped", highlight=False)
