"""The Spark engine's output, read from DuckDB (issue 16).

With ``UPSTREAM_ENGINE=spark``, dbt-spark builds every model as a Parquet table of the embedded
Hive metastore under ``<data>/spark/warehouse/<schema>.db/<table>/`` (views have no files).
dbt's on-run-end exports what the publication needs to a folder per build (:func:`new_export`),
which the candidate and the gate read (:func:`exported_sql`); :func:`compare` checks a Spark
build row for row against a DuckDB build (the parity test, ``make bench-engines``).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from upstream.common import quote_ident
from upstream.settings import Settings
from upstream.warehouse import sql_literal

# DuckDB column types compared after rounding to significant digits (sums in another order
# differ in the last bits; the running sums are of masses up to 2^70)
FLOATS = ("DOUBLE", "FLOAT", "REAL")
SIGNIFICANT_DIGITS = 12
TOLERANCE = 1e-9


def _significant(expression: str) -> str:
    return (f"case when {expression} is null or {expression} = 0 or isnan({expression}) "
            f"then {expression} else round({expression}, ({SIGNIFICANT_DIGITS} - "
            f"ceil(log10(abs({expression}))))::integer) end")


def exported_models(settings: Settings) -> list[str]:
    """What a Spark build exports for the publication: the published feeds, what the candidate
    reads its coverage from, and what the gate reads (macros/cross_engine.sql)."""
    from upstream.publish.candidate import COVERAGE_MODELS
    from upstream.publish.feeds import published_feeds

    return sorted({*published_feeds(settings.dbt_project_dir), *COVERAGE_MODELS,
                   "vocabulary_report"})


KEEP_EXPORTS = 3  # a candidate reads its own build's; older ones go when a new one starts


def new_export(settings: Settings) -> Path:
    """A fresh folder for one Spark build's export (dbt's on-run-end writes it): a candidate
    reads the export of its own run's build, never one a later build is writing."""
    settings.spark_exports.mkdir(parents=True, exist_ok=True)
    for old in sorted(p for p in settings.spark_exports.iterdir() if p.is_dir())[:-KEEP_EXPORTS]:
        shutil.rmtree(old, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return settings.spark_exports / f"{stamp}-{uuid.uuid4().hex[:8]}"


def exported_sql(settings: Settings, name: str) -> str:
    """A DuckDB table expression over one exported model (of ``settings.spark_export``, else
    of the newest export)."""
    root = settings.spark_export
    if root is None:
        done = sorted(p for p in settings.spark_exports.glob("*") if p.is_dir()) \
            if settings.spark_exports.is_dir() else []
        if not done:
            raise FileNotFoundError(f"no Spark export under {settings.spark_exports}: run dbt "
                                    "build on Spark (the transform task) first")
        root = done[-1]
    folder = root / name
    if not any(folder.glob("*.parquet")):
        raise FileNotFoundError(f"{folder} holds no Parquet files: the Spark build did not export "
                                f"{name} (dbt build on Spark, then its on-run-end export)")
    return f"read_parquet({sql_literal(str(folder / '*.parquet'))})"


def table_dir(settings: Settings, schema: str, name: str) -> Path:
    return settings.spark_warehouse / f"{schema}.db" / name


def relation_sql(settings: Settings, schema: str, name: str) -> str:
    """A DuckDB table expression over a Spark-built table's Parquet files."""
    folder = table_dir(settings, schema, name)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: the Spark build has no table "
                                f"{schema}.{name} (a view, or dbt build did not run on Spark)")
    return f"read_parquet({sql_literal(str(folder / '*.parquet'))})"


@dataclass
class Difference:
    table: str
    rows_duckdb: int
    rows_spark: int
    only_duckdb: int  # rows (after rounding) that DuckDB has and Spark does not
    only_spark: int

    @property
    def equal(self) -> bool:
        return self.only_duckdb == 0 and self.only_spark == 0


def compare(con: duckdb.DuckDBPyConnection, duckdb_relation: str, spark_relation: str,
            table: str) -> Difference:
    """Row-for-row comparison (EXCEPT ALL both ways) of one table built by both engines: Spark's
    columns are cast to DuckDB's types, floating-point columns rounded to 12 significant digits,
    nested values (maps, structs, lists) compared as their text. Rows left over on both sides
    that agree on every other column and whose floats agree to a relative 1e-9 (a sum in another
    order, next to a rounding boundary) are paired off as equal."""
    columns = con.execute(f"describe select * from {duckdb_relation}").fetchall()
    left, right, floats, others = [], [], [], []
    for name, kind, *_ in columns:
        col = quote_ident(name)
        if kind.upper() in FLOATS:
            left.append(f"{_significant(col)} as {col}")
            right.append(f"{_significant(f'{col}::{kind}')} as {col}")
            floats.append(col)
            continue
        others.append(col)
        if any(t in kind.upper() for t in ("MAP(", "STRUCT(", "[]")):
            left.append(f"{col}::varchar as {col}")
            right.append(f"{col}::{kind}::varchar as {col}")
        else:
            left.append(col)
            right.append(f"{col}::{kind} as {col}")
    a = f"select {', '.join(left)} from {duckdb_relation}"
    b = f"select {', '.join(right)} from {spark_relation}"
    rows_a, rows_b = con.execute(f"select (select count(*) from {duckdb_relation}), "
                                 f"(select count(*) from {spark_relation})").fetchone()
    con.execute(f"create or replace temp table _only_duckdb as {a} except all {b}")
    con.execute(f"create or replace temp table _only_spark as {b} except all {a}")
    only_a, only_b = con.execute("select (select count(*) from _only_duckdb), "
                                 "(select count(*) from _only_spark)").fetchone()
    if floats and only_a and only_b:
        order = ", ".join(floats)
        part = f"partition by {', '.join(others)} " if others else ""
        same = [f"x.{c} is not distinct from y.{c}" for c in others]
        close = [f"(x.{c} is not distinct from y.{c} or abs(x.{c} - y.{c}) <= "
                 f"{TOLERANCE} * greatest(abs(x.{c}), abs(y.{c})))" for c in floats]
        paired = con.execute(
            f"select count(*) from (select *, row_number() over ({part}order by {order}) as _n "
            f"from _only_duckdb) as x join (select *, row_number() over ({part}order by "
            f"{order}) as _n from _only_spark) as y on x._n = y._n "
            f"and {' and '.join(same + close)}").fetchone()[0]
        only_a, only_b = only_a - paired, only_b - paired
    con.execute("drop table _only_duckdb")
    con.execute("drop table _only_spark")
    return Difference(table, rows_a, rows_b, only_a, only_b)
