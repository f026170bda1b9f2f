"""The HTML report in headless Chromium: figures, charts, evidence on click, hostile banners, no network."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_samples import AS_OF, HIGH_RISK, HOSTILE_BANNER, HOSTILE_PRODUCT, HOSTILE_SITE, PACKS, history, sample

from vendorscope.model import Status
from vendorscope.report.data import ReportData, build_report
from vendorscope.report.html import render_html

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ASSETS = 2000
HOSTILE = 3

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing and CI is set: install Debian's chromium "
                    "(scripts/install-system-deps.sh)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (Debian package chromium); CI is unset", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def data() -> ReportData:
    assets, findings = sample(ASSETS, hostile=HOSTILE)
    return build_report(assets, findings, AS_OF, packs=PACKS, history=history(4), high_risk_vendors=HIGH_RISK)


@pytest.fixture(scope="module")
def files(data: ReportData, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for name, csp in (("report", True), ("no-csp", False)):
        path = folder / f"{name}.html"
        path.write_text(render_html(data, csp=csp), encoding="utf-8")
        out[name] = path
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory(prefix="vs-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


class Opened:
    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []


def open_report(browser: Any, path: Path) -> Opened:
    page = browser.new_page()
    url = path.as_uri()
    opened = Opened(page, url)

    def route(r: Any) -> None:
        if r.request.url == url:
            r.continue_()
        else:
            opened.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda req: opened.requests.append(req.url))
    page.on("pageerror", lambda exc: opened.errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: opened.errors.append(msg.text) if msg.type in ("error", "warning") else None)

    def dialog(d: Any) -> None:
        opened.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#findings-body tr.finding")
    return opened


def show_asset(page: Any, asset_id: str) -> Any:
    page.fill("#q", asset_id)
    row = page.locator(f'#findings-body tr.finding[data-asset="{asset_id}"]').first
    row.wait_for(state="visible")
    return row


@pytest.mark.parametrize("name", ["report", "no-csp"])
def test_hostile_banner_is_text_and_nothing_runs(browser: Any, files: dict[str, Path], data: ReportData,
                                                 name: str) -> None:
    """With the CSP (as shipped) and without it (escaping alone must be enough)."""
    o = open_report(browser, files[name])
    page = o.page
    hostile = next(a for a in data.assets if a.site == HOSTILE_SITE)
    row = show_asset(page, hostile.id)
    row.click()
    evidence = page.locator(f"#evidence-{row.get_attribute('data-index')}")
    evidence.wait_for(state="visible")
    value = evidence.locator("pre.value").first
    assert value.inner_text() == HOSTILE_BANNER
    assert value.is_visible()
    assert HOSTILE_PRODUCT in row.inner_text() and HOSTILE_SITE in row.inner_text()
    # the site chart shows the hostile site name as text
    assert page.locator("#chart-site svg g.bar", has_text="window.pwned=3").count() == 1
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.evaluate("document.images.length") == 0
    assert page.evaluate("document.scripts.length") == 2
    assert o.dialogs == []
    assert o.errors == []
    assert o.blocked == [] and o.requests == [o.url]
    page.close()


def test_report_shows_figures_charts_and_evidence(browser: Any, files: dict[str, Path], data: ReportData) -> None:
    o = open_report(browser, files["report"])
    page = o.page
    h = data.headline
    for fig, value in (("assets", h.assets), ("identified", h.identified), ("high-risk", h.high_risk),
                       ("covered", h.covered), ("overdue", h.overdue), ("review", h.review),
                       ("conflicts", h.conflicts)):
        number = page.locator(f"#fig-{fig} .n")
        assert number.is_visible() and number.inner_text() == str(value), fig
    assert h.next_deadline is not None
    assert page.locator("#fig-next-deadline .n").inner_text() == h.next_deadline.deadline.isoformat()
    assert f"{h.next_deadline.days_left} days left" in page.locator("#fig-next-deadline").inner_text()

    # charts: one per breakdown and one burn-down per requirement with a deadline, all inline SVG
    for chart in ("vendor", "site", "role"):
        svg = page.locator(f"#chart-{chart} svg")
        assert svg.count() == 1 and svg.is_visible()
        assert svg.locator("g.bar").count() >= 2
    assert page.locator("#burndown svg.burndown").count() == len(data.burndowns) == 2
    assert page.locator("#burndown svg.burndown polyline.actual").count() == 2

    # the table: paged, every listed finding reachable
    assert page.locator("#count").inner_text() == f"{len(data.findings)} findings"
    assert page.locator("#findings-body tr.finding").count() == 50
    first_page = page.locator("#findings-body tr.finding").first.get_attribute("data-asset")
    page.click("#next")
    assert page.locator("#page-info").inner_text().startswith("rows 51–100 of")
    assert page.locator("#findings-body tr.finding").first.get_attribute("data-asset") != first_page
    page.select_option("#f-status", Status.overdue.value)
    overdue = sum(f.status is Status.overdue for f in data.findings)
    assert page.locator("#count").inner_text() == f"{overdue} of {len(data.findings)} findings"
    assert set(page.locator("#findings-body tr.finding .badge").all_inner_texts()) == {"overdue"}
    page.select_option("#f-status", "")

    # one click from a finding to its evidence, and back
    target = next(f for f in data.findings if f.status is Status.must_remove)
    asset = next(a for a in data.assets if a.id == target.asset_id)
    row = show_asset(page, target.asset_id)
    assert page.locator("#findings-body tr.evidence-row").count() == 0
    row.locator("button.toggle").click()
    ev = page.locator("#findings-body tr.evidence-row")
    assert ev.count() == 1 and ev.is_visible()
    text = ev.inner_text()
    assert asset.observations[0].value in text
    assert "frame=" in text and asset.attributions[0].rule in text
    assert sorted(asset.keys["mac"])[0] in text
    assert row.locator("button.toggle").get_attribute("aria-expanded") == "true"
    row.click()
    assert page.locator("#findings-body tr.evidence-row").count() == 0

    assert page.evaluate("typeof window.pwned") == "undefined"
    assert o.errors == [] and o.dialogs == []
    assert o.blocked == [] and o.requests == [o.url]
    page.close()


def test_report_fits_a_phone_at_420_px(browser: Any, files: dict[str, Path], data: ReportData) -> None:
    """No horizontal page scroll at 420 px: charts scale, wide tables scroll inside their own box."""
    o = open_report(browser, files["report"])
    page = o.page
    page.set_viewport_size({"width": 420, "height": 900})
    page.wait_for_timeout(100)  # let layout settle after the resize (not a timing assertion)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]")
    assert widths[0] <= 420 and widths[1] <= 420, widths
    for chart in ("#chart-vendor svg", "#chart-site svg", "#burndown svg.burndown"):
        box = page.locator(chart).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 420, (chart, box)
    wrap = page.evaluate("""(() => { const w = document.querySelector('#findings .table-wrap');
        return [w.clientWidth, w.scrollWidth, getComputedStyle(w).overflowX]; })()""")
    assert wrap[0] <= 420 and wrap[2] == "auto", wrap  # the findings table scrolls in its own box
    # everything that is not inside a scrolling box ends within the page
    overflowing = page.evaluate("""(() => Array.from(document.querySelectorAll('body *')).filter(e => {
        if (e.closest('.table-wrap') || e.closest('script') || e.closest('.print-only')) return false;
        const r = e.getBoundingClientRect(); return r.width > 0 && r.right > 421; })
        .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5))()""")
    assert overflowing == []
    assert o.errors == []
    page.close()


def test_printing_lists_every_finding_with_totals(browser: Any, files: dict[str, Path], data: ReportData) -> None:
    o = open_report(browser, files["report"])
    page = o.page
    assert page.locator("#print-findings").is_hidden()  # on screen: the paged table only
    page.emulate_media(media="print")
    page.wait_for_selector("html[data-printed]", state="attached")
    assert page.locator("#print-findings").is_visible()
    assert page.locator("#findings-table").is_hidden() and page.locator("#q").is_hidden()
    assert page.locator("#print-body tr.print-finding").count() == len(data.findings) > 50
    foot = page.locator("#print-foot").inner_text()
    assert foot.startswith(f"Total: {len(data.findings)} findings")
    overdue = sum(f.status is Status.overdue for f in data.findings)
    assert f"{overdue} overdue" in foot and f"All {data.headline.findings} findings listed" in page.locator(
        "#print-total").inner_text()
    # the cover prints too: organisation line, scope and the disclaimer
    assert page.locator("#cover").is_visible() and "not legal advice" in page.locator("#cover-disclaimer").inner_text()
    pdf = page.pdf()  # Chromium's real print path renders it
    assert pdf.startswith(b"%PDF")
    assert o.errors == []
    page.close()
