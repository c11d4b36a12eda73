"""The benchmark's reading of dbt's log: each model's and statement's time within one DAG run."""

from __future__ import annotations

from upstream.bench import _dbt_log_since, _dbt_models, dbt_statements

LINE = ("\x1b[0m02:35:01.502202 [info ] [Thread-1 (]: {n} of 201 OK created sql {kind} model "
        "{name} {dots} [OK in {s}s]\n")


def test_model_times_are_read_from_the_run_s_part_of_the_log_slowest_first(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text(LINE.format(n=75, kind="incremental", name="intermediate.int_web__events",
                               dots="........", s="59.12"))
    offset = log.stat().st_size
    with log.open("a") as fh:
        fh.write(LINE.format(n=50, kind="view", name="staging.stg_web__events", dots="....",
                             s="0.02"))
        fh.write("\x1b[0m02:35:01.6 [debug] [Thread-1 (]: SQL status: OK in 0.219 seconds\n")
        fh.write(LINE.format(n=105, kind="incremental",
                             name="intermediate.int_web__events_attributed", dots="", s="13.36"))
        fh.write(LINE.format(n=116, kind="table", name="marts.customer_needs", dots="..",
                             s="6.96"))
    assert list(_dbt_models(_dbt_log_since(log, offset)).items()) == [
        ("intermediate.int_web__events_attributed", 13.36), ("marts.customer_needs", 6.96),
        ("staging.stg_web__events", 0.02)]
    assert _dbt_log_since(tmp_path / "missing.log", 0) == ""


def test_statements_are_timed_apart_per_thread_slowest_first():
    # two threads interleaved, dbt's query comment, SQL comments, a test's query (not a
    # model's), a coloured info line inside a statement, and a statement without its status
    comment = '/* {"app": "dbt", "node_id": "model.shop.orders_wide"} */'
    log = "\n".join([
        "09:00:00.000001 [debug] [Thread-2 (]: On model.shop.orders_wide: " + comment,
        "  -- wide orders, one row per line",
        "  create temporary table \"orders_wide__dbt_tmp1\" as (",
        "    select * from \"db\".\"main\".\"orders\"  -- all of them",
        ")",
        "09:00:00.000002 [debug] [Thread-3 (]: On model.shop.kunden_tägliche: "
        "delete from \"db\".\"main\".\"kunden_tägliche\" where id in (select id from t)",
        "\x1b[0m09:00:01.5 [info ] [Thread-3 (]: 4 of 9 START sql table model main.other",
        "09:00:02.250000 [debug] [Thread-3 (]: SQL status: OK in 2.250 seconds",
        "09:00:03.000000 [debug] [Thread-1 (]: On test.shop.unique_orders_id.abc: select 1",
        "09:00:04.000000 [debug] [Thread-1 (]: SQL status: OK in 4.000 seconds",
        "09:00:05.000000 [debug] [Thread-2 (]: SQL status: OK in 5.125 seconds",
        "09:00:06.000000 [debug] [Thread-2 (]: On model.shop.orders_wide: insert into x select 1",
        "09:00:07.000000 [debug] [Thread-2 (]: Opening a new connection",
        "09:00:08.000000 [debug] [Thread-2 (]: SQL status: OK in 0.5 seconds",
        "09:00:09.000000 [debug] [Thread-4 (]: On model.shop.never_ends: select 2",
    ])
    assert dbt_statements(log) == [
        {"model": "orders_wide", "seconds": 5.125,
         "sql": ('create temporary table "orders_wide__dbt_tmp1" as ( select * from '
                 '"db"."main"."orders" -- all of them )')[:100]},
        {"model": "kunden_tägliche", "seconds": 2.25,
         "sql": 'delete from "db"."main"."kunden_tägliche" where id in (select id from t)'},
        {"model": "orders_wide", "seconds": 0.5, "sql": "insert into x select 1"},
    ]
    assert [s["seconds"] for s in dbt_statements(log, top=1)] == [5.125]
    assert dbt_statements("") == []


def test_intraday_latency_is_split_into_stages_that_add_up(settings):
    from datetime import UTC, datetime, timedelta

    import duckdb

    from upstream.bench_intraday import STAGES, _latency, _percentile
    from upstream.intraday import LEDGER_DDL

    t0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(LEDGER_DDL)
        for i, batch in enumerate(["orders/intraday/b0", "web/intraday/b0", "web/intraday/b1"]):
            con.execute("insert into raw._intraday_batches (batch, source, marker_at, claimed_at, "
                        "run_id, status, loaded_at, seq) values (?, 'x', ?, ?, 'r', 'loaded', ?, ?)",
                        [batch, t0 + timedelta(seconds=i), t0 + timedelta(seconds=i + 2),
                         t0 + timedelta(seconds=20), i + 1])
    drops = [{"i": 0, "keys": ["orders/intraday/b0", "web/intraday/b0"]},
             {"i": 1, "keys": ["web/intraday/b1"]}, {"i": 2, "keys": ["web/intraday/lost"]}]
    manifests = [{"version": 2, "run_id": "a", "published_at": (t0 + timedelta(seconds=40))
                  .isoformat(), "intraday": {"batches": drops[0]["keys"]}},
                 {"version": 3, "run_id": "b", "published_at": (t0 + timedelta(seconds=70))
                  .isoformat(), "intraday": {"batches": drops[1]["keys"]}}]
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    runs = {"a": {"ingest_intraday": (at(5), at(8)), "transform": (at(9), at(30)),
                  "gate": (at(31), at(35)), "publish": (at(36), at(39))},
            "b": {"ingest_intraday": (at(41), at(43)), "transform": (at(44), at(69))}}
    figures = _latency(settings, drops, manifests, runs)
    first, second = figures["per_drop"]
    assert (first["latency_s"], first["trigger"], first["queue"], first["dbt"]) == (39, 2, 2, 21)
    assert (second["latency_s"], second["queue"], second["ingest"]) == (68, 37, 2)
    for row in figures["per_drop"]:  # the stages add up to the latency
        assert round(sum(row[s] for s in STAGES), 1) == row["latency_s"]
    assert (figures["p50_s"], figures["max_s"], figures["versions"]) == (53.5, 68, 2)
    assert _percentile(list(range(1, 101)), 0.95) == 95


def test_day_changes_count_the_rows_a_day_rewrote_as_a_multiset(settings, tmp_path):
    """Rows as a multiset over every column, nested ones too: an unchanged row is not counted,
    a changed value in a map or list is, and of two identical rows the one removed is gone."""
    import duckdb

    from upstream.bench import _rebuilt_tables, day_changes, row_hashes

    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema marts; create schema staging; create schema intermediate")
        con.execute("create table marts.needs as select * from (values "
                    "('p1', map {'tops': 'M'}, [1, 2]), ('p2', map {'tops': 'L'}, [3]), "
                    "('p3', null, []), ('p3', null, [])) as t(person_id, sizes, options)")
        con.execute("create table marts.empty (person_id varchar)")
        con.execute("create table intermediate.int_web__events as select 1 as event_id")
        con.execute("create view staging.stg_x as select 1 as x")
    models = {"marts.needs": 2.0, "marts.empty": 0.1, "intermediate.int_web__events": 9.0,
              "staging.stg_x": 0.0, "marts.dropped_since": 1.0}
    tables = _rebuilt_tables(settings, models)
    assert tables == ["marts.empty", "marts.needs"]  # no view, no append-only events
    hashes = tmp_path / "rows.duckdb"
    row_hashes(settings, tables, hashes, "before")
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("update marts.needs set sizes = map {'tops': 'XL'} where person_id = 'p2'")
        con.execute("delete from marts.needs where person_id = 'p3'")
        con.execute("insert into marts.needs values ('p3', null, []), "
                    "('p4', map {'shoes': '42'}, [1])")
    row_hashes(settings, tables, hashes, "after")
    assert day_changes(hashes, tables) == {
        "marts.empty": {"rows": 0, "written": 0, "gone": 0, "share": None},
        "marts.needs": {"rows": 4, "written": 2, "gone": 2, "share": 0.5}}
