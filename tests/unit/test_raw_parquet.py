"""The raw Parquet layer (upstream.raw_parquet): the same rows as raw, one file per current load,
whole files only, whatever crashes."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date

import duckdb
import pytest

from upstream import raw_parquet
from upstream.erasure import erase
from upstream.generate import generate
from upstream.ingest import ingest_source
from upstream.raw_parquet import LEDGERS, PART, file_rows, read_catalogue, sync, table_files
from upstream.warehouse import connection

DAYS = [date(2026, 11, 1), date(2026, 11, 2)]
SOURCES = ("catalogue", "crm", "web", "orders")


@pytest.fixture
def parquet_settings(settings):
    return replace(settings, raw_parquet_setting=True)


def _ingest(settings, days=DAYS):
    for source in SOURCES:
        ingest_source(settings, source, days)


def _differences(settings) -> dict[str, int]:
    """Per raw table, rows in raw and not in the catalogue's files plus the reverse (0 = same)."""
    root = settings.raw_parquet_dir
    out = {}
    with connection(settings.warehouse_path, read_only=True) as con:
        for table in read_catalogue(root):
            files = table_files(root, table)
            parquet = f"read_parquet({files!r}, union_by_name = true, hive_partitioning = false)"
            out[table] = con.execute(
                f"select (select count(*) from (select * from raw.{table} except all "
                f"select * from {parquet})) + (select count(*) from (select * from {parquet} "
                f"except all select * from raw.{table}))").fetchone()[0]
    return out


def _current(settings) -> dict[str, dict[str, int]]:
    with connection(settings.warehouse_path, read_only=True) as con:
        return raw_parquet.current_loads(con)


def _assert_whole(settings) -> None:
    """What a crash may leave: the catalogue may lag the manifest (it names what the last
    completed sync saw; readers sync first), but every load it names was committed and has its
    whole file (its rows then, or fewer by an erasure committed since: the rows raw holds now),
    and every file a name points at is a whole Parquet file."""
    root = settings.raw_parquet_dir
    now = {i: n for loads in _current(settings).values() for i, n in loads.items()}
    with connection(settings.warehouse_path, read_only=True) as con:
        committed = {r[0] for r in con.execute("select load_id from raw._load_manifest where "
                                               "status in ('loaded', 'superseded')").fetchall()}
    for table, loads in read_catalogue(root).items():
        for load_id, rows in loads.items():
            assert load_id in committed, f"{table} {load_id} was never loaded"
            held = file_rows(raw_parquet.load_dir(root, table, load_id) / PART)
            assert held in (rows, now.get(load_id)), (table, load_id, held, rows)
    assert all(file_rows(p) is not None for p in root.rglob(PART))


def test_every_raw_table_reads_the_same_from_parquet(parquet_settings):
    s = parquet_settings
    generate(s.landing_dir, seed=3, sf=0.001, days=len(DAYS), start=DAYS[0])
    _ingest(s)
    catalogue = read_catalogue(s.raw_parquet_dir)
    assert set(catalogue) >= {"crm_customers", "web_events", "erp_orders", "erp_order_lines",
                              "catalogue_products"}
    assert catalogue == _current(s)
    assert all(n == 0 for n in _differences(s).values()), _differences(s)
    # one file per current load and nothing else a reader could list
    files = sorted(p.relative_to(s.raw_parquet_dir).as_posix()
                   for p in s.raw_parquet_dir.rglob("*") if p.is_file())
    # (no micro-batch was loaded, so there is no _intraday_batches ledger to copy)
    assert files == sorted(["catalogue.jsonl"] + [f"{ledger}/{PART}" for ledger in LEDGERS
                                                  if ledger != "_intraday_batches"]
                           + [f"{t}/load_id={i}/{PART}"
                              for t, loads in catalogue.items() for i in loads])
    # the same input twice changes nothing
    before = {p: p.stat().st_mtime_ns for p in s.raw_parquet_dir.rglob(f"load_id=*/{PART}")}
    _ingest(s)
    assert {p: p.stat().st_mtime_ns
            for p in s.raw_parquet_dir.rglob(f"load_id=*/{PART}")} == before


def test_a_new_version_of_a_file_replaces_its_parquet_and_an_erasure_rewrites_it(
        parquet_settings):
    s = parquet_settings
    generate(s.landing_dir, seed=4, sf=0.001, days=1, start=DAYS[0])
    _ingest(s, DAYS[:1])
    old = read_catalogue(s.raw_parquet_dir)["crm_customers"]
    crm_file = s.landing_dir / "crm" / DAYS[0].isoformat() / f"crm_customers_{DAYS[0]:%Y%m%d}.csv"
    with connection(s.warehouse_path, read_only=True) as con:
        victim = con.execute("select crm_id from raw.crm_customers where crm_id is not null "
                             "order by crm_id limit 1").fetchone()[0]
    # a re-sent CRM file with one more record: a new version, a new load, the old folder goes
    lines = crm_file.read_text().splitlines(keepends=True)
    crm_file.write_text("".join(lines + [lines[-1]]))
    ingest_source(s, "crm", DAYS[:1])
    new = read_catalogue(s.raw_parquet_dir)["crm_customers"]
    gone, came = set(old) - set(new), set(new) - set(old)
    assert len(gone) == 1 and len(came) == 1, "the re-sent file's load only (legacy file stays)"
    assert not raw_parquet.load_dir(s.raw_parquet_dir, "crm_customers", gone.pop()).exists()
    assert _differences(s)["crm_customers"] == 0
    # an erasure outside ingest (upstream privacy erase) rewrites the files that held the person
    erase(s, [victim], via="cli")
    assert all(n == 0 for n in _differences(s).values())
    files = table_files(s.raw_parquet_dir, "crm_customers")
    left = duckdb.connect().execute(f"select count(*) from read_parquet({files!r}) "
                                    "where crm_id = ?", [victim]).fetchone()[0]
    assert left == 0


@pytest.mark.parametrize("step", ["copy", "rename", "catalogue", "prune"])
def test_a_crash_inside_sync_leaves_whole_files_and_the_next_sync_finishes(
        parquet_settings, monkeypatch, step):
    s = parquet_settings
    generate(s.landing_dir, seed=5, sf=0.001, days=len(DAYS), start=DAYS[0])
    _ingest(s, DAYS[:1])
    first = read_catalogue(s.raw_parquet_dir)
    # day 2 arrives without the Parquet layer, and the first sync after it is killed at `step`
    _ingest(replace(s, raw_parquet_setting=False), DAYS[1:])
    real_replace = os.replace
    calls = []

    def die(*args, **kwargs):
        raise KeyboardInterrupt(f"simulated crash at {step}")

    def copy_then_die(con, table, load_id, target):  # the COPY wrote part of a temporary file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_name(f".{target.name}.tmp").write_bytes(b"PAR1 half a file")
        die()

    def replace_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            die()
        real_replace(src, dst)

    if step == "copy":
        monkeypatch.setattr(raw_parquet, "_write", copy_then_die)
    elif step == "rename":
        monkeypatch.setattr(raw_parquet.os, "replace", replace_second)
    elif step == "catalogue":
        monkeypatch.setattr(raw_parquet, "_replace_text", die)
    else:
        monkeypatch.setattr(raw_parquet.shutil, "rmtree", die)
    # a re-sent orders file supersedes a day-1 load, so the sync also has a folder to remove
    resent = s.landing_dir / "orders" / DAYS[0].isoformat() / f"orders_{DAYS[0]:%Y%m%d}.csv"
    lines = resent.read_text().splitlines(keepends=True)
    resent.write_text("".join(lines[:-1]))
    with pytest.raises(KeyboardInterrupt):
        ingest_source(s, "orders", DAYS[:1])
    _assert_whole(s)
    if step in ("copy", "rename", "catalogue"):  # the catalogue still names day 1 only
        assert read_catalogue(s.raw_parquet_dir) == first
    monkeypatch.undo()
    with connection(s.warehouse_path, limits=s.duckdb_limits) as con:
        sync(con, s.raw_parquet_dir)
    assert read_catalogue(s.raw_parquet_dir) == _current(s)
    assert all(n == 0 for n in _differences(s).values())
    assert not list(s.raw_parquet_dir.rglob(".*.tmp"))


def test_a_crash_inside_a_load_leaves_no_file_for_it(parquet_settings, monkeypatch):
    from upstream.ingest import manifest as manifest_mod

    s = parquet_settings
    generate(s.landing_dir, seed=6, sf=0.001, days=1, start=DAYS[0])

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash after rows were inserted")

    monkeypatch.setattr(manifest_mod, "write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_source(s, "orders", DAYS[:1])
    monkeypatch.undo()
    with connection(s.warehouse_path, limits=s.duckdb_limits) as con:
        report = sync(con, s.raw_parquet_dir)
    assert report.files == 0 and read_catalogue(s.raw_parquet_dir) == {}
    assert not list(s.raw_parquet_dir.rglob("load_id=*"))


def test_raw_and_manifest_that_disagree_are_refused(parquet_settings):
    s = parquet_settings
    generate(s.landing_dir, seed=7, sf=0.001, days=1, start=DAYS[0])
    ingest_source(s, "orders", DAYS[:1])
    with connection(s.warehouse_path, limits=s.duckdb_limits) as con:
        con.execute("delete from raw.erp_orders where rowid in "
                    "(select rowid from raw.erp_orders limit 1)")
        with pytest.raises(RuntimeError, match="raw.erp_orders and the load manifest disagree"):
            sync(con, s.raw_parquet_dir)


def test_a_spark_run_takes_the_newest_batch_day_from_the_ledgers_parquet_copy(parquet_settings):
    """On Spark the transform opens no DuckDB file (its pool is not the writer's): the as-of
    date's floor, the newest loaded micro-batch, comes from the Parquet copy of the ledger."""
    from upstream.ingest.manifest import MANIFEST_DDL
    from upstream.intraday import LEDGER_DDL, newest_day

    s = parquet_settings
    with connection(s.warehouse_path, limits=s.duckdb_limits) as con:
        con.execute(MANIFEST_DDL)
        con.execute(LEDGER_DDL)
        for day, status in (("2026-11-03", "loaded"), ("2026-11-04", "refused")):
            con.execute("insert into raw._intraday_batches (batch, source, batch_day, marker_at, "
                        "run_id, status, loaded_at, seq) values (?, 'orders', ?, now(), 'r', ?, "
                        "now(), 1)", [f"orders/intraday/{day}", day, status])
        sync(con, s.raw_parquet_dir)
    assert newest_day(s) == date(2026, 11, 3)
    spark = replace(s, engine="spark")
    s.warehouse_path.rename(s.warehouse_path.with_suffix(".away"))  # no DuckDB file to open
    assert newest_day(spark) == date(2026, 11, 3)
