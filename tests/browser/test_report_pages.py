"""The designers' report, the Data Docs and the dbt docs of a published version, opened in
Debian's headless Chromium with the network blocked: from the file system and from a server on
127.0.0.1. Screenshots land in .artifacts/screenshots/ (look at them)."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from upstream import publish as pub
from upstream.gate import run_gate
from upstream.report import PAGES
from upstream.settings import Settings
from upstream.transform import run_dbt

from ..conftest import AS_OF, DAYS, PROJECT_DIR

pytestmark = pytest.mark.browser
SHOTS = PROJECT_DIR / ".artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def published(tmp_path_factory, built_warehouse):
    """Two published versions of the session's sample (the second compares with the first)."""
    root = tmp_path_factory.mktemp("browser")
    settings = Settings(project_dir=PROJECT_DIR, data_dir=root / "data",
                        published_dir=root / "published", max_reject_rate=0.05,
                        reject_floor=10, min_group_size=2, pseudonym_secret="browser-secret",
                        demand_window_days=28)
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(built_warehouse, settings.warehouse_path)
    run_dbt(settings, ["docs", "generate", "--static"], as_of=AS_OF)
    for run in ("first", "second"):
        cand = pub.build_candidate(settings, run_id=run, interval_start=DAYS[-1],
                                   interval_end=AS_OF)
        run_gate(settings, cand)
        pub.publish_candidate(settings, cand)
    return settings, pub.current_manifest(settings)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/ensure-chromium.sh"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(published):
    settings, manifest = published
    folder = settings.versions_dir / pub.version_name(manifest["version"])
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _open(browser, url: str, shot: str | None = None, wait_ms: int = 800):
    """The page at ``url`` with every request off this machine blocked; console errors and
    blocked requests are collected."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith(("file://", "http://127.0.0.1", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_timeout(wait_ms)
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / shot), full_page=False)
    return page, errors, blocked


MARKS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => ({
    id: p.id,
    svg: p.querySelectorAll('svg.main-svg').length,
    marks: p.querySelectorAll('.trace, .hm image, .point, path.js-line').length}))"""


@pytest.mark.parametrize(("file", "title"), PAGES)
def test_every_report_page_renders_its_charts_offline(published, browser, server, file, title):
    settings, manifest = published
    folder = settings.versions_dir / pub.version_name(manifest["version"]) / "report"
    for how, url in (("file", (folder / file).as_uri()), ("http", f"{server}/report/{file}")):
        page, errors, blocked = _open(browser, url, f"report-{file[:-5]}-{how}.png")
        assert errors == [] and blocked == [], (how, errors, blocked)
        assert title in page.inner_text("nav")
        charts = page.evaluate(MARKS)
        if file in ("demand.html", "fit.html", "unmet.html", "customers.html"):
            assert charts, f"{file} has no chart"
        for chart in charts:
            assert chart["svg"] > 0 and chart["marks"] > 0, (file, chart)
        page.close()


def test_the_dictionary_lists_every_published_column(published, browser):
    settings, manifest = published
    version = settings.versions_dir / pub.version_name(manifest["version"])
    page, errors, _ = _open(browser, (version / "report" / "dictionary.html").as_uri(),
                            "report-dictionary-full.png")
    text = page.inner_text("main")
    con = duckdb.connect(str(version / "design.duckdb"), read_only=True)
    columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                          "where schema_name = 'main' and not internal").fetchall()
    con.close()
    assert errors == []
    missing = [(t, c) for t, c, _ in columns if t not in text or c not in text]
    assert missing == []
    assert all(comment for _, _, comment in columns), "every column has a comment"


def test_the_category_filter_hides_other_categories(published, browser):
    settings, manifest = published
    version = settings.versions_dir / pub.version_name(manifest["version"])
    page, errors, _ = _open(browser, (version / "report" / "fit.html").as_uri())
    categories = page.eval_on_selector_all("#category option", "os => os.map(o => o.value)")
    chosen = categories[1]
    page.select_option("#category", chosen)
    visible = page.eval_on_selector_all(
        "[data-category]", "els => els.filter(e => e.offsetParent !== null)"
                           ".map(e => e.dataset.category)")
    page.screenshot(path=str(SHOTS / "report-fit-filtered.png"))
    assert errors == [] and visible and set(visible) == {chosen}


def test_data_docs_and_dbt_docs_render_offline(published, browser, server):
    settings, manifest = published
    version = settings.versions_dir / pub.version_name(manifest["version"])
    page, errors, blocked = _open(browser, (version / "data_docs" / "index.html").as_uri(),
                                  "data-docs-index.png", wait_ms=1500)
    assert errors == [] and blocked == [], (errors, blocked)
    assert page.eval_on_selector_all("table tbody tr", "rows => rows.length") > 0
    bootstrap = page.evaluate("getComputedStyle(document.querySelector('.navbar') || "
                              "document.body).display")
    assert bootstrap != "", "styled"
    validation = next((version / "data_docs" / "validations").rglob("*.html"))
    page, errors, blocked = _open(browser, validation.as_uri(), "data-docs-validation.png",
                                  wait_ms=1500)
    assert errors == [] and blocked == [], (errors, blocked)
    assert page.eval_on_selector_all("table tbody tr", "rows => rows.length") > 3
    # dbt's docs app is served (from file:// its Angular templates trip Chromium's file origin).
    # Its static page asks for three addresses that are unrendered templates of its own
    # ("{{ getIcon(...) }}", "${require('./assets/favicons/favicon.ico')}"): 404s, nothing else.
    page, errors, blocked = _open(browser, f"{server}/dbt_docs/index.html", "dbt-docs.png",
                                  wait_ms=2500)
    responses = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    templates = [u for u in responses if "%7B%7B" in u or "require(" in u]
    assert blocked == [] and len(errors) <= len(templates), (errors[:3], templates)
    assert all(e.startswith("Failed to load resource") for e in errors), errors[:3]
    assert "customer_needs" in page.content()
