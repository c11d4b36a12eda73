"""The designers' report: static HTML pages built into every published version.

``versions/vNNNNNN/report/`` holds six pages (overview, demand, fit, unmet demand, customers,
dictionary) that open from the file system or any web server, with no network: the charts are
Plotly figures and ``plotly.min.js`` is copied from the Python package into ``assets/`` (Plotly
because its JavaScript ships inside the package, so the report needs no CDN and no bundling
step; one copy serves every page). Everything shown is read from the version's own database
(read-only), the previous version's (what changed) and the dbt manifest (the dictionary).
"""

from __future__ import annotations

import html
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger(__name__)

PAGES = [("index.html", "Overview"), ("demand.html", "Demand"), ("fit.html", "Fit"),
         ("unmet.html", "Unmet demand"), ("customers.html", "Customers"),
         ("dictionary.html", "Dictionary")]
MAX_BRIEFS = 5000  # briefs embedded in the customers page; all of them: `upstream export`
ATTRIBUTES = ("size", "colour", "material", "fit")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}header{background:#1d2330;color:#fff;padding:12px 24px}header h1{font-size:18px;
margin:0 0 6px}nav a{color:#cfd6e4;margin-right:18px;text-decoration:none;font-size:14px}
nav a.here{color:#fff;font-weight:600;border-bottom:2px solid #6aa5ff}main{padding:16px 24px;
max-width:1280px}section{background:#fff;border:1px solid #e2e5ea;border-radius:6px;padding:12px
16px;margin:0 0 16px}h2{font-size:16px;margin:4px 0 10px}table{border-collapse:collapse;
font-size:13px;width:100%}td,th{border-bottom:1px solid #eceff3;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#f0f2f5}td.n,th.n{text-align:right}.muted{color:#6b7385;
font-size:13px}.tiles{display:flex;flex-wrap:wrap;gap:12px}.tile{background:#f0f4fb;border-radius:6px;
padding:8px 12px;min-width:150px}.tile b{display:block;font-size:20px}.warn{color:#9a5b00}
.ok{color:#1b7a3a}.bad{color:#b3261e}input,select{font-size:14px;padding:4px 6px;margin:0 8px 8px 0}
code{background:#eef1f5;padding:1px 4px;border-radius:3px}
"""
FILTER_JS = """
function filterCategory(value){document.querySelectorAll('[data-category]').forEach(function(el){
el.style.display=(value===''||el.dataset.category===value)?'':'none';});
document.querySelectorAll('.js-plotly-plot').forEach(function(p){if(p.offsetParent){
Plotly.Plots.resize(p);}});}
function filterRows(input,tableId){var q=input.value.toLowerCase();
document.querySelectorAll('#'+tableId+' tbody tr').forEach(function(tr){
tr.style.display=tr.textContent.toLowerCase().indexOf(q)>=0?'':'none';});}
"""


@dataclass
class Report:
    folder: Path
    pages: list[str] = field(default_factory=list)
    charts: int = 0
    seconds: float = 0.0


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _table(rows: list[dict], columns: list[str] | None = None, table_id: str = "") -> str:
    if not rows:
        return '<p class="muted">Nothing here in this version.</p>'
    columns = columns or list(rows[0])
    numeric = {c for c in columns if all(isinstance(r[c], (int, float)) or r[c] is None
                                         for r in rows)}
    head = "".join(f'<th class="{"n" if c in numeric else ""}">{_e(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f'<td class="{"n" if c in numeric else ""}">{_e(r[c])}</td>'
                                    for c in columns) + "</tr>" for r in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Charts:
    """Plotly figures as page fragments; the JavaScript is loaded once per page from assets/."""

    def __init__(self) -> None:
        import plotly.graph_objects as go

        self.go = go
        self.count = 0

    def html(self, fig: Any, height: int = 360) -> str:
        self.count += 1
        fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 60},
                          template="plotly_white", font={"size": 12})
        return fig.to_html(full_html=False, include_plotlyjs=False,
                           div_id=f"chart-{self.count}",
                           config={"displaylogo": False, "responsive": True})

    def heatmap(self, title: str, x: list, y: list, z: list[list], label: str) -> str:
        fig = self.go.Figure(self.go.Heatmap(x=x, y=y, z=z, colorscale="Blues",
                                             hovertemplate=f"%{{y}} %{{x}}: %{{z}} {label}"
                                                           "<extra></extra>"))
        fig.update_layout(title=title)
        return self.html(fig, height=max(260, 40 * len(y) + 120))

    def bars(self, title: str, series: dict[str, tuple[list, list]], horizontal: bool = False,
             height: int = 360, barmode: str = "group") -> str:
        fig = self.go.Figure()
        for name, (labels, values) in series.items():
            if horizontal:
                fig.add_trace(self.go.Bar(y=labels, x=values, name=name, orientation="h"))
            else:
                fig.add_trace(self.go.Bar(x=labels, y=values, name=name))
        fig.update_layout(title=title, barmode=barmode,
                          yaxis={"autorange": "reversed"} if horizontal else {})
        return self.html(fig, height=height)

    def lines(self, title: str, series: dict[str, tuple[list, list]], height: int = 320) -> str:
        fig = self.go.Figure()
        for name, (x, y) in series.items():
            fig.add_trace(self.go.Scatter(x=x, y=y, name=name, mode="lines+markers"))
        fig.update_layout(title=title)
        return self.html(fig, height=height)


def _page(title: str, file: str, version: dict, body: str) -> str:
    nav = "".join(f'<a href="{f}" class="{"here" if f == file else ""}">{_e(t)}</a>'
                  for f, t in PAGES)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)} · '
            f'Upstream v{version["version"]}</title><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><style>{CSS}</style>'
            f'<script src="assets/plotly.min.js"></script><script>{FILTER_JS}</script></head>'
            f'<body><header><h1>Upstream design report · version {version["version"]} · '
            f'{_e(version["covered"])}</h1><nav>{nav}</nav></header><main>{body}</main>'
            "</body></html>")


def _section(title: str, content: str, note: str = "", category: str | None = None) -> str:
    attr = f' data-category="{_e(category)}"' if category is not None else ""
    muted = f'<p class="muted">{note}</p>' if note else ""
    return f"<section{attr}><h2>{_e(title)}</h2>{muted}{content}</section>"


def _category_filter(categories: list[str]) -> str:
    options = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in categories)
    return ('<label>Category <select id="category" onchange="filterCategory(this.value)">'
            f'<option value="">all categories</option>{options}</select></label>')


def _size_order(con) -> dict[tuple[str, str], int]:
    return {(r["category"], r["size"]): r["sort_order"]
            for r in _rows(con, "select category, size, sort_order from size_scale")}


# --- overview ---------------------------------------------------------------------------------

def _changes(con, previous_db: Path | None, counts: dict, previous_counts: dict) -> str:
    rows = [{"feed": t, "rows now": n, "rows before": previous_counts.get(t),
             "change": None if t not in previous_counts else n - previous_counts[t]}
            for t, n in sorted(counts.items())]
    out = _table(rows)
    if previous_db is None or not previous_db.exists():
        return out + '<p class="muted">This is the first version: nothing to compare.</p>'
    con.execute(f"attach '{previous_db}' as previous (read_only)")
    try:
        movers = _rows(con, """
            select n.category, n.size, n.colour, n.material, n.fit, n.units,
                   coalesce(p.units, 0) as units_before,
                   n.units - coalesce(p.units, 0) as change
            from design_demand n left join previous.design_demand p
              using (category, size, colour, material, fit)
            order by abs(n.units - coalesce(p.units, 0)) desc, n.category, n.size limit 10""")
        searches = _rows(con, """
            select n.subject as search, n.visitor_count as people from design_unmet_demand n
            where n.signal_type = 'search_without_results' and not exists (
                select 1 from previous.design_unmet_demand p
                where p.signal_type = n.signal_type and p.subject = n.subject)
            order by n.visitor_count desc, n.subject""")
    finally:
        con.execute("detach previous")
    return (out + "<h2>Top movers in demand since the previous version</h2>" + _table(movers)
            + "<h2>New searches without results</h2>" + _table(searches))


def _minute(at) -> str:
    """A source's freshness as designers read it: "2026-11-28 10:42 UTC"."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at else "none"


def _overview(con, ctx: dict) -> str:
    pub = _rows(con, "select * from publication")[0]
    manifest = ctx["manifest"]
    gate = manifest.get("gate", {})
    warnings = gate.get("warnings", [])
    batches = manifest.get("intraday", {}).get("batches", [])
    tiles = [("Data covered", f"{pub['data_from']} – {pub['data_to']}"),
             ("Days of data", (pub["data_to"] - pub["data_from"]).days + 1),
             ("Orders as of", _minute(pub["orders_as_of"])),
             ("Web events as of", _minute(pub["web_as_of"])),
             ("CRM as of", _minute(pub["crm_as_of"])), ("Catalogue of", pub["catalogue_as_of"]),
             ("New intraday batches", len(batches)),
             ("Gate", f"passed, {gate.get('expectations')} checks")]
    tile_html = '<div class="tiles">' + "".join(
        f'<div class="tile"><span class="muted">{_e(k)}</span><b>{_e(v)}</b></div>'
        for k, v in tiles) + "</div>"
    warn_html = ('<ul>' + "".join(f'<li class="warn">{_e(w)}</li>' for w in warnings)
                 + "</ul>") if warnings else '<p class="ok">No warnings.</p>'
    return (_section("This version", tile_html, f"Run {_e(manifest.get('run_id'))}, published "
                     f"{_e(manifest.get('published_at', '')[:19])} UTC; git "
                     f"{_e(str(manifest.get('git_revision', ''))[:12])}.")
            + _section(f"Gate warnings ({len(warnings)})", warn_html,
                       "Published anyway; each says what to do.")
            + _section("What changed", _changes(con, ctx["previous_db"], manifest["row_counts"],
                                                ctx["previous_counts"])))


# --- demand -----------------------------------------------------------------------------------

def _weekly_trends(con) -> tuple[list[dict], dict]:
    """Rising and falling attribute values: units in the last 4 complete weeks against the 4
    before (weekly series from design_demand_weekly)."""
    rows = _rows(con, """
        with weeks as (select distinct week_start from design_demand_weekly
                       where days_covered = 7 order by week_start desc limit 8),
        ranked as (select week_start, row_number() over (order by week_start desc) as r
                   from weeks),
        cells as (select w.category, w.attribute, w.value,
                         sum(w.units) filter (where r.r <= 4) as recent,
                         sum(w.units) filter (where r.r > 4) as before
                  from design_demand_weekly w join ranked r using (week_start)
                  group by all)
        select category, attribute, value, recent, before,
               round((recent - before) / nullif(before, 0), 3) as change
        from cells where before >= 5 and recent is not null
        order by abs(recent - before) / before desc, category, attribute, value limit 12""")
    series = {}
    for r in rows:
        points = _rows(con, "select week_start, units from design_demand_weekly where category = ?"
                            " and attribute = ? and value = ? order by week_start",
                       [r["category"], r["attribute"], r["value"]])
        series[f"{r['category']} {r['attribute']}={r['value']}"] = (
            [p["week_start"] for p in points], [p["units"] for p in points])
    return rows, series


def _demand(con, charts: _Charts) -> str:
    categories = [r[0] for r in con.execute(
        "select distinct category from design_demand order by 1").fetchall()]
    order = _size_order(con)
    parts = [_category_filter(categories)]
    for attribute in ATTRIBUTES:
        cells = _rows(con, f"select category, {attribute} as value, sum(units) as units "
                           "from design_demand group by all")
        values = sorted({c["value"] for c in cells},
                        key=lambda v: (min(order.get((k, v), 999) for k in categories), v)
                        if attribute == "size" else v)
        grid = {(c["category"], c["value"]): c["units"] for c in cells}
        z = [[grid.get((k, v), 0) for v in values] for k in categories]
        parts.append(_section(f"Units by category and {attribute}",
                              charts.heatmap(f"Units ordered: category × {attribute}", values,
                                             categories, z, "units"),
                              "Last demand window; cells below the privacy threshold are "
                              "suppressed."))
    rows, series = _weekly_trends(con)
    parts.append(_section("Rising and falling", _table(rows) + (charts.lines(
        "Weekly units of the biggest movers", series) if series else ""),
        "Units in the last 4 complete weeks against the 4 weeks before (design_demand_weekly)."))
    for category in categories:
        trend = _rows(con, "select size, colour, material, fit, units, units_previous, trend "
                           "from design_demand where category = ? and trend in ('rising', "
                           "'falling') order by abs(units - units_previous) desc limit 15",
                      [category])
        parts.append(_section(f"{category}: rising and falling cells", _table(trend),
                              "design_demand.trend: this window against the one before.",
                              category=category))
    return "".join(parts)


# --- fit --------------------------------------------------------------------------------------

def _fit(con, charts: _Charts) -> str:
    categories = [r[0] for r in con.execute(
        "select distinct category from design_fit_by_size order by 1").fetchall()]
    parts = [_category_filter(categories)]
    for category in categories:
        rows = _rows(con, "select size, reason_code, units_sold, units_returned, return_rate "
                          "from design_fit_by_size where category = ? order by size_order, size",
                     [category])
        sizes = list(dict.fromkeys(r["size"] for r in rows))
        series = {}
        for reason in ("too_small", "too_large", "wrong_size"):
            by_size = {r["size"]: r["units_returned"] for r in rows if r["reason_code"] == reason}
            if by_size:
                series[reason.replace("_", " ")] = (sizes, [by_size.get(s, 0) for s in sizes])
        chart = charts.bars(f"{category}: units returned by size and reason", series) if series \
            else '<p class="muted">No fit returns above the privacy threshold.</p>'
        skus = _rows(con, "select sku, reason_code, units_returned, units_sold, return_rate, "
                          "sizes_affected from design_fit_issues where category = ? and "
                          "reason_code in ('too_small', 'too_large', 'wrong_size') "
                          "order by units_returned desc, sku limit 10", [category])
        by_size = _table(rows, ["size", "reason_code", "units_sold", "units_returned",
                                "return_rate"])
        parts.append(_section(category, chart + "<h2>By size and reason</h2>" + by_size
                              + "<h2>SKUs that drive them</h2>" + _table(skus),
                              "Too small and too large side by side (design_fit_by_size).",
                              category=category))
    return "".join(parts)


# --- unmet demand -----------------------------------------------------------------------------

def _unmet(con, charts: _Charts, previous_db: Path | None) -> str:
    def top(signal: str) -> list[dict]:
        return _rows(con, "select subject, category, size, events, visitor_count as people "
                          "from design_unmet_demand where signal_type = ? "
                          "order by events desc, subject limit 20", [signal])

    searches = top("search_without_results")
    oos = top("view_of_out_of_stock_size")
    carts = top("abandoned_cart")
    before = {}
    if previous_db is not None and previous_db.exists():
        with duckdb.connect(str(previous_db), read_only=True) as prev:
            before = {(r[0], r[1], r[2], r[3]): r[4] for r in prev.execute(
                "select signal_type, subject, category, size, events "
                "from design_unmet_demand").fetchall()}
    for signal, rows in (("search_without_results", searches),
                         ("view_of_out_of_stock_size", oos), ("abandoned_cart", carts)):
        for r in rows:
            prev = before.get((signal, r["subject"], r["category"], r["size"]))
            r["events before"] = prev
            r["trend"] = ("new" if prev is None else "rising" if r["events"] > prev * 1.2
                          else "falling" if r["events"] < prev * 0.8 else "steady")
    parts = []
    for title, rows in (("Searches without results", searches),
                        ("Views of out-of-stock sizes", oos), ("Abandoned carts", carts)):
        labels = [f"{r['subject']} {r['size'] or ''}".strip() for r in rows]
        chart = charts.bars(title, {"events": (labels, [r["events"] for r in rows])},
                            horizontal=True, height=max(260, 24 * len(rows) + 100)) if rows else ""
        parts.append(_section(title, chart + _table(rows), "Trend against the previous version."))
    return "".join(parts)


# --- customers --------------------------------------------------------------------------------

def _customers(con, charts: _Charts) -> str:
    total = con.execute("select count(*) from design_customer_briefs").fetchone()[0]
    briefs = _rows(con, f"""
        select left(b.customer_key, 12) as customer, b.lifecycle_stage as lifecycle,
               b.price_band as price, b.brief
        from design_customer_briefs b
        order by case b.lifecycle_stage when 'active' then 0 when 'new' then 1 else 2 end,
                 b.customer_key limit {MAX_BRIEFS}""")
    stage = _rows(con, "select lifecycle_stage, count(*) as people from customer_needs "
                       "group by all order by people desc")
    price = _rows(con, "select coalesce(price_band, 'no purchase') as price_band, count(*) as "
                       "people from customer_needs group by all order by people desc")
    sizes = _rows(con, """
        select e.key as category, e.value.size as size, count(*) as people
        from customer_needs, unnest(map_entries(sizes_by_category)) as t(e)
        group by all""")
    order = _size_order(con)
    categories = sorted({s["category"] for s in sizes})
    size_values = sorted({s["size"] for s in sizes},
                         key=lambda v: (min(order.get((c, v), 999) for c in categories), v))
    grid = {(s["category"], s["size"]): s["people"] for s in sizes}
    filter_box = ('<input type="search" placeholder="filter briefs (e.g. knitwear S, slim, '
                  'vegan)" size="50" oninput="filterRows(this, \'briefs\')">')
    note = (f"{len(briefs):,} of {total:,} briefs, active customers first (pseudonymous keys "
            "only). All of them: <code>upstream export design_customer_briefs --format xlsx"
            "</code>.")
    return (_section("Lifecycle stages and price bands",
                     charts.bars("People by lifecycle stage", {"people": (
                         [s["lifecycle_stage"] for s in stage], [s["people"] for s in stage])})
                     + charts.bars("People by price band", {"people": (
                         [p["price_band"] for p in price], [p["people"] for p in price])}))
            + _section("Recommended sizes", charts.heatmap(
                "People by recommended size", size_values, categories,
                [[grid.get((c, s), 0) for s in size_values] for c in categories], "people"))
            + _section("Briefs", filter_box + _table(briefs, table_id="briefs"), note))


# --- dictionary -------------------------------------------------------------------------------

def _lineage(node_id: str, nodes: dict, parents: dict, depth: int = 0) -> list[str]:
    """Every ancestor of a dbt node, sources included, in breadth order."""
    seen, queue, out = set(), list(parents.get(node_id, [])), []
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        node = nodes.get(current, {})
        if node.get("resource_type") in ("model", "seed", "source", "snapshot"):
            out.append(current.split(".", 2)[-1])
        queue.extend(parents.get(current, []))
    return out


def _dictionary(con, dictionary: dict) -> str:
    parts = []
    tables = [r[0] for r in con.execute("select table_name from duckdb_tables() "
                                        "order by table_name").fetchall()]
    for table in tables:
        info = dictionary.get(table, {})
        columns = _rows(con, "select column_name as column, data_type as type, "
                             "coalesce(comment, '') as description from duckdb_columns() "
                             "where table_name = ? order by column_index", [table])
        lineage = info.get("lineage", [])
        lineage_html = (f'<p class="muted">Built from: {_e(", ".join(lineage))}</p>'
                        if lineage else "")
        comment = con.execute("select comment from duckdb_tables() where table_name = ?",
                              [table]).fetchone()[0]
        parts.append(f'<section id="table-{_e(table)}"><h2>{_e(table)}</h2><p>{_e(comment)}</p>'
                     f"{lineage_html}{_table(columns, ['column', 'type', 'description'])}"
                     "</section>")
    index = " · ".join(f'<a href="#table-{_e(t)}">{_e(t)}</a>' for t in tables)
    docs = ('<p class="muted">The whole dbt project, every model and test: '
            '<a href="../dbt_docs/index.html">dbt docs</a>. Gate results: '
            '<a href="../data_docs/index.html">Data Docs</a>.</p>')
    return _section("Published tables", index + docs) + "".join(parts)


def dbt_dictionary(manifest_path: Path, tables: list[str]) -> dict[str, dict]:
    """Description, column descriptions and lineage of every published table, from dbt's
    manifest (the one source of truth: the models' yml)."""
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} is missing: the published tables' dictionary "
                                "comes from dbt's manifest; run dbt build (the transform task) "
                                "first")
    manifest = json.loads(manifest_path.read_text())
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    parents = manifest.get("parent_map", {})
    out = {}
    for table in tables:
        node_id = f"model.upstream.{table}"
        node = nodes.get(node_id)
        if node is None:
            continue
        out[table] = {"description": " ".join(node.get("description", "").split()),
                      "columns": {c: " ".join(v.get("description", "").split())
                                  for c, v in node.get("columns", {}).items()},
                      "lineage": _lineage(node_id, nodes, parents)}
    return out


def build_report(db: Path, out: Path, *, manifest: dict, previous_db: Path | None,
                 previous_manifest: dict | None, dictionary: dict) -> Report:
    """Write the report of the version whose database is ``db`` into ``out``."""
    import plotly

    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
                    assets / "plotly.min.js")
    report = Report(out)
    charts = _Charts()
    con = duckdb.connect(str(db), read_only=True)
    try:
        pub = _rows(con, "select data_from, data_to from publication")[0]
        version = {"version": manifest["version"],
                   "covered": f"data {pub['data_from']} – {pub['data_to']}"}
        ctx = {"manifest": manifest, "previous_db": previous_db,
               "previous_counts": (previous_manifest or {}).get("row_counts", {})}
        bodies = {"index.html": lambda: _overview(con, ctx),
                  "demand.html": lambda: _demand(con, charts),
                  "fit.html": lambda: _fit(con, charts),
                  "unmet.html": lambda: _unmet(con, charts, previous_db),
                  "customers.html": lambda: _customers(con, charts),
                  "dictionary.html": lambda: _dictionary(con, dictionary)}
        for file, title in PAGES:
            (out / file).write_text(_page(title, file, version, bodies[file]()),
                                    encoding="utf-8")
            report.pages.append(file)
    finally:
        con.close()
    report.charts = charts.count
    report.seconds = round(time.time() - started, 2)
    log.info("report: %d pages, %d charts in %.1fs at %s", len(report.pages), report.charts,
             report.seconds, out / "index.html")
    return report
