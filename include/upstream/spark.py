"""The Spark engine's output, read from DuckDB (issue 16).

With ``UPSTREAM_ENGINE=spark``, dbt-spark builds every model as a Parquet table of the embedded
Hive metastore under ``<data>/spark/warehouse/<schema>.db/<table>/`` (views have no files).
DuckDB reads those folders directly: the candidate takes the published feeds from them, and
:func:`compare` checks a Spark build row for row against a DuckDB build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from upstream.common import quote_ident
from upstream.settings import Settings
from upstream.warehouse import sql_literal

# DuckDB column types compared after rounding to significant digits (sums in another order
# differ in the last bits; the running sums are of masses up to 2^70)
FLOATS = ("DOUBLE", "FLOAT", "REAL")
SIGNIFICANT_DIGITS = 12


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


def exported_sql(settings: Settings, name: str) -> str:
    """A DuckDB table expression over one exported model."""
    folder = settings.spark_export_dir / name
    if not any(folder.glob("*.parquet")):
        raise FileNotFoundError(f"{folder} holds no Parquet files: the Spark build did not export "
                                f"{name} (dbt build on Spark, then its on-run-end export)")
    return f"read_parquet({sql_literal(str(folder / '*.parquet'))})"


def table_dir(settings: Settings, schema: str, name: str) -> Path:
    return settings.spark_dir / "warehouse" / f"{schema}.db" / name


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
    columns are cast to DuckDB's types, floating-point columns rounded to 9 decimal places,
    nested values (maps, structs, lists) compared as their text."""
    columns = con.execute(f"describe select * from {duckdb_relation}").fetchall()
    left, right = [], []
    for name, kind, *_ in columns:
        col = quote_ident(name)
        if kind.upper() in FLOATS:
            left.append(f"{_significant(col)} as {col}")
            right.append(f"{_significant(f'{col}::{kind}')} as {col}")
        elif any(t in kind.upper() for t in ("MAP(", "STRUCT(", "[]")):
            left.append(f"{col}::varchar as {col}")
            right.append(f"{col}::{kind}::varchar as {col}")
        else:
            left.append(col)
            right.append(f"{col}::{kind} as {col}")
    a = f"select {', '.join(left)} from {duckdb_relation}"
    b = f"select {', '.join(right)} from {spark_relation}"
    counts = con.execute(
        f"select (select count(*) from {duckdb_relation}), (select count(*) from {spark_relation}), "
        f"(select count(*) from ({a} except all {b})), (select count(*) from ({b} except all {a}))"
    ).fetchone()
    return Difference(table, *counts)
