"""`serve` (the web dashboard and REST API) and `watch` (continuous monitoring)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

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
    try:
        web = create_app(db, packs=chosen, mode=mode.value, audiences=audience or None)
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
