"""Erasure is erasure: once asked, a person leaves the warehouse, the snapshot and every kept
version, is never loaded again, and no rollback can serve them."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date

import duckdb
import pytest

from upstream import publish as pub
from upstream.cli import main
from upstream.gate import run_gate
from upstream.ingest import ingest_source
from upstream.transform import run_dbt

from ..conftest import AS_OF, DAYS, parquet_dictionary

SECRET = "test-secret"  # conftest's UPSTREAM_PSEUDONYM_SECRET


def _publish(settings, run_id):
    cand = pub.build_candidate(settings, run_id=run_id, interval_start=DAYS[-1], interval_end=AS_OF)
    run_gate(settings, cand)
    return pub.publish_candidate(settings, cand)


def _one(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchone()[0]
    finally:
        con.close()


def _key(person: str) -> str:
    return hashlib.sha256(f"{SECRET}|{person}".encode()).hexdigest()


@pytest.fixture
def person(warehouse):
    """A profiled buyer with one CRM record, an email, orders and web events."""
    return _one(warehouse.warehouse_path, """
        select n.customer_id from intermediate.int_customer_needs n
        join staging.stg_crm__customers c on c.customer_id = n.customer_id
        where n.crm_record_count = 1 and n.order_count >= 2 and c.email is not null
          and exists (select 1 from raw.web_events w where w.customer_id = n.customer_id)
        order by n.customer_id limit 1""")


def test_an_erasure_request_forgets_the_person_everywhere(warehouse, person, capsys):
    settings = warehouse
    wh = settings.warehouse_path
    email = _one(wh, "select email from staging.stg_crm__customers where customer_id = ?",
                 [person])
    orders = _one(wh, "select count(*) from raw.erp_orders where crm_id = ?", [person])
    assert orders >= 2
    first = _publish(settings, "before")
    v1 = settings.versions_dir / pub.version_name(first["version"])
    assert _one(v1 / "design.duckdb", "select count(*) from customer_needs "
                                      "where customer_key = ?", [_key(person)]) == 1

    assert _one(wh, "select count(*) from intermediate.int_web__events_attributed "
                    "where person_id = ?", [person]) > 0
    assert main(["privacy", "erase", person, "--ticket", "DSR-42"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["versions_rewritten"] == [first["version"]]
    assert report["rows_purged"]["raw.crm_customers"] >= 1

    # the warehouse: raw, snapshot, derived tables
    for table, column in [("raw.crm_customers", "crm_id"), ("raw.erp_orders", "crm_id"),
                          ("raw.web_events", "customer_id"),
                          ("snapshots.snp_crm__customers", "customer_id"),
                          ("intermediate.int_web__events", "customer_id"),
                          ("intermediate.int_web__events_attributed", "person_id"),
                          ("intermediate.int_web__unmet_events", "person_id"),
                          ("intermediate.int_customer_preferences", "person_id"),
                          ("intermediate.int_customer_preferences__inputs", "person_id"),
                          ("intermediate.int_customer_needs", "customer_id"),
                          ("marts.customer_needs", "customer_id")]:
        assert _one(wh, f"select count(*) from {table} where {column} = ?", [person]) == 0, table
    assert _one(wh, "select count(*) from raw._quarantine where contains(raw_text, ?)",
                [person]) == 0
    assert _one(wh, "select count(*) from intermediate.int_web__events_attributed__map "
                    "where identifier = 'crm:' || ?", [person]) == 0
    # every file's counts still add up: rows in raw = rows_loaded - rows_erased
    broken = duckdb.connect(str(wh), read_only=True).execute("""
        select m.path from raw._load_manifest m
        where m.status = 'loaded' and m.table_name = 'erp_orders'
          and m.rows_loaded - m.rows_erased <> (select count(*) from raw.erp_orders o
                                                where o._source_file = m.path)""").fetchall()
    assert broken == []
    # the ledger holds keyed hashes only
    ledger = settings.erasure_ledger.read_text()
    assert person not in ledger and email not in ledger and "DSR-42" in ledger
    # the kept version is rewritten, still valid, and says so
    manifest = pub.read_manifest(v1)
    assert _one(v1 / "design.duckdb", "select count(*) from customer_needs "
                                      "where customer_key = ?", [_key(person)]) == 0
    assert manifest["row_counts"]["customer_needs"] == first["row_counts"]["customer_needs"] - 1
    parquet = duckdb.execute(f"select count(*) from '{v1}/feeds/customer_needs.parquet' "
                             "where customer_key = ?", [_key(person)]).fetchone()[0]
    assert parquet == 0
    # the rewritten feeds keep their dictionary (table and column descriptions)
    for feed in ("customer_needs", "design_customer_briefs"):
        meta = parquet_dictionary(v1 / "feeds" / f"{feed}.parquet")
        assert meta.get("description") and "column:customer_key" in meta, (feed, meta)
    assert any(e["event"] == "erasure" for e in pub.history(settings))

    # a new build, then a rollback to the old version: neither serves the person
    run_dbt(settings, ["build"], as_of=AS_OF)  # incremental attribution keeps forgetting
    assert _one(wh, "select count(*) from intermediate.int_web__events_attributed "
                    "where person_id = ?", [person]) == 0
    second = _publish(settings, "after")
    assert second["version"] == first["version"] + 1
    pub.rollback(settings, to=first["version"], reason="test")
    served = settings.published_db
    for table in ("customer_needs", "design_customer_briefs"):
        assert _one(served, f"select count(*) from {table} where customer_key = ?",
                    [_key(person)]) == 0


def test_a_replayed_export_never_readmits_an_erased_person(warehouse, person):
    settings = warehouse
    from upstream.erasure import erase
    from upstream.generate import Messiness, generate

    erase(settings, [person], via="request")
    # the original exports are delivered again, under new names (not duplicates)
    generate(settings.landing_dir, seed=11, sf=0.002, days=len(DAYS), mess=Messiness())
    replay = date(2026, 11, 20)
    for source in ("crm", "orders", "web"):
        src = settings.landing_dir / source / DAYS[0].isoformat()
        dst = settings.landing_dir / source / replay.isoformat()
        dst.mkdir(parents=True)
        for path in src.iterdir():
            target = dst / path.name.replace("20261101", "20261120")
            if path.suffix == ".gz":  # recompressed: other bytes, the same events
                target.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), mtime=1))
            else:  # a trailing blank line: other bytes, the same rows
                target.write_bytes(path.read_bytes() + b"\n")
    for source in ("crm", "orders", "web"):
        report = ingest_source(settings, source, [replay])
        for f in report.files:
            assert f.status == "loaded" and f.rows_read == f.rows_loaded + f.rows_quarantined, f
    wh = settings.warehouse_path
    for table, column in [("raw.crm_customers", "crm_id"), ("raw.erp_orders", "crm_id"),
                          ("raw.web_events", "customer_id")]:
        assert _one(wh, f"select count(*) from {table} where {column} = ?", [person]) == 0, table
    erased = _one(wh, "select count(*) from raw._quarantine q join raw._load_manifest m "
                      "using (load_id) where q.reason = 'erased' and m.interval_start = ?",
                  [replay])
    assert erased >= 3  # their CRM row, an order, and its lines at least
    assert _one(wh, "select count(*) from raw._quarantine where reason = 'erased' "
                    "and raw_text is not null") == 0


def test_a_crm_delete_is_an_erasure(settings):
    from upstream.generate import Messiness, generate

    summary = generate(settings.landing_dir, seed=3, sf=0.002, days=3,
                       mess=Messiness.clean().with_(crm_deletions=0.002))
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    report = ingest_source(settings, "crm", days)
    assert report.erased == summary.injected["crm_deletions"] > 0
    assert _one(settings.warehouse_path, "select count(*) from raw.crm_customers "
                                         "where op = 'delete'") == 0
    lines = settings.erasure_ledger.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["via"] == "crm_delete"
    # ingesting again changes nothing: each erasure is recorded once
    ingest_source(settings, "crm", days)
    assert settings.erasure_ledger.read_text().splitlines() == lines


def _hand_built_landing(landing):
    """Two days of another shape than the generator's: day 1 C1 and C2 join and browse; on day 2
    the CRM deletes C1. Browser A is C1's own (a login as C1, then anonymous browsing), B is a
    shared computer (logins as C1 and as C2), D is C2's."""
    def write(day, events, crm_rows):
        crm = landing / "crm" / day
        crm.mkdir(parents=True)
        (crm / f"crm_customers_{day.replace('-', '')}.csv").write_text(
            "crm_id,email,consent_marketing,consent_profiling,updated_at,op\n" + crm_rows)
        web = landing / "web" / day
        web.mkdir(parents=True)
        with gzip.open(web / f"events_{day.replace('-', '')}.ndjson.gz", "wt") as fh:
            for i, (anon, customer, kind) in enumerate(events):
                fh.write(json.dumps({"event_id": f"{day}-{i}", "event_type": kind,
                                     "occurred_at": f"{day}T10:{i:02d}:00+01:00",
                                     "anonymous_id": anon, "customer_id": customer}) + "\n")

    write("2026-11-01", [("A", "C1", "login"), ("A", None, "page_view"), ("A", "C1", "search"),
                         ("B", "C1", "login"), ("B", None, "page_view"), ("B", "C2", "login"),
                         ("D", "C2", "login"), ("D", None, "page_view")],
          "C1,eins@example.de,true,true,2026-11-01 09:00:00+01,upsert\n"
          "C2,zwei@example.de,true,true,2026-11-01 09:00:00+01,upsert\n")
    write("2026-11-02", [("A", None, "page_view"), ("B", None, "search"), ("D", None, "search")],
          "C1,,false,false,2026-11-02 08:00:00+01,delete\n")


@pytest.mark.parametrize("order", [("crm", "web"), ("web", "crm")])
def test_a_crm_delete_forgets_the_same_rows_whichever_source_loads_first(settings, order):
    _hand_built_landing(settings.landing_dir)
    days = [date(2026, 11, 1), date(2026, 11, 2)]
    reports = {source: ingest_source(settings, source, days) for source in order}
    # the web files are checked against the ledger (and timed) only when the delete came first
    checked = [f.ledger_check_s > 0 for f in reports["web"].files]
    assert checked == ([True, True] if order[0] == "crm" else [False, False])
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        kept = con.execute("select anonymous_id, coalesce(customer_id, '-'), event_type "
                           "from raw.web_events order by event_id").fetchall()
        manifest = con.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_erased) "
            "from raw._load_manifest where table_name = 'web_events'").fetchone()
        in_raw = con.execute("select count(*) from raw.web_events").fetchone()[0]
    finally:
        con.close()
    # C1's own browser A is gone on both days; the shared browser B keeps what is not C1's
    assert kept == [("B", "-", "page_view"), ("B", "C2", "login"), ("D", "C2", "login"),
                    ("D", "-", "page_view"), ("B", "-", "search"), ("D", "-", "search")]
    read, loaded, quarantined, erased = manifest
    assert read == loaded + quarantined == 11 and in_raw == loaded - erased
    ledger = [json.loads(line) for line in settings.erasure_ledger.read_text().splitlines()]
    assert sum(len(entry["hashes"]) for entry in ledger) == 3  # crm:C1, its email, browser A


def test_an_ingest_purges_an_erased_identifier_again_only_if_its_purge_did_not_commit(settings):
    from upstream.erasure import forget_derived

    _hand_built_landing(settings.landing_dir)
    days = [date(2026, 11, 1), date(2026, 11, 2)]
    for source in ("web", "crm"):  # day 2's CRM delete purges C1's own browser A from raw
        ingest_source(settings, source, days)
    # day 3: A browses again; its event is dropped at ingest, and A has nothing left to purge
    day3 = settings.landing_dir / "web" / "2026-11-03"
    day3.mkdir(parents=True)
    with gzip.open(day3 / "events_20261103.ndjson.gz", "wt") as fh:
        fh.write(json.dumps({"event_id": "2026-11-03-0", "event_type": "page_view",
                             "occurred_at": "2026-11-03T10:00:00+01:00", "anonymous_id": "A"})
                 + "\n")
    report = ingest_source(settings, "web", [date(2026, 11, 3)])
    assert [(f.rows_read, f.rows_erased) for f in report.files] == [(1, 1)]
    assert report.files[0].erased_identifiers == {"anon:A"}
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        assert forget_derived(settings, con, {"anon:A"}) is None  # applied: no purge, no scan
        # a purge that crashed after writing the ledger left A's event and marked nothing
        con.execute("delete from raw._erasure_applied")
        con.execute("insert into raw.web_events (event_id, anonymous_id, _load_id, _source_file) "
                    "values ('left-over', 'A', 'x', 'web/2026-11-01/events_20261101.ndjson.gz')")
        forgot = forget_derived(settings, con, {"anon:A"})
        assert forgot is not None and forgot.rows_purged["raw.web_events"] == 1
        assert con.execute("select count(*) from raw.web_events where anonymous_id = 'A'"
                           ).fetchone()[0] == 0
        assert con.execute("select count(*) from raw._erasure_applied").fetchone()[0] == 1
    finally:
        con.close()


def test_quarantined_text_is_forgotten_where_an_identifier_is_a_whole_token():
    from upstream.erasure import _purge_raw

    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw._quarantine (source_file varchar, raw_text varchar)")
    con.execute("insert into raw._quarantine values "
                "('a', '{\"event_id\":\"E1\",\"customer_id\":\"C00000042\",\"size\":\"M\"}'), "
                "('b', 'C00000007;Ana;ana+shop@x.eu;1800'), "
                "('c', 'O20261101-0000003-2,2,too_small'), "
                "('d', 'C000000420,Bo,bo@x.eu'), "  # another id that starts like the erased one
                "('e', null)")
    found = {"crm": ["C00000042", "C00000007"], "email": ["ana+shop@x.eu"],
             "order": [], "order_line": ["O20261101-0000003-2"], "anon": []}
    purged: dict[str, int] = {}
    _purge_raw(con, found, purged)
    assert purged == {"raw._quarantine (text)": 3}
    assert con.execute("select source_file from raw._quarantine where raw_text is not null "
                       "order by 1").fetchall() == [("d",)]


def test_after_an_erasure_running_sums_equal_a_full_refresh(warehouse):
    """Erasing one CRM record of a merged person leaves the person (same person_id), so no
    identity change points at them: the purge must make the incremental state re-derive them."""
    settings = warehouse
    wh = settings.warehouse_path
    from upstream.erasure import erase

    person, record = duckdb.connect(str(wh), read_only=True).execute("""
        select m.person_id, substr(m.identifier, 5) from intermediate.int_identity__map m
        where m.identifier like 'crm:%' and substr(m.identifier, 5) <> m.person_id
          and m.person_id in (select person_id from intermediate.int_customer_signals)
          and m.person_id in (select person_id from intermediate.int_customer_preferences)
          and exists (select 1 from intermediate.int_web__events w
                      join intermediate.int_web__unmet_events u on u.event_id = w.event_id
                      where w.customer_id = substr(m.identifier, 5))
        order by 1 limit 1""").fetchone()
    signals = ("select person_id, attribute, value, weight "
               "from intermediate.int_customer_signals order by all")
    before = duckdb.connect(str(wh), read_only=True).execute(
        signals.replace("order by all", "where person_id = ? order by all"), [person]).fetchall()
    events = [r[0] for r in duckdb.connect(str(wh), read_only=True).execute(
        "select event_id from intermediate.int_web__events where customer_id = ?",
        [record]).fetchall()]
    flagged = ("select count(*) from intermediate.int_web__unmet_events "
               "where event_id in (select unnest(?::varchar[]))")
    assert _one(wh, flagged, [events]) > 0
    preferences = "select * from intermediate.int_customer_preferences order by all"
    inputs = "select count(*) from intermediate.int_customer_preferences__inputs where person_id = ?"
    assert _one(wh, inputs, [person]) == 1
    erase(settings, [record], via="request")
    # the model kept by person forgets the remaining person until the next run computes them
    assert _one(wh, inputs, [person]) == 0
    # the unmet-demand flags are rebuilt by the next run, and hold no search of theirs until then
    assert _one(wh, flagged, [events]) == 0
    run_dbt(settings, ["build"], as_of=AS_OF)
    with duckdb.connect(str(wh), read_only=True) as con:
        # the erased record's events left the attribution too (an incremental table)
        assert con.execute("select count(*) from intermediate.int_web__events_attributed "
                           "where event_id in (select unnest(?::varchar[]))",
                           [events]).fetchone()[0] == 0
        running = con.execute(signals).fetchall()
        rederived = con.execute("select rederived_persons "
                                "from intermediate.int_customer_signals__applied").fetchone()[0]
        # the model kept by person recomputed the few whose inputs the erasure changed
        recomputed, persons = con.execute(
            "select rederived_persons, persons "
            "from intermediate.int_customer_preferences__applied").fetchone()
        kept = con.execute(preferences).fetchall()
    assert rederived is not None  # brought forward, not derived from scratch
    assert recomputed is not None and 0 < recomputed < persons / 2
    after = [r for r in running if r[0] == person]
    assert after and after != before  # the person remains, without the erased record's signals
    run_dbt(settings, ["build", "--full-refresh"], as_of=AS_OF)
    with duckdb.connect(str(wh), read_only=True) as con:
        derived = con.execute(signals).fetchall()
        assert con.execute(preferences).fetchall() == kept
    assert [r[:3] for r in running] == [r[:3] for r in derived]
    assert all(abs(a[3] - b[3]) <= 1e-12 * abs(b[3]) for a, b in zip(running, derived,
                                                                       strict=True))
