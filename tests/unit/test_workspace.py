"""The designers' ways in without Python: query, export, report; and the dictionary in the data."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import urllib.request

import duckdb
import pytest

from upstream import publish as pub
from upstream.cli import main
from upstream.gate import run_gate
from upstream.publish import feed_names

from ..conftest import AS_OF, DAYS, PROJECT_DIR, parquet_dictionary

FEEDS = feed_names(PROJECT_DIR / "dbt_project")  # the published feeds (dbt exposure)


@pytest.fixture
def published(warehouse):
    cand = pub.build_candidate(warehouse, run_id="ws", interval_start=DAYS[-1], interval_end=AS_OF)
    run_gate(warehouse, cand)
    return warehouse, pub.publish_candidate(warehouse, cand)


def test_query_prints_tables_csv_json_and_markdown(published, capsys):
    sql = "select category, sort_order, size from size_scale order by category, sort_order limit 2"
    assert main(["query", sql]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["category", "sort_order", "size"] and table[-1] == "(2 rows)"
    assert main(["query", sql, "--format", "csv"]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == ["category", "sort_order", "size"] and len(rows) == 3
    assert main(["query", "select sizes_by_category from customer_needs "
                          "where sizes_by_category is not null limit 1", "--format", "json"]) == 0
    value = json.loads(capsys.readouterr().out)["sizes_by_category"]
    assert all(set(v) == {"size", "confidence"} for v in value.values())
    assert main(["query", sql, "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("| category | sort_order | size |\n|---|---|---|")


@pytest.mark.parametrize(("sql", "message"), [
    ("select * from customers", "Table with name customers does not exist"),
    ("selec 1", "the query failed: Parser Error"),
])
def test_query_errors_are_clear(published, capsys, sql, message):
    assert main(["query", sql]) == 2
    err = capsys.readouterr().err
    assert err.startswith("upstream query: error: ") and message in err
    assert "Traceback" not in err
    if "customers" in sql:
        assert "Published tables: customer_needs" in err


def test_export_writes_csv_xlsx_and_parquet(published, tmp_path, capsys):
    from openpyxl import load_workbook

    settings, manifest = published
    rows = manifest["row_counts"]["design_customer_briefs"]
    for fmt in ("csv", "xlsx", "parquet"):
        out = tmp_path / f"briefs.{fmt}"
        assert main(["export", "design_customer_briefs", "--format", fmt, "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip() == str(out)
        if fmt == "csv":
            assert len(list(csv.reader(out.open()))) == rows + 1
        elif fmt == "xlsx":
            sheet = load_workbook(out, read_only=True)["design_customer_briefs"]
            values = list(sheet.values)
            assert len(values) == rows + 1 and values[0][-1] == "brief"
        else:
            assert duckdb.execute(f"select count(*) from '{out}'").fetchone()[0] == rows
            # the exported file carries the feed's dictionary, as the published one does
            exported = parquet_dictionary(out)
            assert "description" in exported and exported == parquet_dictionary(
                settings.versions_dir / pub.version_name(manifest["version"]) / "feeds"
                / "design_customer_briefs.parquet")


def test_export_says_what_is_wrong(settings, published, capsys):
    assert main(["export", "briefs", "--format", "csv"]) == 2
    assert "no feed 'briefs'; published feeds: customer_needs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["export", "design_demand", "--format", "pdf"])
    assert caught.value.code == 2
    assert "invalid choice: 'pdf' (choose from 'csv', 'xlsx', 'parquet')" in (
        capsys.readouterr().err)


def test_nothing_published_is_a_clear_error(settings, capsys):
    for argv in (["query", "select 1"], ["export", "design_demand", "--format", "csv"],
                 ["report"]):
        assert main(argv) == 2
        assert "nothing is published yet" in capsys.readouterr().err


def test_publish_show_summary_reads_like_a_receipt(published, capsys):
    settings, manifest = published
    assert main(["publish", "show", "--summary"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"version {manifest['version']}: data "
                            f"{manifest['data_covered']['from']} – {manifest['data_covered']['to']}")
    for table, rows in manifest["row_counts"].items():
        assert any(line.split() == [table, f"{rows:,}", "rows"] for line in out.splitlines())
    assert f"gate: {manifest['gate']['expectations']} expectations passed" in out
    assert "design_fit_by_size where reason_code = 'too_small'" in out
    assert "{" not in first and '"checksums"' not in out
    assert main(["publish", "show"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n\nPublished")[0]) == manifest


def test_report_prints_its_path_and_serves_on_loopback(published, capsys):
    settings, manifest = published
    assert main(["report"]) == 0
    path = capsys.readouterr().out.strip()
    assert path.endswith(f"{pub.version_name(manifest['version'])}/report/index.html")
    server = subprocess.Popen([sys.executable, "-m", "upstream.cli", "report", "--serve",
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "Upstream design report" in page
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_dictionary_is_in_the_data(published):
    settings, manifest = published
    folder = settings.versions_dir / pub.version_name(manifest["version"])
    con = duckdb.connect(str(folder / "design.duckdb"), read_only=True)
    tables = con.execute("select table_name, comment from duckdb_tables()").fetchall()
    columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                          "where not internal").fetchall()
    con.close()
    assert tables and all(comment for _, comment in tables), tables
    assert all(comment for *_, comment in columns), [c for c in columns if not c[2]]
    for table in FEEDS:
        meta = parquet_dictionary(folder / "feeds" / f"{table}.parquet")
        described = {k.removeprefix("column:") for k in meta if k.startswith("column:")}
        expected = {c for t, c, _ in columns if t == table}
        assert meta["description"] and described == expected, (table, expected - described)


def _subcommands(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield name, child
                yield from ((f"{name} {n}", c) for n, c in _subcommands(child))


def test_every_command_and_option_has_help():
    import argparse

    from upstream.cli import build_parser

    parser = build_parser()
    missing = []
    for name, sub in [("upstream", parser), *_subcommands(parser)]:
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(c.help for c in subparsers._choices_actions), "every command has a summary"


@pytest.mark.parametrize(("argv", "message"), [
    (["generate", "--start", "1 Nov"], "argument --start: expected a date YYYY-MM-DD, got '1 Nov'"),
    (["generate", "--sf", "-1"], "argument --sf: expected a positive float, got -1"),
    (["ingest", "web", "--day", "2026-13-01"], "argument --day: expected a date YYYY-MM-DD"),
    (["publish", "show", "x"], "argument version: expected a positive int, got 'x'"),
])
def test_a_bad_argument_names_the_option_and_the_expected_form(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_a_bad_messiness_knob_names_the_knob(settings, tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--mess", "late_events=abc"]) == 2
    assert "messiness knob late_events='abc': expected a rate such as 0.1" in (
        capsys.readouterr().err)


def test_empty_states_say_so(settings, capsys):
    assert main(["publish", "list"]) == 0
    assert "nothing published yet" in capsys.readouterr().out
    assert main(["publish", "show"]) == 1
    assert "nothing published yet" in capsys.readouterr().err


def test_settings_come_from_the_environment_over_a_dotenv_file(tmp_path, monkeypatch):
    from upstream.settings import get_settings

    project = tmp_path / "project"
    (project / "dbt_project").mkdir(parents=True)
    (project / "dbt_project" / "dbt_project.yml").write_text("name: x\n")
    (project / ".env").write_text("UPSTREAM_MIN_GROUP_SIZE=7\nUPSTREAM_KEEP_VERSIONS=9\n")
    monkeypatch.setenv("UPSTREAM_PROJECT_DIR", str(project))
    monkeypatch.delenv("UPSTREAM_MIN_GROUP_SIZE", raising=False)
    monkeypatch.setenv("UPSTREAM_KEEP_VERSIONS", "3")
    settings = get_settings()
    assert (settings.min_group_size, settings.keep_versions) == (7, 3)
