"""What is published, from the dbt project: the ``design_database`` exposure lists the feeds
(in order), and each feed model's ``config.meta.publish`` says how it is published:
``order_by`` (so the same input always gives byte-identical feeds) and ``pseudonymise`` (the
column replaced by the keyed pseudonymous ``customer_key``). Python names no schema: the
warehouse relation of a model comes from dbt's manifest of the build (:func:`relations`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from upstream.privacy import PSEUDONYM_SQL
from upstream.settings import Settings
from upstream.warehouse import sql_literal

EXPOSURE = "design_database"


@dataclass(frozen=True)
class Feed:
    name: str
    order_by: tuple[str, ...]
    pseudonymise: str | None = None  # column replaced by customer_key on publication


@cache
def _published(models_dir: Path) -> tuple[Feed, ...]:
    exposure, meta = None, {}
    for path in sorted(models_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for item in doc.get("exposures", []):
            if item.get("name") == EXPOSURE:
                exposure = item
        for model in doc.get("models", []):
            publish = (model.get("config") or {}).get("meta", {}).get("publish")
            if publish is not None:
                meta[model["name"]] = publish
    if exposure is None:
        raise FileNotFoundError(f"no exposure {EXPOSURE!r} under {models_dir}: it lists the "
                                "published feeds")
    feeds = []
    for ref in exposure.get("depends_on", []):
        name = ref.split("'")[1]
        if name not in meta:
            raise ValueError(f"model {name} is in exposure {EXPOSURE} but has no "
                             "config.meta.publish (order_by, pseudonymise) in its yml")
        publish = meta[name]
        feeds.append(Feed(name, tuple(publish["order_by"]), publish.get("pseudonymise")))
    return tuple(feeds)


def published_feeds(dbt_project_dir: Path) -> dict[str, Feed]:
    """The published feeds, in the exposure's order."""
    return {f.name: f for f in _published(dbt_project_dir.resolve() / "models")}


def feed_names(dbt_project_dir: Path) -> list[str]:
    return list(published_feeds(dbt_project_dir))


def relations(manifest_path: Path, names: list[str], *,
              database: str | None = "wh", settings: Settings | None = None) -> dict[str, str]:
    """``database.schema.alias`` of each model in the build's dbt manifest (the warehouse is
    attached as ``database``; None: ``schema.alias`` on the warehouse's own connection). With
    ``settings`` of the spark engine: a read of the model's Parquet export (upstream.spark)."""
    if settings is not None and settings.engine == "spark":
        from upstream.spark import exported_sql

        return {name: exported_sql(settings, name) for name in names}
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path} is missing: run dbt build (the transform "
                                "task) before building a candidate")
    nodes = json.loads(manifest_path.read_text())["nodes"]
    out = {}
    for name in names:
        node = nodes.get(f"model.upstream.{name}")
        if node is None:
            raise ValueError(f"dbt's manifest {manifest_path} has no model {name}")
        relation = f'"{node["schema"]}"."{node.get("alias") or name}"'
        out[name] = f"{database}.{relation}" if database else relation
    return out


def feed_select(feed: Feed, relation: str) -> str:
    """The select that publishes ``feed`` from ``relation`` (one ``?`` parameter, the
    pseudonymisation secret, when the feed is pseudonymised)."""
    if feed.pseudonymise:
        return (f"select {PSEUDONYM_SQL.format(column=feed.pseudonymise)} as customer_key, "
                f"* exclude ({feed.pseudonymise}) from {relation} order by customer_key")
    return f"select * from {relation} order by {', '.join(feed.order_by)}"


def write_feed_parquet(con, table: str, path: Path) -> None:
    """The feed ``table`` of the design database open on ``con`` as a Parquet file at ``path``,
    its table and column descriptions (the database's comments) in the file's key-value
    metadata: ``description`` and ``column:<name>``. A publication, an erasure's rewrite of a
    kept version and a designer's export all write feeds this way, so a Parquet reader always
    finds the dictionary in the file."""
    comments = {"description": con.execute(
        "select comment from duckdb_tables() where table_name = ?", [table]).fetchone()[0]}
    comments.update({f"column:{c}": text for c, text in con.execute(
        "select column_name, comment from duckdb_columns() where table_name = ? "
        "and comment is not null order by column_index", [table]).fetchall()})
    metadata = ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in comments.items() if v)
    options = f", kv_metadata {{{metadata}}}" if metadata else ""
    con.execute(f"copy (select * from {table}) to {sql_literal(str(path))} "
                f"(format parquet, compression zstd{options})")
