"""The dashboard in a real browser: `vendorscope serve` on loopback, Debian's Chromium through Playwright.

Logs in, filters assets, opens an asset's evidence, annotates it, uploads a
capture and watches the job finish, sees the overview change, and checks that
no hostile banner runs as script anywhere. Screenshots of the overview at
desktop and phone width are taken every run; ``VS_UPDATE_SCREENSHOTS=1``
copies them to docs/ for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The same browser, arguments and skip-unless-CI rule as the report's browser tests.
from test_report_browser import ARGS, CHROMIUM, sync_api
from web_support import HOSTILE_MAC, PASSWORD, add_users, build_inventory

ROOT = Path(__file__).resolve().parents[1]
DEMO_PCAP = ROOT / "src" / "vendorscope" / "lab" / "data" / "demo.pcapng"
DOCS = ROOT / "docs"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytest.importorskip("fastapi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vendorscope serve` as a user starts it, on a free loopback port."""
    yield from _serve(tmp_path_factory.mktemp("web-browser"))


@pytest.fixture(scope="module")
def scoped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vendorscope serve --scope` over one loopback address where nothing listens."""
    folder = tmp_path_factory.mktemp("web-browser-scope")
    scope = folder / "scope.toml"
    scope.write_text('[scope]\nallow = ["127.42.0.19/32"]\nports = [2222]\nudp_ports = []\ntimeout = 0.5\n'
                     'retries = 0\n[snmp]\ncommunities = []\n')
    yield from _serve(folder, "--scope", str(scope))


def _serve(folder: Path, *extra: str) -> Iterator[str]:
    db = build_inventory(folder / "inv.db")
    add_users(db)
    port = free_port()
    exe = Path(sys.executable).with_name("vendorscope")
    proc = subprocess.Popen([str(exe), "serve", "--db", db, "--port", str(port), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("serve did not start listening")
        yield url
    finally:
        proc.terminate()
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert f"dashboard on {url}" in err  # it printed its URL


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory(prefix="vs-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport=DESKTOP,
        )
        try:
            yield context
        finally:
            context.close()


class Watcher:
    """Collects what must never happen in a page: dialogs, page errors, CSP violations."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)


def assert_inert(page: Any, watcher: Watcher) -> None:
    assert page.evaluate("() => window.pwned") is None, page.url
    assert watcher.problems == [], watcher.problems


def log_in(page: Any, url: str, name: str) -> None:
    page.goto(url + "login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url)


def test_the_dashboard_end_to_end(server: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    response = page.goto(server)
    assert response.status == 401 and page.locator("form[action='/login']").count() == 1
    watcher = Watcher(page)  # from here on, not even a console error
    log_in(page, server, "analyst")
    assert page.locator("h1").first.inner_text().startswith("Overview")
    assets_before = int(page.locator(".cards .card .n").first.inner_text())
    assert_inert(page, watcher)

    # Filter the asset list: htmx swaps the table in place and pushes the URL.
    page.click("nav >> text=Assets")
    page.wait_for_url(re.compile(r"/assets$"))
    page.select_option("select[name=group]", "hikvision")
    page.wait_for_function("() => location.search.includes('group=hikvision')")
    page.wait_for_function("() => document.querySelectorAll('#asset-table tbody tr').length === 2")
    ids = page.locator("#asset-table tbody tr td:first-child a").all_inner_texts()
    assert sorted(ids) == ["mac:02:00:00:00:00:03", "mac:02:00:00:00:00:05"]
    page.fill("input[name=q]", "192.0.2.66")
    page.select_option("select[name=group]", "")
    page.wait_for_function("() => document.querySelectorAll('#asset-table tbody tr').length === 1")
    assert_inert(page, watcher)

    # Open the hostile asset's evidence: the banners show as text, nothing runs.
    page.click(f"#asset-table >> text=mac:{HOSTILE_MAC}")
    page.wait_for_url(re.compile("/assets/mac"))
    evidence = page.locator("#evidence").inner_text()
    assert "<script>window.pwned=1</script>" in evidence
    assert '"><img src=x onerror="window.pwned=2">' in evidence
    assert page.locator("#evidence img").count() == 0 and page.locator("a[href^='javascript']").count() == 0
    assert "<U+202E>TXT.EXE" in page.locator("dl.keys").inner_text()
    assert_inert(page, watcher)

    # Annotate it; the change and who made it show on the page.
    page.fill("form.annotate input[name=site]", "Munich HQ")
    page.fill("form.annotate input[name=add_tags]", "government")
    page.click("form.annotate button[type=submit]")
    page.wait_for_selector("ul.trail")
    assert "Munich HQ" in page.locator("dl.keys").inner_text()
    assert "analyst: asset.annotate" in page.locator("ul.trail").inner_text()
    assert_inert(page, watcher)

    # Upload a capture and watch the job finish (htmx polls its progress).
    page.click("nav >> text=Imports")
    page.select_option("select[name=kind]", "pcap")
    page.set_input_files("input[name=file]", str(DEMO_PCAP))
    page.click("form.upload button[type=submit]")
    job = page.locator(".job").first
    job.locator(".state", has_text="done").wait_for(timeout=120_000)
    assert "snapshot" in job.inner_text()
    assert_inert(page, watcher)

    # The overview changed: more assets now.
    page.click("nav >> text=Overview")
    assets_after = int(page.locator(".cards .card .n").first.inner_text())
    assert assets_after > assets_before
    assert_inert(page, watcher)

    # Screenshots of the overview at desktop and phone width.
    shots = {}
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(server)
        path = tmp_path / f"web-overview-{name}.png"
        page.screenshot(path=str(path), full_page=name == "desktop")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        shots[name] = path
        # Nothing wider than the screen at phone width: the page is readable without zooming out.
        if name == "phone":
            assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"] + 1
    if os.environ.get("VS_UPDATE_SCREENSHOTS"):
        for name, path in shots.items():
            shutil.copyfile(path, DOCS / f"web-overview-{name}.png")
    page.close()


@pytest.mark.parametrize("path", ["/", "/assets", f"/assets/mac:{HOSTILE_MAC}", "/findings", "/snapshots",
                                  "/diff", "/imports", "/users", "/docs"])
def test_no_hostile_script_runs_on_any_page(server: str, browser: Any, path: str) -> None:
    page = browser.new_page()
    watcher = Watcher(page)
    log_in(page, server, "admin")
    response = page.goto(server.rstrip("/") + path)
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    assert_inert(page, watcher)
    assert page.locator("script:not([src])").count() == 0  # no inline script at all
    page.close()


def test_an_analyst_starts_and_stops_a_watch_that_survives_reloads(scoped_server: str, browser: Any) -> None:
    page = browser.new_page()
    watcher = Watcher(page)
    log_in(page, scoped_server, "analyst")
    page.goto(scoped_server + "imports")
    page.fill("form[action='/watch'] input[name=every]", "1s")
    page.click("form[action='/watch'] button[type=submit]")
    page.wait_for_url(re.compile(r"/imports#watch$"))
    section = page.locator("#watch")
    assert "Watching" in section.inner_text() and "every 1s" in section.inner_text()
    assert page.locator("form[action='/watch']").count() == 0  # one watch at a time
    # Rounds go on while nobody looks; a reload shows them.
    for _ in range(100):
        page.reload()
        text = page.locator("#watch").inner_text()
        if re.search(r"[2-9] rounds|\d\d+ rounds", text):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no second round: {text}")
    assert "next round" in text
    page.click("form[action='/watch/stop'] button[type=submit]")
    page.wait_for_url(re.compile(r"/imports#watch$"))
    text = page.locator("#watch").inner_text()
    assert "Last watch" in text and "stopped by analyst" in text and "Stop watching" not in text
    assert_inert(page, watcher)
