"""The candidate: the published feeds copied from the warehouse into a fresh DuckDB file, with
a ``publication`` table and the dbt docs as comments, for the gate to validate."""

from __future__ import annotations

import logging
from datetime import date

from upstream.privacy import pseudonym_secret
from upstream.publish.feeds import feed_select, published_feeds, relations
from upstream.publish.store import (
    Candidate,
    current_manifest,
    next_version,
    repair,
    version_name,
)
from upstream.report import dbt_dictionary
from upstream.settings import Settings
from upstream.warehouse import connection, sql_literal

log = logging.getLogger(__name__)


COVERAGE_MODELS = ("stg_erp__orders", "int_web__events", "stg_crm__customers",
                   "stg_catalogue__products")
COVERAGE_SQL = """
    with orders as (select min(ordered_at) as first_at, max(ordered_at) as last_at
                    from {stg_erp__orders} where ordered_at < ?::date),
         web as (select min(occurred_at) as first_at, max(occurred_at) as last_at
                 from {int_web__events} where occurred_at < ?::date)
    select greatest(orders.last_at, web.last_at) as newest_data_at,
           least(orders.first_at, web.first_at)::date as data_from,
           greatest(orders.last_at, web.last_at)::date as data_to,
           orders.last_at as orders_as_of, web.last_at as web_as_of,
           (select max(updated_at) from {stg_crm__customers}) as crm_as_of,
           (select max(snapshot_date) from {stg_catalogue__products})
               as catalogue_as_of
    from orders, web
"""
# a published column that no dbt model has under that name
KEY_DESCRIPTION = ("Pseudonymous customer key: sha256 of the pseudonymisation secret and the "
                   "person id. Stable across versions while the secret is unchanged; never a "
                   "CRM id, name or contact.")


def _safe_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def build_candidate(settings: Settings, *, run_id: str, interval_start: date,
                    interval_end: date) -> Candidate:
    """Copy the published feeds from the warehouse into a fresh candidate file."""
    repair(settings)
    version = next_version(settings)
    folder = settings.published_dir / ".candidates"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"design-{version_name(version)}-{_safe_name(run_id)}.duckdb"
    for stale in (path, path.with_name(path.name + ".wal"),
                  path.with_name(path.name + ".gate.json")):
        stale.unlink(missing_ok=True)
    secret = pseudonym_secret(settings)
    feeds = published_feeds(settings.dbt_project_dir)
    where = relations(settings.dbt_manifest, [*feeds, *COVERAGE_MODELS], settings=settings)
    counts: dict[str, int] = {}
    with connection(path, limits=settings.duckdb_limits) as con:
        con.execute(f"attach {sql_literal(str(settings.warehouse_path))} as wh (read_only)")
        for table, feed in feeds.items():
            con.execute(f"create table main.{table} as {feed_select(feed, where[table])}",
                        [secret] if feed.pseudonymise else [])
            counts[table] = con.execute(f"select count(*) from main.{table}").fetchone()[0]
        con.execute(
            "create table main.publication as "
            f"with coverage as ({COVERAGE_SQL.format(**where)}) "
            "select ?::integer as version, ?::varchar as run_id, ?::date as interval_start, "
            "?::date as interval_end, coverage.*, "
            "round(date_diff('minute', newest_data_at, ?::date::timestamptz) / 1440.0, 2) "
            "as data_lag_days, now() as built_at, ?::bigint as intraday_batches_through "
            "from coverage",
            [interval_end, interval_end, version, run_id, interval_start, interval_end,
             interval_end, _batches(con, settings)],
        )
        con.execute("detach wh")
        _comment(con, dbt_dictionary(settings.dbt_manifest, list(feeds)))
        con.execute("checkpoint")
    log.info("candidate %s at %s: %s", version_name(version), path, counts)
    return Candidate(path, version, run_id, interval_start, interval_end, counts)


PUBLICATION_COMMENTS = {
    "": "Which version of the design database this is: run, interval, data covered, freshness.",
    "version": "Published version number (history.jsonl, `upstream publish list`).",
    "run_id": "The Airflow run that built it.",
    "interval_start": "Start of the run's data interval (UTC day).",
    "interval_end": "End of the run's data interval (exclusive; the as-of date of the models).",
    "newest_data_at": "Newest order or web event before the as-of date.",
    "data_from": "First day of source data the feeds cover.",
    "data_to": "Last day of source data the feeds cover.",
    "orders_as_of": "Newest order.",
    "web_as_of": "Newest web event.",
    "crm_as_of": "Newest CRM update.",
    "catalogue_as_of": "Day of the newest catalogue snapshot.",
    "data_lag_days": "Days from the newest data to the interval end (freshness, gated).",
    "built_at": "When this database was built.",
    "intraday_batches_through": "The newest intraday micro-batch (seq) this version holds.",
}


BATCH_COLUMNS = {
    "batch": "The micro-batch folder, <source>/intraday/<UTC time>[-suffix].",
    "source": "The source that delivered it (orders, web, crm).",
    "batch_day": "The UTC day its name gives.",
    "marker_at": "When its sender wrote _READY.",
    "claimed_at": "When the triggerer (or a run) claimed it.",
    "loaded_at": "When its files were loaded into the warehouse.",
    "rows_loaded": "Rows of its files loaded (the rest were quarantined).",
    "seq": "Order in which micro-batches were loaded.",
}


def _batches(con, settings: Settings) -> int:
    """``publication_batches``: the intraday micro-batches loaded since the current version
    (all of them are in this one); returns the newest batch's ``seq`` this version holds."""
    previous = (current_manifest(settings) or {}).get("intraday", {}).get("through_seq", 0)
    columns = ", ".join(BATCH_COLUMNS)
    ledger = con.execute("select count(*) from duckdb_tables() where database_name = 'wh' and "
                         "schema_name = 'raw' and table_name = '_intraday_batches'").fetchone()[0]
    if ledger:
        con.execute(f"create table main.publication_batches as select {columns} from "
                    "wh.raw._intraday_batches where status = 'loaded' and seq > ? order by seq",
                    [previous])
    else:
        con.execute("create table main.publication_batches (batch varchar, source varchar, "
                    "batch_day date, marker_at timestamptz, claimed_at timestamptz, "
                    "loaded_at timestamptz, rows_loaded bigint, seq bigint)")
    newest = con.execute("select max(seq) from main.publication_batches").fetchone()[0]
    return max(previous, newest or 0)


def _comment(con, dictionary: dict[str, dict]) -> None:
    """The dictionary in the data: COMMENT ON TABLE/COLUMN for every published table and
    column, from the dbt docs (models' yml), so any SQL client shows them."""
    for table, info in dictionary.items():
        con.execute(f"comment on table main.{table} is {sql_literal(info['description'])}")
        present = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where table_name = ?", [table]).fetchall()}
        for column, text in {**info["columns"], "customer_key": KEY_DESCRIPTION}.items():
            if column in present:
                con.execute(f'comment on column main.{table}."{column}" is {sql_literal(text)}')
    con.execute(f"comment on table main.publication is {sql_literal(PUBLICATION_COMMENTS[''])}")
    for column, text in PUBLICATION_COMMENTS.items():
        if column:
            con.execute(f"comment on column main.publication.{column} is {sql_literal(text)}")
    con.execute("comment on table main.publication_batches is 'The intraday micro-batches this "
                "version is the first to hold, with their timings.'")
    for column, text in BATCH_COLUMNS.items():
        con.execute(f"comment on column main.publication_batches.{column} is {sql_literal(text)}")


def discard_candidate(candidate: Candidate) -> None:
    for p in (candidate.path, candidate.path.with_name(candidate.path.name + ".wal")):
        p.unlink(missing_ok=True)
