"""`user`, `token` and `serve` on the command line, and the web API over a real PostgreSQL server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pg import PostgresServer
from typer.testing import CliRunner
from web_support import AS_OF, HOSTILE_MAC, PASSWORD, add_users, build_inventory

from vendorscope.cli import app
from vendorscope.store.accounts import Accounts
from vendorscope.store.inventory import open_inventory

runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_user_add_list_remove(tmp_path: Path) -> None:
    db = str(tmp_path / "inv.db")
    code, _out, err = run("user", "add", "alice", "--role", "admin", "--db", db, stdin="a long password\n")
    assert code == 0 and "added user 'alice' (admin)" in err
    code, out, _ = run("user", "list", "--db", db, "--format", "jsonl")
    assert code == 0 and json.loads(out)["name"] == "alice" and json.loads(out)["role"] == "admin"
    with open_inventory(db) as inv:
        accounts = Accounts(inv.engine)
        assert accounts.authenticate("alice", "a long password") is not None
        assert accounts.authenticate("alice", "a long passworD") is None
    code, _out, err = run("user", "add", "alice", "--role", "viewer", "--db", db, stdin="another password\n")
    assert code == 2 and "exists already" in err and "Traceback" not in err
    code, _out, err = run("user", "remove", "alice", "--db", db)
    assert code == 0
    code, out, _ = run("user", "list", "--db", db, "--format", "jsonl")
    assert out.strip() == ""
    code, _out, err = run("user", "remove", "alice", "--db", db)
    assert code == 2 and "no user 'alice'" in err


@pytest.mark.parametrize(("args", "message"), [
    (("--role", "root"), "unknown role 'root'"),
    (("--role", "viewer"), "at least 8 characters"),
])
def test_user_add_refuses_bad_input_in_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, _out, err = run("user", "add", "bob", *args, "--db", str(tmp_path / "inv.db"), stdin="short\n")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_token_create_prints_it_once_and_revoke_ends_it(tmp_path: Path) -> None:
    db = str(tmp_path / "inv.db")
    code, out, err = run("token", "create", "nightly", "--role", "viewer", "--db", db)
    assert code == 0 and "shown once" in err
    secret = out.strip()
    assert re.fullmatch(r"vst_[A-Za-z0-9_-]{40,}", secret)
    code, out, _ = run("token", "list", "--db", db, "--format", "jsonl")
    assert secret not in out and json.loads(out)["name"] == "nightly"
    with open_inventory(db) as inv:
        principal = Accounts(inv.engine).token_principal(secret)
    assert principal is not None and principal.role.value == "viewer"
    code, _out, err = run("token", "revoke", "nightly", "--db", db)
    assert code == 0 and "revoked 1 token" in err
    with open_inventory(db) as inv:
        assert Accounts(inv.engine).token_principal(secret) is None
    code, _out, err = run("token", "revoke", "nightly", "--db", db)
    assert code == 2 and "no active token" in err


def test_serve_refuses_what_it_cannot_open_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    code, _out, err = run("serve", "--db", str(tmp_path / "folder"))
    assert code == 2 and "is a directory" in err and "Traceback" not in err
    code, _out, err = run("serve", "--db", str(tmp_path / "typo.db"))
    assert code == 2 and "no inventory there" in err and not (tmp_path / "typo.db").exists()
    code, _out, err = run("serve", "--tls-cert", str(tmp_path / "c.pem"))
    assert code == 2 and "go together" in err


# ---------------------------------------------------------------- PostgreSQL


def test_the_api_on_postgresql(pg_server: PostgresServer) -> None:
    fastapi = pytest.importorskip("fastapi")
    assert fastapi
    from fastapi.testclient import TestClient

    from vendorscope.web.app import create_app

    url = pg_server.create_database()
    db = build_inventory(url)
    tokens = add_users(db)
    with TestClient(create_app(db, as_of=AS_OF)) as client:
        viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
        analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
        body = client.get("/api/v1/assets?group=hikvision", headers=viewer).json()
        assert body["total"] == 2
        r = client.patch(f"/api/v1/assets/mac:{HOSTILE_MAC}", headers=analyst, json={"role": "cctv"})
        assert r.status_code == 200 and r.json()["role"] == "cctv"
        assert client.get("/api/v1/assets?role=cctv", headers=viewer).json()["total"] >= 1
        assert client.get("/api/v1/assets", headers={"Authorization": "Bearer nope"}).status_code == 401
        page = client.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
        assert token is not None
        r = client.post("/login", data={"name": "viewer", "password": PASSWORD, "login_csrf": token.group(1)},
                        follow_redirects=False)
        assert r.status_code == 303 and client.get("/").status_code == 200

