"""Ways into the published design database without Python: query, export, report.

All of them read the *current* version, resolved once (``published/current``), read-only: a
publish or a rollback during a query never mixes two versions.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from upstream.publish import current_version, version_name
from upstream.publish.feeds import write_feed_parquet
from upstream.settings import Settings

log = logging.getLogger(__name__)
FORMATS = ("table", "csv", "json", "md")
EXPORT_FORMATS = ("csv", "xlsx", "parquet")


class WorkspaceError(ValueError):
    """Nothing is published, or the table, SQL or format is wrong; the message says which."""


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]


def current_folder(settings: Settings) -> Path:
    version = current_version(settings)
    if version is None:
        raise WorkspaceError(f"nothing is published yet under {settings.published_dir}: run the "
                             "daily DAG first (`make run`)")
    return (settings.versions_dir / version_name(version)).resolve()


def published_tables(settings: Settings) -> list[str]:
    """The tables of the current version: its feeds (manifest), ``publication`` and, from
    versions that have it, ``publication_batches``."""
    manifest = json.loads((current_folder(settings) / "manifest.json").read_text())
    return sorted(manifest["row_counts"]) + ["publication"] + (
        ["publication_batches"] if "intraday" in manifest else [])


def query(settings: Settings, sql: str) -> Result:
    """Run read-only SQL on the current version."""
    db = current_folder(settings) / "design.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(sql)
        if cur.description is None:
            return Result([], [])
        return Result([d[0] for d in cur.description], cur.fetchall())
    except duckdb.CatalogException as exc:
        tables = ", ".join(published_tables(settings))
        raise WorkspaceError(f"{_first_line(exc)}. Published tables: {tables}") from None
    except duckdb.Error as exc:
        raise WorkspaceError(f"the query failed: {_first_line(exc)}") from None
    finally:
        con.close()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def render(result: Result, fmt: str = "table", max_width: int = 60) -> str:
    """The result as an aligned text table, CSV, JSON lines or a Markdown table."""
    if fmt not in FORMATS:
        raise WorkspaceError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "json":
        return "\n".join(json.dumps({c: _json_value(v) for c, v in zip(result.columns, row,
                                                                        strict=True)})
                         for row in result.rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_text(v) for v in row] for row in result.rows)
        return out.getvalue().rstrip("\n")
    cells = [[_text(v) for v in row] for row in result.rows]
    if fmt == "md":
        escape = [[c.replace("|", "\\|") for c in row] for row in cells]
        return "\n".join(["| " + " | ".join(result.columns) + " |",
                          "|" + "|".join("---" for _ in result.columns) + "|"]
                         + ["| " + " | ".join(row) + " |" for row in escape])
    clipped = [[c if len(c) <= max_width else c[:max_width - 1] + "…" for c in row]
               for row in cells]
    widths = [max([len(c)] + [len(r[i]) for r in clipped]) for i, c in enumerate(result.columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in clipped]
    lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(lines)


def export(settings: Settings, feed: str, fmt: str, out: Path | None = None) -> Path:
    """Write one published feed of the current version as CSV, XLSX or Parquet."""
    tables = published_tables(settings)
    if feed not in tables:
        raise WorkspaceError(f"no feed {feed!r}; published feeds: {', '.join(tables)}")
    if fmt not in EXPORT_FORMATS:
        raise WorkspaceError(f"--format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    folder = current_folder(settings)
    out = out or Path.cwd() / f"{feed}-v{folder.name[1:].lstrip('0')}.{fmt}"
    result = query(settings, f"select * from {feed}")
    tmp = out.with_name(f".{out.name}.tmp")
    if fmt == "parquet":
        con = duckdb.connect(str(folder / "design.duckdb"), read_only=True)
        try:
            write_feed_parquet(con, feed, tmp)
        finally:
            con.close()
    elif fmt == "csv":
        tmp.write_text(render(result, "csv") + "\n", encoding="utf-8")
    else:
        _write_xlsx(result, feed, tmp)
    os.replace(tmp, out)
    log.info("exported %s (%d rows) from %s to %s", feed, len(result.rows), folder.name, out)
    return out


def _write_xlsx(result: Result, feed: str, path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(feed[:31])
    sheet.append(result.columns)
    for row in result.rows:
        sheet.append([v if isinstance(v, (int, float, str, date, datetime)) or v is None
                      else float(v) if isinstance(v, Decimal) else _text(v) for v in row])
    workbook.save(path)


def report_path(settings: Settings) -> Path:
    path = current_folder(settings) / "report" / "index.html"
    if not path.exists():
        raise WorkspaceError(f"{path.parent.parent.name} has no report (published before reports "
                             "existed); publish a new version")
    return path


def serve(settings: Settings, port: int = 8765) -> None:
    """Serve the current version's folder (report, Data Docs, dbt docs) on 127.0.0.1."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = report_path(settings).parents[1]
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving {folder.name} at http://127.0.0.1:{server.server_address[1]}/report/"
              "index.html (Ctrl-C to stop)", flush=True)
        server.serve_forever()
