"""The benchmark's reading of dbt's log: each model's time within one DAG run."""

from __future__ import annotations

from upstream.bench import _dbt_models

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
    assert list(_dbt_models(log, offset).items()) == [
        ("intermediate.int_web__events_attributed", 13.36), ("marts.customer_needs", 6.96),
        ("staging.stg_web__events", 0.02)]
    assert _dbt_models(tmp_path / "missing.log", 0) == {}


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
