"""`user` and `token`: who may use the web dashboard and the REST API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from vendorscope.cli.application import app
from vendorscope.cli.common import OutputFormat, console, err_console, fail, write_rows

DEFAULT_DB = "vendorscope.db"
DB_OPTION = typer.Option(DEFAULT_DB, "--db", help="Inventory: SQLite file or PostgreSQL URL.")
ROLE_HELP = "viewer (reads), analyst (also annotates, uploads, starts probes) or admin (also manages users)."

user_app = typer.Typer(help="Users of the web dashboard: add, list, remove.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for the REST API: create, list, revoke.", no_args_is_help=True)
app.add_typer(user_app, name="user", rich_help_panel="Serve")
app.add_typer(token_app, name="token", rich_help_panel="Serve")


@contextmanager
def _accounts(db: str) -> Iterator[Any]:
    from vendorscope.store.accounts import Accounts
    from vendorscope.store.inventory import InventoryError, open_inventory

    try:
        with open_inventory(db, create=True) as inventory:
            yield Accounts(inventory.engine)
    except InventoryError as exc:
        fail(str(exc))


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = typer.prompt("password", hide_input=True)
    second = typer.prompt("again", hide_input=True)
    if first != second:
        fail("the two passwords differ")
    return str(first)


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The user's login name."),
    role: str = typer.Option(..., "--role", "-r", help=ROLE_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first line "
                                        "of standard input (also done when it is not a terminal)."),
    db: str = DB_OPTION,
) -> None:
    """Add a user; the password is asked for (or read from standard input) and stored as a scrypt hash.

    Examples:

      vendorscope user add alice --role admin

      printf '%s\\n' "$PASSWORD" | vendorscope user add ci-viewer --role viewer --password-stdin
    """
    from vendorscope.store.accounts import AccountError, role_of

    try:
        chosen = role_of(role)
    except AccountError as exc:
        fail(str(exc))
    password = _read_password(password_stdin)
    with _accounts(db) as accounts:
        try:
            user = accounts.add_user(name, chosen, password)
        except AccountError as exc:
            fail(str(exc))
        accounts.audit("cli", "user.add", user.name, {"role": user.role.value})
    err_console.print(f"added user {user.name!r} ({user.role.value}) to {db}", highlight=False, markup=False)


@user_app.command("list")
def user_list(
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, jsonl or csv."),
) -> None:
    """List the users and their roles."""
    with _accounts(db) as accounts:
        users = accounts.users()
    rows = ({"name": u.name, "role": u.role.value, "created_at": u.created_at.isoformat()} for u in users)
    write_rows(rows, ("name", "role", "created_at"), fmt, title="users")


@user_app.command("remove")
def user_remove(name: str = typer.Argument(..., help="The user to remove."), db: str = DB_OPTION) -> None:
    """Remove a user and end their sessions."""
    from vendorscope.store.accounts import AccountError

    with _accounts(db) as accounts:
        try:
            accounts.remove_user(name)
        except AccountError as exc:
            fail(str(exc))
        accounts.audit("cli", "user.remove", name)
    err_console.print(f"removed user {name!r}", highlight=False, markup=False)


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="What the token is for (e.g. the script that uses it)."),
    role: str = typer.Option(..., "--role", "-r", help=ROLE_HELP),
    db: str = DB_OPTION,
) -> None:
    """Create an API token and print it once (only its hash is stored).

    Example:

      TOKEN=$(vendorscope token create nightly-export --role viewer)

      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/assets
    """
    from vendorscope.store.accounts import AccountError, role_of

    with _accounts(db) as accounts:
        try:
            token, secret = accounts.create_token(name, role_of(role))
        except AccountError as exc:
            fail(str(exc))
        accounts.audit("cli", "token.create", token.name, {"role": token.role.value, "id": token.id})
    console.print(secret, highlight=False, markup=False, soft_wrap=True)
    err_console.print(f"token {token.id} {token.name!r} ({token.role.value}): shown once, store it now",
                      highlight=False, markup=False)


@token_app.command("list")
def token_list(
    db: str = DB_OPTION,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, jsonl or csv."),
) -> None:
    """List the tokens (never their secrets)."""
    with _accounts(db) as accounts:
        tokens = accounts.tokens()
    rows = ({"id": t.id, "name": t.name, "role": t.role.value, "created_at": t.created_at.isoformat(),
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None} for t in tokens)
    write_rows(rows, ("id", "name", "role", "created_at", "revoked_at"), fmt, title="tokens")


@token_app.command("revoke")
def token_revoke(name: str = typer.Argument(..., help="The token's name or id."), db: str = DB_OPTION) -> None:
    """Revoke a token (by name: every active token of that name)."""
    from vendorscope.store.accounts import AccountError

    with _accounts(db) as accounts:
        try:
            count = accounts.revoke_token(name)
        except AccountError as exc:
            fail(str(exc))
        accounts.audit("cli", "token.revoke", name, {"count": count})
    err_console.print(f"revoked {count} token{'s' if count != 1 else ''} {name!r}", highlight=False, markup=False)
