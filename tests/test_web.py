"""The web dashboard and REST API over a real inventory (SQLite), through Starlette's test client."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from probe_servers import loopback  # noqa: E402
from web_support import (  # noqa: E402
    AS_OF,
    HOSTILE_MAC,
    IMG_TITLE,
    JS_HOSTNAME,
    PASSWORD,
    RTL_SITE,
    SCRIPT_BANNER,
    add_users,
    build_inventory,
)

from vendorscope.collect.probe.scope import load_scope  # noqa: E402
from vendorscope.store.accounts import Accounts, Principal, Role, check_password, hash_password  # noqa: E402
from vendorscope.store.inventory import open_inventory  # noqa: E402
from vendorscope.web.app import TokenCache, create_app  # noqa: E402
from vendorscope.web.jobs import ProbeSetup  # noqa: E402
from vendorscope.web.security import LoginLimiter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO_PCAP = ROOT / "src" / "vendorscope" / "lab" / "data" / "demo.pcapng"
NMAP_XML = ROOT / "tests" / "fixtures" / "nmap" / "lab-sV.xml"
BROKEN_CSV = ROOT / "tests" / "fixtures" / "tables" / "broken.csv"
ROLES = ("viewer", "analyst", "admin")


def quiet_scope(folder: Path) -> ProbeSetup:
    """A scope of one loopback address where nothing listens: probe rounds that send nothing elsewhere."""
    address = loopback(42, 0, 9)
    path = folder / "scope.toml"
    path.write_text(f'[scope]\nallow = ["{address}/32"]\nports = [2222]\nudp_ports = []\ntimeout = 0.5\n'
                    'retries = 0\n[snmp]\ncommunities = []\n')
    scope = load_scope(path)
    return ProbeSetup(scope, path, scope.expand(()), folder / "audit.jsonl", 4)


def _site(folder: Path, probes: bool = False) -> Iterator[dict[str, Any]]:
    db = build_inventory(folder / "inv.db")
    tokens = add_users(db)
    app = create_app(db, as_of=AS_OF, probes=quiet_scope(folder) if probes else None)
    with TestClient(app) as client:
        yield {"db": db, "tokens": tokens, "app": app, "client": client}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sample inventory; tests may annotate it but upload nothing."""
    yield from _site(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def busy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Another copy for tests that upload files or probe (a quiet loopback scope); job 1 is an nmap import."""
    for found in _site(tmp_path_factory.mktemp("web-jobs"), probes=True):
        r = found["client"].post("/api/v1/jobs", headers=bearer(found, "analyst"), data={"kind": "nmap"},
                                 files={"file": (NMAP_XML.name, NMAP_XML.read_bytes())})
        assert wait_for_job(found["client"], r.json()["id"], bearer(found, "analyst"))["state"] == "done"
        yield found


def bearer(site: dict[str, Any], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site['tokens'][role]}"}


def log_in(app: Any, name: str, password: str = PASSWORD) -> TestClient:
    """A fresh client (own cookie jar) with a session for ``name``."""
    client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post("/login", data={"name": name, "password": password, "login_csrf": token.group(1)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def csrf_of(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/snapshots").text)
    assert found is not None
    return found.group(1)


def wait_for_job(client: TestClient, job_id: int, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


# ---------------------------------------------------------------- accounts


def test_passwords_are_scrypt_hashes_that_check() -> None:
    stored = hash_password("s3cret-enough")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert check_password("s3cret-enough", stored)
    assert not check_password("s3cret-enougH", stored)
    assert not check_password("x", "not$a$hash")


def test_secrets_are_stored_hashed(site: dict[str, Any]) -> None:
    with open_inventory(site["db"]) as inv, inv.engine.connect() as conn:
        dump = "\n".join(str(row) for table in ("web_user", "web_token", "web_session")
                         for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
    assert PASSWORD not in dump
    for token in site["tokens"].values():
        assert token not in dump


def test_revoked_token_is_refused(site: dict[str, Any]) -> None:
    site["app"].state.token_cache = TokenCache(ttl_s=0.0)  # the cache's own delay is tested below
    with open_inventory(site["db"]) as inv:
        accounts = Accounts(inv.engine)
        _token, secret = accounts.create_token("short-lived", "viewer")
    client = site["client"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/snapshots", headers=headers).status_code == 200
    with open_inventory(site["db"]) as inv:
        assert Accounts(inv.engine).revoke_token("short-lived") == 1
    r = client.get("/api/v1/snapshots", headers=headers)
    assert r.status_code == 401 and r.json()["error"]
    site["app"].state.token_cache = TokenCache()


def test_token_cache_keeps_a_valid_token_for_its_time_only() -> None:
    now = [0.0]
    cache = TokenCache(ttl_s=1.0, clock=lambda: now[0])
    valid = {"s3": Principal("token:t", Role.viewer, "token")}
    lookups: list[str] = []

    def lookup(secret: str) -> Principal | None:
        lookups.append(secret)
        return valid.get(secret)

    assert cache.get("s3", lookup) == valid["s3"]
    del valid["s3"]  # revoked
    now[0] = 0.5
    assert cache.get("s3", lookup) is not None and lookups == ["s3"]  # within the second: no lookup
    now[0] = 1.5
    assert cache.get("s3", lookup) is None and lookups == ["s3", "s3"]
    assert cache.get("wrong", lookup) is None and cache.get("wrong", lookup) is None
    assert lookups.count("wrong") == 2  # refusals are never cached


# ---------------------------------------------------------------- headers, login, CSRF


def test_every_response_carries_the_security_headers(site: dict[str, Any]) -> None:
    client = site["client"]
    for r in (client.get("/"), client.get("/login"), client.get("/static/app.css"),
              client.get("/api/v1/assets"), client.get("/api/v1/assets", headers=bearer(site, "viewer")),
              client.get("/nowhere", headers=bearer(site, "viewer"))):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_session_cookie_is_httponly_and_strict(site: dict[str, Any]) -> None:
    client = TestClient(site["app"])
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post("/login", data={"name": "viewer", "password": PASSWORD, "login_csrf": token.group(1)},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "vs_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie.split("vs_login")[0]  # plain HTTP on loopback: Secure only over TLS


def test_secure_cookie_over_tls(site: dict[str, Any]) -> None:
    client = TestClient(site["app"], base_url="https://testserver")
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post("/login", data={"name": "viewer", "password": PASSWORD, "login_csrf": token.group(1)},
                    follow_redirects=False)
    session = [c for c in r.headers.get_list("set-cookie") if c.startswith("vs_session=")]
    assert session and "Secure" in session[0]


def test_login_without_its_csrf_token_is_refused(site: dict[str, Any]) -> None:
    client = TestClient(site["app"])
    r = client.post("/login", data={"name": "viewer", "password": PASSWORD, "login_csrf": "forged"})
    assert r.status_code == 403 and "vs_session" not in r.headers.get("set-cookie", "")


def test_forms_need_the_session_csrf_token(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "analyst")
    target = f"/assets/mac:{HOSTILE_MAC}"
    r = client.post(target, data={"role": "core"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(target, data={"role": "core", "csrf": "wrong"}, follow_redirects=False)
    assert r.status_code == 403


def test_every_form_carries_the_csrf_token_and_every_post_needs_it(busy_site: dict[str, Any]) -> None:
    """Issue 13: CSRF on every form. Every POST form an admin can see carries the session's token, and every
    POST route refuses a session without it (nothing is changed: the user list stays the same)."""
    client = log_in(busy_site["app"], "admin")
    csrf = csrf_of(client)
    forms: dict[str, str] = {}

    def collect() -> None:
        for method, path, _needed, _args in PAGE_ROUTES:
            if method != "GET" or path.endswith((".json", "format=csv")):
                continue
            for form in re.findall(r'<form\b[^>]*method="post".*?</form>', client.get(path).text, flags=re.S):
                action = re.search(r'action="([^"]+)"', form)
                assert action is not None, form[:200]
                forms[action.group(1)] = form
                assert f'name="csrf" value="{csrf}"' in form, (path, form[:300])

    collect()
    analyst = bearer(busy_site, "analyst")
    # While a watch runs, its Stop form replaces the Start form.
    assert busy_site["client"].post("/api/v1/watch", headers=analyst, json={"every": "1h"}).status_code == 202
    try:
        collect()
    finally:
        assert busy_site["client"].delete("/api/v1/watch", headers=analyst).status_code == 200
    # The pages show the forms of every POST route (with a scope: probe and watch).
    posted = {p for m, p, _n, _a in PAGE_ROUTES if m == "POST"} | {"/logout"}
    assert {re.sub(r"&#3[49];|%3A", ":", a) for a in forms} >= {p for p in posted if not p.startswith("/assets/")}
    assert any(a.startswith("/assets/") for a in forms)
    users_before = client.get("/users").text.count("<tr")
    for method, path, _needed, args in [*PAGE_ROUTES, ("POST", "/logout", "viewer", {"data": {}})]:
        if method != "POST":
            continue
        r = _call(client, method, path, args, {}, None)
        assert r.status_code == 403 and "CSRF" in r.text, (path, r.status_code)
    assert client.get("/users").text.count("<tr") == users_before
    assert client.get("/").status_code == 200  # the refused logout did not log out


def test_failed_logins_are_rate_limited_and_logged(site: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    name = f"victim-{uuid.uuid4().hex[:6]}"
    with open_inventory(site["db"]) as inv:
        Accounts(inv.engine).add_user(name, "viewer", PASSWORD)
    client = TestClient(site["app"])
    token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    statuses = []
    with caplog.at_level("WARNING", logger="vendorscope.web"):
        for _ in range(7):
            r = client.post("/login", data={"name": name, "password": "wrong password", "login_csrf": token.group(1)})
            statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    # Even the right password is refused while the limit holds.
    r = client.post("/login", data={"name": name, "password": PASSWORD, "login_csrf": token.group(1)},
                    follow_redirects=False)
    assert r.status_code == 429
    assert any("failed login" in m and name in m for m in caplog.messages)
    with open_inventory(site["db"]) as inv:
        trail = Accounts(inv.engine).audit_trail(target=name)
    assert {e.action for e in trail} >= {"login.failed", "login.blocked"}
    site["app"].state.web.limiter = LoginLimiter()  # every test client shares one address: let them log in


def test_limiter_window_forgets_old_failures() -> None:
    now = [0.0]
    limiter = LoginLimiter(limit=2, window_s=60, clock=lambda: now[0])
    limiter.failed("127.0.0.1", "bob")
    limiter.failed("127.0.0.1", "bob")
    assert limiter.blocked("127.0.0.1", "bob")
    now[0] = 61.0
    assert not limiter.blocked("127.0.0.1", "bob")


def test_logout_ends_the_session(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "viewer")
    csrf = csrf_of(client)
    assert client.get("/").status_code == 200
    r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    assert client.get("/").status_code == 401


def test_next_after_login_stays_on_the_site(site: dict[str, Any]) -> None:
    client = TestClient(site["app"])
    token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    r = client.post("/login", data={"name": "viewer", "password": PASSWORD, "login_csrf": token.group(1),
                                    "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"


# ---------------------------------------------------------------- the authorisation matrix

# (method, path, the least role allowed, request arguments). ``{csrf}`` is filled in per session.
PAGE_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/", "viewer", {}),
    ("GET", "/assets", "viewer", {}),
    ("GET", "/export/assets?format=csv", "viewer", {}),
    ("GET", f"/assets/mac:{HOSTILE_MAC}", "viewer", {}),
    ("POST", f"/assets/mac:{HOSTILE_MAC}", "analyst", {"data": {"add_tags": "checked"}}),
    ("GET", "/findings", "viewer", {}),
    ("GET", "/snapshots", "viewer", {}),
    ("GET", "/diff", "viewer", {}),
    ("GET", "/imports", "viewer", {}),
    ("POST", "/imports", "analyst", {"data": {"kind": "nmap"}, "file": NMAP_XML}),
    ("GET", "/jobs/1", "viewer", {}),
    ("POST", "/probe", "analyst", {"data": {}}),
    ("POST", "/watch", "analyst", {"data": {"every": "1h"}}),
    ("POST", "/watch/stop", "analyst", {"data": {}}),
    ("GET", "/users", "admin", {}),
    ("POST", "/users", "admin", {"data": {"action": "add", "role": "viewer", "password": "a long password"}}),
    ("GET", "/docs", "viewer", {}),
    ("GET", "/openapi.json", "viewer", {}),
]
API_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/assets", "viewer", {}),
    ("GET", f"/api/v1/assets/mac:{HOSTILE_MAC}", "viewer", {}),
    ("PATCH", f"/api/v1/assets/mac:{HOSTILE_MAC}", "analyst", {"json": {"add_tags": ["api-checked"]}}),
    ("GET", "/api/v1/findings", "viewer", {}),
    ("GET", "/api/v1/snapshots", "viewer", {}),
    ("GET", "/api/v1/diff?a=1&b=2", "viewer", {}),
    ("GET", "/api/v1/policies", "viewer", {}),
    ("GET", "/api/v1/report", "viewer", {}),
    ("GET", "/api/v1/jobs", "viewer", {}),
    ("POST", "/api/v1/jobs", "analyst", {"data": {"kind": "nmap"}, "file": NMAP_XML}),
    ("GET", "/api/v1/jobs/1", "viewer", {}),
    ("POST", "/api/v1/probes", "analyst", {}),
    ("GET", "/api/v1/watch", "viewer", {}),
    ("POST", "/api/v1/watch", "analyst", {"json": {"every": "1h"}}),  # starts a watch …
    ("DELETE", "/api/v1/watch", "analyst", {}),  # … and stops it
    ("GET", "/api/v1/alerts", "viewer", {}),
]
PUBLIC_ROUTES = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}


def test_the_matrix_names_every_route(site: dict[str, Any]) -> None:
    from fastapi.routing import APIRoute

    listed = {(m, re.sub(r"\?.*", "", p)) for m, p, _, _ in PAGE_ROUTES + API_ROUTES} | PUBLIC_ROUTES
    for route in site["app"].routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods - {"HEAD"}:
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^?]+", route.path) + "$"
            assert any(m == method and re.match(pattern, p) for m, p in listed), (method, route.path)


def _call(client: TestClient, method: str, path: str, args: dict[str, Any], headers: dict[str, str],
          csrf: str | None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if "json" in args:
        kwargs["json"] = args["json"]
    if "data" in args:
        data = dict(args["data"])
        if data.get("action") == "add":
            data["name"] = f"user-{uuid.uuid4().hex[:8]}"
        if csrf is not None:
            data["csrf"] = csrf
        kwargs["data"] = data
    if "file" in args:
        kwargs["files"] = {"file": (args["file"].name, args["file"].read_bytes())}
    return client.request(method, path, **kwargs)


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_authorisation_matrix_api(busy_site: dict[str, Any], who: str) -> None:
    client = busy_site["client"]
    headers = {} if who == "anonymous" else bearer(busy_site, who)
    for method, path, needed, args in API_ROUTES:
        r = _call(client, method, path, args, headers, None)
        if who == "anonymous":
            expected = {401}
        elif ROLES.index(who) < ROLES.index(needed):
            expected = {403}
        else:
            expected = {200, 202}
        assert r.status_code in expected, (who, method, path, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/json")
        if r.status_code >= 400:
            assert set(r.json()) == {"error"} and r.json()["error"]


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_authorisation_matrix_pages(busy_site: dict[str, Any], who: str) -> None:
    client = TestClient(busy_site["app"]) if who == "anonymous" else log_in(busy_site["app"], who)
    csrf = None if who == "anonymous" else csrf_of(client)
    for method, path, needed, args in PAGE_ROUTES:
        r = _call(client, method, path, args, {}, csrf)
        if who == "anonymous":
            expected = {401}
        elif ROLES.index(who) < ROLES.index(needed):
            expected = {403}
        else:
            expected = {200, 303}
        assert r.status_code in expected, (who, method, path, r.status_code, r.text[:300])
        if who == "anonymous" and not path.endswith(".json"):
            assert 'action="/login"' in r.text  # the login page, with a 401


def test_a_bearer_token_needs_no_csrf_but_a_session_does_for_the_api(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "analyst")
    r = client.patch(f"/api/v1/assets/mac:{HOSTILE_MAC}", json={"add_tags": ["x"]})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = client.patch(f"/api/v1/assets/mac:{HOSTILE_MAC}", json={"remove_tags": ["x"]},
                     headers={"X-CSRF-Token": csrf_of(client)})
    assert r.status_code == 200


# ---------------------------------------------------------------- the API


def test_asset_list_filters_sorts_and_pages(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    body = client.get("/api/v1/assets", headers=headers).json()
    assert body["total"] == 5 and body["as_of"] == AS_OF.isoformat()
    ids = {a["id"] for a in body["assets"]}
    assert "mac:02:00:00:00:00:04" not in ids  # the OpenSSH host left in the second snapshot
    hik = client.get("/api/v1/assets?group=hikvision", headers=headers).json()
    assert {a["id"] for a in hik["assets"]} == {"mac:02:00:00:00:00:03", "mac:02:00:00:00:00:05"}
    text = client.get("/api/v1/assets?q=192.0.2.66", headers=headers).json()
    assert [a["id"] for a in text["assets"]] == [f"mac:{HOSTILE_MAC}"]
    pages = client.get("/api/v1/assets?size=2&page=3&sort=id", headers=headers).json()
    assert pages["pages"] == 3 and len(pages["assets"]) == 1
    first = client.get("/api/v1/assets?sort=id", headers=headers).json()["assets"]
    assert [a["id"] for a in first] == sorted(a["id"] for a in first)
    rev = client.get("/api/v1/assets?sort=id&desc=true", headers=headers).json()["assets"]
    assert [a["id"] for a in rev] == sorted((a["id"] for a in first), reverse=True)
    by_source = client.get("/api/v1/assets?source=pcap", headers=headers).json()
    assert by_source["total"] == 5
    assert client.get("/api/v1/assets?source=probe", headers=headers).json()["total"] == 0
    assert client.get("/api/v1/assets?min_confidence=1.01", headers=headers).status_code == 422
    bad = client.get("/api/v1/assets?sort=nonsense", headers=headers)
    assert bad.status_code == 422 and "sort" in bad.json()["error"]


@pytest.mark.parametrize("query", ["size=0", "size=501", "size=ten", "page=0", "page=-1", "page=1.5",
                                   "min_confidence=-0.1", "min_confidence=nan", "min_confidence=high",
                                   "desc=maybe", "q=" + "x" * 201])
def test_asset_list_parameters_out_of_range_are_one_line_422(site: dict[str, Any], query: str) -> None:
    r = site["client"].get(f"/api/v1/assets?{query}", headers=bearer(site, "viewer"))
    name = query.split("=", 1)[0]
    assert r.status_code == 422 and r.json()["error"].startswith(f"{name}:") and "\n" not in r.json()["error"]


def _follow_api(client: TestClient, headers: dict[str, str], first: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page from ``first`` on by its ``next`` link: the ids in order, and each page's body."""
    ids, bodies, url = [], [], first
    while url is not None:
        body = client.get(url, headers=headers).json()
        bodies.append(body)
        ids.extend(a["id"] for a in body["assets"])
        url = body["next"]
        assert len(bodies) <= 10, "next links go round in circles"
    return ids, bodies


def _follow_html(client: TestClient, first: str) -> list[str]:
    import html

    ids, url, seen = [], first, 0
    while url is not None:
        page = client.get(url).text
        table = page.split('<table class="assets">', 1)[1].split("</table>", 1)[0]
        ids.extend(html.unescape(x) for x in re.findall(r'<td><a href="/assets/[^"]+">([^<]+)</a>', table))
        found = re.search(r'<a href="([^"]+)"[^>]*rel="next"', page)
        url = html.unescape(found.group(1)) if found else None
        seen += 1
        assert seen <= 10, "next links go round in circles"
    return ids


@pytest.mark.parametrize("view", ["sort=id", "sort=confidence&desc=true", "group=hikvision&sort=id&desc=1",
                                  "verdict=covered&sort=vendor", "q=192.0.2&sort=id&desc=yes"])
def test_next_links_walk_the_whole_view_once_in_the_api_and_the_pages(site: dict[str, Any], view: str) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    whole = client.get(f"/api/v1/assets?{view}&size=500", headers=headers).json()
    assert whole["prev"] is None and whole["next"] is None  # one page: no link either way
    expected = [a["id"] for a in whole["assets"]]
    ids, bodies = _follow_api(client, headers, f"/api/v1/assets?{view}&size=2")
    assert ids == expected and len(bodies) == max(1, -(-len(expected) // 2))
    assert bodies[0]["prev"] is None and bodies[-1]["next"] is None
    for n, body in enumerate(bodies, start=1):
        assert body["page"] == n and body["total"] == len(expected) and body["size"] == 2
        for link in (body["prev"], body["next"]):  # the links keep the filters, the order and the size
            assert link is None or (link.startswith("/api/v1/assets?") and "size=2" in link
                                    and all(part in link for part in view.split("&")))
    # The pages list the same rows in the same order, page by page through their own links.
    viewer = log_in(site["app"], "viewer")
    assert _follow_html(viewer, f"/assets?{view}&size=2") == expected
    # And the export of that view is the whole view, in that order.
    exported = viewer.get(f"/export/assets?{view}&format=json").json()
    assert [a["id"] for a in exported["assets"]] == expected


def test_a_page_past_the_end_is_the_last_page_without_next(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    body = client.get("/api/v1/assets?sort=id&size=2&page=99", headers=headers).json()
    assert body["page"] == body["pages"] == 3 and len(body["assets"]) == 1
    assert body["next"] is None and body["prev"] == "/api/v1/assets?sort=id&size=2&page=2"
    empty = client.get("/api/v1/assets?group=no-such-vendor&page=3", headers=headers).json()
    assert empty["total"] == 0 and empty["assets"] == [] and empty["page"] == empty["pages"] == 1
    assert empty["next"] is None and empty["prev"] is None
    page = log_in(site["app"], "viewer").get("/assets?sort=id&size=2&page=99").text
    assert "page 3 of 3" in page and 'rel="next"' not in page and 'rel="prev"' in page


@pytest.mark.parametrize("query", ["sort=nonsense", "page=abc", "page=0", "size=501", "desc=maybe",
                                   "min_confidence=high", "q=" + "x" * 201])
def test_the_asset_page_and_export_refuse_what_the_api_refuses(site: dict[str, Any], query: str) -> None:
    viewer = log_in(site["app"], "viewer")
    name = query.split("=", 1)[0]
    api = site["client"].get(f"/api/v1/assets?{query}", headers=bearer(site, "viewer")).json()["error"]
    for path in ("/assets", "/export/assets"):
        r = viewer.get(f"{path}?{query}")
        assert r.status_code == 422 and f"{name}:" in r.text and api in r.text, (path, r.text[:300])


def test_asset_list_pages_are_the_rows_json_and_described_to_openapi(site: dict[str, Any]) -> None:
    from vendorscope.web.views import listed_dict

    client, headers = site["client"], bearer(site, "viewer")
    # Each row's JSON is kept once made: a page read twice, in other orders, is the same rows.
    for _ in range(2):
        for query in ("sort=id&size=2&page=2", "sort=id&desc=1&size=500", "sort=confidence&desc=TRUE"):
            body = client.get(f"/api/v1/assets?{query}", headers=headers).json()
            a = site["app"].state.web.data.assessment(AS_OF)
            by_id = {r.id: r for r in a.rows}
            assert body["assets"] and all(row == listed_dict(by_id[row["id"]]) for row in body["assets"])
    assert client.get("/api/v1/assets?desc=0&min_confidence=", headers=headers).status_code == 200
    spec = client.get("/openapi.json", headers=headers).json()
    names = {p["name"] for p in spec["paths"]["/api/v1/assets"]["get"]["parameters"]}
    assert {"group", "verdict", "site", "role", "source", "min_confidence", "q", "sort", "desc", "page", "size",
            "as_of"} <= names


def test_verdict_filter_uses_the_judges_categories(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    report = client.get("/api/v1/report", headers=headers).json()
    covered = {a["id"] for a in report["assets"] if a["category"] == "covered"}
    listed = client.get("/api/v1/assets?verdict=covered&size=500", headers=headers).json()
    assert {a["id"] for a in listed["assets"]} == covered and covered


def test_asset_detail_has_the_report_shape_and_findings(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    asset = client.get(f"/api/v1/assets/mac:{HOSTILE_MAC}", headers=headers).json()
    report = client.get("/api/v1/report", headers=headers).json()
    in_report = next(a for a in report["assets"] if a["id"] == asset["id"])
    assert set(in_report) <= set(asset)
    assert asset["vendor"] == "huawei" and asset["findings"]
    assert {f["asset_id"] for f in asset["findings"]} == {asset["id"]}
    assert client.get("/api/v1/assets/mac:00:00:00:00:00:00", headers=headers).status_code == 404


def test_patch_changes_role_site_tags_with_an_audit_trail(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "analyst")
    target = "mac:02:00:00:00:00:02"
    r = client.patch(f"/api/v1/assets/{target}", headers=headers,
                     json={"role": "core", "site": "Frankfurt", "add_tags": ["government"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "core" and body["site"] == "Frankfurt" and "government" in body["site_tags"]
    listed = client.get("/api/v1/assets?site=frankfurt", headers=headers).json()
    assert [a["id"] for a in listed["assets"]] == [target]
    with open_inventory(site["db"]) as inv:
        trail = Accounts(inv.engine).audit_trail(target=target)
    assert trail[0].actor == "token:analyst-token" and trail[0].action == "asset.annotate"
    assert trail[0].detail["site"] == "Frankfurt"
    bad = client.patch(f"/api/v1/assets/{target}", headers=headers, json={"role": "toaster"})
    assert bad.status_code == 422 and "toaster" in bad.json()["error"]


def test_findings_as_of_a_date(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    now = client.get("/api/v1/findings", headers=headers).json()
    later = client.get("/api/v1/findings?as_of=2031-01-01", headers=headers).json()
    assert now["as_of"] == AS_OF.isoformat() and later["as_of"] == "2031-01-01"
    assert now["total"] > 0
    assert all(f["as_of"] == "2031-01-01" for f in later["findings"])
    assert client.get("/api/v1/findings?as_of=yesterday", headers=headers).status_code == 422


def test_diff_and_snapshots(site: dict[str, Any]) -> None:
    client, headers = site["client"], bearer(site, "viewer")
    snaps = client.get("/api/v1/snapshots", headers=headers).json()["snapshots"]
    assert [s["id"] for s in snaps[:2]] == [1, 2]
    diff = client.get("/api/v1/diff?a=1&b=2", headers=headers).json()
    assert [a["id"] for a in diff["appeared"]] == ["mac:02:00:00:00:00:05"]
    assert [a["id"] for a in diff["disappeared"]] == ["mac:02:00:00:00:00:04"]
    r = client.get("/api/v1/diff?a=1&b=999", headers=headers)
    assert r.status_code == 404 and "999" in r.json()["error"]


def test_findings_and_diff_pages_show_what_the_api_says(site: dict[str, Any]) -> None:
    client, headers = log_in(site["app"], "viewer"), bearer(site, "viewer")
    for day in (AS_OF.isoformat(), "2031-01-01"):
        api = site["client"].get(f"/api/v1/findings?as_of={day}&policy=uk-tsa-huawei-dvd", headers=headers).json()
        page = client.get(f"/findings?as_of={day}&policy=uk-tsa-huawei-dvd").text
        assert f"<small>{api['total']} as of {day}</small>" in page and api["total"] > 0
        rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        assert rows.count("<tr>") == api["total"] and rows.count("<td>uk-tsa-huawei-dvd</td>") == api["total"]
        statuses = sorted(re.findall(r'class="badge st-([a-z_]+)"', rows))
        assert statuses == sorted(f["status"] for f in api["findings"])
    assert client.get("/findings?as_of=yesterday").status_code == 422
    diff = client.get("/diff?a=1&b=2").text
    appeared = diff.split("<h2>Appeared", 1)[1].split("</section>", 1)[0]
    disappeared = diff.split("<h2>Disappeared", 1)[1].split("</section>", 1)[0]
    assert "mac:02:00:00:00:00:05" in appeared and "mac:02:00:00:00:00:04" in disappeared
    assert "mac:02:00:00:00:00:05" not in disappeared and client.get("/diff?a=1&b=999").status_code == 404


def test_openapi_describes_the_api(site: dict[str, Any]) -> None:
    spec = site["client"].get("/openapi.json", headers=bearer(site, "viewer")).json()
    assert {"/api/v1/assets", "/api/v1/assets/{asset_id}", "/api/v1/jobs", "/api/v1/report"} <= set(spec["paths"])
    assert "patch" in spec["paths"]["/api/v1/assets/{asset_id}"]


def test_unknown_api_path_is_json_404(site: dict[str, Any]) -> None:
    r = site["client"].get("/api/v1/nothing", headers=bearer(site, "viewer"))
    assert r.status_code == 404 and "nothing" in r.json()["error"]


def test_anonymous_requests_learn_no_paths(site: dict[str, Any]) -> None:
    client = TestClient(site["app"])
    assert client.get("/api/v1/nothing").status_code == 401
    assert client.get("/nothing").status_code == 401
    assert client.delete("/api/v1/assets").status_code == 401
    assert client.get("/static/nothing.js").status_code == 404


# ---------------------------------------------------------------- jobs


def test_upload_a_capture_and_watch_the_job_finish(busy_site: dict[str, Any]) -> None:
    client, headers = busy_site["client"], bearer(busy_site, "analyst")
    before = len(client.get("/api/v1/snapshots", headers=headers).json()["snapshots"])
    r = client.post("/api/v1/jobs", headers=headers, data={"kind": "pcap"},
                    files={"file": ("demo.pcapng", DEMO_PCAP.read_bytes())})
    assert r.status_code == 202 and r.headers["location"] == f"/api/v1/jobs/{r.json()['id']}"
    job = wait_for_job(client, r.json()["id"], headers)
    assert job["state"] == "done", job
    assert job["percent"] == 100 and job["done"] == DEMO_PCAP.stat().st_size and job["snapshot_id"]
    snaps = client.get("/api/v1/snapshots", headers=headers).json()["snapshots"]
    assert len(snaps) == before + 1 and snaps[-1]["source"] == "pcap:demo.pcapng"
    found = client.get("/api/v1/assets?source=pcap&size=500", headers=headers).json()
    assert found["total"] > 5


def test_a_failed_job_shows_one_line_and_keeps_what_was_read(busy_site: dict[str, Any]) -> None:
    client, headers = busy_site["client"], bearer(busy_site, "analyst")
    r = client.post("/api/v1/jobs", headers=headers, data={"kind": "table"},
                    files={"file": ("broken.csv", BROKEN_CSV.read_bytes())})
    job = wait_for_job(client, r.json()["id"], headers)
    assert job["state"] == "failed"
    assert job["error"].startswith("broken.csv line ") and "\n" not in job["error"]
    assert "/tmp" not in job["error"] and job["snapshot_id"]  # the good rows were stored
    snaps = client.get("/api/v1/snapshots", headers=headers).json()["snapshots"]
    assert snaps[-1]["source"] == "import:table:broken.csv" and snaps[-1]["assets"] >= 1
    r = client.post("/api/v1/jobs", headers=headers, data={"kind": "pcap"},
                    files={"file": ("notes.pcap", b"this is not a capture at all\n" * 10)})
    job = wait_for_job(client, r.json()["id"], headers)
    assert job["state"] == "failed" and "notes.pcap" in job["error"] and job["snapshot_id"] is None
    page = log_in(busy_site["app"], "viewer").get("/imports").text
    assert "notes.pcap" in page and 'class="job job-failed"' in page


def test_a_probe_round_from_the_api_is_a_job_with_a_snapshot(busy_site: dict[str, Any]) -> None:
    client, headers = busy_site["client"], bearer(busy_site, "analyst")
    r = client.post("/api/v1/probes", headers=headers)
    assert r.status_code == 202 and r.json()["kind"] == "probe" and r.json()["total"] == 1
    job = wait_for_job(client, r.json()["id"], headers)
    assert job["state"] == "done" and job["done"] == 1 and job["snapshot_id"], job
    snaps = client.get("/api/v1/snapshots", headers=headers).json()["snapshots"]
    assert snaps[-1]["source"] == "probe" and snaps[-1]["id"] == job["snapshot_id"]
    audit = (Path(busy_site["db"]).parent / "audit.jsonl").read_text()
    assert loopback(42, 0, 9) in audit  # every probe sent is in the audit log


def test_assets_merged_across_sources_have_all_their_evidence(busy_site: dict[str, Any]) -> None:
    client, headers = busy_site["client"], bearer(busy_site, "viewer")
    sources = {s["source"] for s in client.get("/api/v1/snapshots", headers=headers).json()["snapshots"]}
    assert len(sources) > 1  # the lab capture and the nmap import of the fixture, at least
    asset = client.get("/api/v1/assets/mac:00:e0:fc:00:00:01", headers=headers).json()
    assert asset["id"] == "mac:00:e0:fc:00:00:01" and asset["evidence"]
    gone = client.get("/api/v1/assets/mac:02:00:00:00:00:04", headers=headers)
    assert gone.status_code == 200  # no longer seen: shown as its last snapshot saw it


def test_probing_without_a_scope_is_409(site: dict[str, Any]) -> None:
    r = site["client"].post("/api/v1/probes", headers=bearer(site, "analyst"))
    assert r.status_code == 409 and "--scope" in r.json()["error"]


def test_hostile_upload_names_are_text_and_stay_in_their_folder(busy_site: dict[str, Any]) -> None:
    client, headers = busy_site["client"], bearer(busy_site, "analyst")
    name = "../../<img src=x onerror=window.pwned=9>\u202e.xml"
    r = client.post("/api/v1/jobs", headers=headers, data={"kind": "nmap"},
                    files={"file": (name, NMAP_XML.read_bytes())})
    job = wait_for_job(client, r.json()["id"], headers)
    assert job["state"] == "done" and "/" not in job["name"] and ".." not in job["name"]
    page = log_in(busy_site["app"], "viewer").get("/imports").text
    assert "&lt;img src=x onerror=window.pwned=9&gt;&lt;U+202E&gt;.xml" in page
    assert "<img src=x onerror" not in page and "\u202e" not in page


def test_upload_of_an_unknown_kind_is_refused(busy_site: dict[str, Any]) -> None:
    r = busy_site["client"].post("/api/v1/jobs", headers=bearer(busy_site, "analyst"), data={"kind": "exe"},
                            files={"file": ("x.exe", b"MZ")})
    assert r.status_code == 422 and "kind" in r.json()["error"]


# ---------------------------------------------------------------- pages


def test_asset_page_shows_evidence_findings_and_annotates(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "analyst")
    page = client.get("/assets/mac:00:e0:fc:00:00:01")
    assert page.status_code == 200
    assert "SSH-2.0-HUAWEI-1.5" in page.text and "pcap:lab.pcap" in page.text and "frame 10" in page.text
    assert "uk-tsa-huawei-dvd" in page.text  # a finding with its pack
    r = client.post("/assets/mac:00:e0:fc:00:00:01", data={"csrf": csrf_of(client), "role": "core",
                                                           "site": "Berlin", "add_tags": "government"},
                    follow_redirects=False)
    assert r.status_code == 303
    after = client.get("/assets/mac:00:e0:fc:00:00:01").text
    assert "Berlin" in after and "analyst: asset.annotate" in after


def test_asset_page_shows_the_rule_deadline_legal_reference_and_conflicts(site: dict[str, Any],
                                                                         tmp_path: Path) -> None:
    """Issue 13's asset page, item by item, against what the API says about the same asset."""
    import html

    client, headers = log_in(site["app"], "viewer"), bearer(site, "viewer")
    detail = site["client"].get("/api/v1/assets/mac:00:e0:fc:00:00:01", headers=headers).json()
    page = html.unescape(client.get("/assets/mac:00:e0:fc:00:00:01").text)
    evidence = page.split('<section id="evidence">', 1)[1].split("</section>", 1)[0]
    assert detail["evidence"][0]["rule"] == "ssh.huawei.vrp" and "<code>ssh.huawei.vrp</code>" in evidence
    findings = page.split('<section id="findings">', 1)[1].split("</section>", 1)[0]
    policies = {p["id"]: p for p in site["client"].get("/api/v1/policies", headers=headers).json()["policies"]}
    dated = [f for f in detail["findings"] if f["deadline"]]
    assert dated, "the sample needs a finding with a deadline"
    for f in detail["findings"]:
        assert f["requirement"] in findings and policies[f["policy"]]["instrument"] in findings
    for f in dated:
        assert f"{f['deadline'][:10]}" in findings and f"({f['days_left']} days)" in findings
    assert 'rel="noopener noreferrer" target="_blank">source</a>' in findings

    # A white-label camera: the label says Honeywell, the fingerprint Hikvision.
    from datetime import UTC, datetime

    from vendorscope.model import AssetKeys, Observation
    from vendorscope.pipeline import ingest

    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    db = str(tmp_path / "conflict.db")
    ingest([Observation(kind=kind, value=value, source="import:table:cmdb.csv", seen_at=at,
                        keys=AssetKeys(ip="192.0.2.31"), context={"row": 2})
            for kind, value in (("onvif.manufacturer", "Honeywell"), ("http.server", "App-webs/"))],
           source="import:table:cmdb.csv", db=db, started_at=at)
    with open_inventory(db) as inv:
        Accounts(inv.engine).add_user("viewer", "viewer", PASSWORD)
    app = create_app(db, as_of=AS_OF)
    with TestClient(app):
        camera = log_in(app, "viewer")
        listed = camera.get("/assets?q=192.0.2.31").text
        asset_id = html.unescape(re.findall(r'<td><a href="/assets/[^"]+">([^<]+)</a>', listed)[0])
        shown = html.unescape(camera.get(f"/assets/{asset_id}").text)
    conflicts = shown.split('<ul class="plain conflicts">', 1)[1].split("</ul>", 1)[0]
    assert "label <strong>honeywell</strong>" in conflicts and "fingerprint <strong>hikvision</strong>" in conflicts
    assert "Honeywell" in conflicts and "App-webs" in conflicts
    assert 'class="badge conflict"' in listed  # and the list marks it


def test_pages_load_nothing_from_elsewhere(site: dict[str, Any]) -> None:
    """Offline: every script, style and image a page names is served by the dashboard itself."""
    client = log_in(site["app"], "viewer")
    for path in HOSTILE_PAGES:
        page = client.get(path).text
        for url in re.findall(r'<(?:script|img|link)\b[^>]*?(?:src|href)="([^"]*)"', page):
            assert url.startswith(("/static/", "data:")), (path, url)
            if url.startswith("/static/"):
                assert client.get(url).status_code == 200, url


def test_asset_table_filters_and_htmx_fragment(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "viewer")
    full = client.get("/assets?group=zte")
    assert "<html" in full.text and "mac:02:00:00:00:00:02" in full.text and "mac:02:00:00:00:00:03" not in full.text
    fragment = client.get("/assets?group=zte", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "mac:02:00:00:00:00:02" in fragment.text


def test_export_is_the_current_view(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "viewer")
    rows = list(csv.DictReader(io.StringIO(client.get("/export/assets?group=hikvision&format=csv").text)))
    assert {r["id"] for r in rows} == {"mac:02:00:00:00:00:03", "mac:02:00:00:00:00:05"}
    data = client.get("/export/assets?group=hikvision&format=json").json()
    assert data["total"] == 2 and {a["id"] for a in data["assets"]} == {r["id"] for r in rows}


def test_csv_export_defuses_formulas(site: dict[str, Any]) -> None:
    from vendorscope.web.views import csv_cell

    assert csv_cell("=HYPERLINK(\"http://x\")").startswith("'=")
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(["a", "b"]) == "a; b"


def test_overview_shows_packs_deadlines_and_changes(site: dict[str, Any]) -> None:
    client = log_in(site["app"], "viewer")
    page = client.get("/").text
    assert "Policy packs" in page and "uk-tsa-huawei-dvd" in page
    assert "Next deadlines" in page and "Days left" in page
    assert "appeared" in page and "Since the last snapshot" in page


# ---------------------------------------------------------------- hostile input

HOSTILE_PAGES = ["/", "/assets", "/assets?q=192.0.2.66", f"/assets/mac:{HOSTILE_MAC}", "/findings", "/snapshots",
                 "/diff?a=1&b=2", "/imports", "/users", "/docs"]


@pytest.mark.parametrize("path", HOSTILE_PAGES)
def test_hostile_text_is_escaped_on_every_page(site: dict[str, Any], path: str) -> None:
    client = log_in(site["app"], "admin")
    body = client.get(path).text
    for raw in ("<script>window.pwned", '<img src=x onerror', 'href="javascript:', "\u202e"):
        assert raw not in body, (path, raw)


def test_json_exports_are_data_not_pages(site: dict[str, Any]) -> None:
    r = log_in(site["app"], "viewer").get("/export/assets?format=json")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert any(a["site"] == RTL_SITE for a in r.json()["assets"])  # data, exactly as stored


def test_hostile_text_is_shown_as_text(site: dict[str, Any]) -> None:
    body = log_in(site["app"], "viewer").get(f"/assets/mac:{HOSTILE_MAC}").text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in body
    assert "&#34;&gt;&lt;img src=x onerror=" in body
    assert JS_HOSTNAME in body and f'href="{JS_HOSTNAME}' not in body
    assert "&lt;U+202E&gt;TXT.EXE" in body
    assert SCRIPT_BANNER and IMG_TITLE and RTL_SITE  # the sample carries all four kinds
