"""Schema contracts per source table, kept as YAML files in ``upstream/contracts/``.

A check may name a vocabulary that lives in a dbt seed, ``{seed:fx_rates.currency_code}``: it
stands for the list of that column's values (:func:`with_vocabularies`), so the list has one
home, the seed, read by ingest and dbt alike.
"""

from __future__ import annotations

import csv
import fnmatch
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import yaml

from upstream.warehouse import sql_literal

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


class ContractError(ValueError):
    """A contract file is malformed, or a landing file breaks its contract."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    min: float | None = None  # numeric range; outside -> quarantine (out_of_range:<name>)
    max: float | None = None
    earliest: str | None = None  # date/timestamp range, overriding the contract's plausible_dates
    latest_after_day: int | None = None
    description: str = ""  # the raw column's documentation (dbt sources are generated from it)

    @property
    def is_text(self) -> bool:
        return self.type.upper() == "VARCHAR"

    @property
    def is_temporal(self) -> bool:
        return self.type.upper() in ("DATE", "TIMESTAMP", "TIMESTAMPTZ")


@dataclass(frozen=True)
class Check:
    reason: str
    valid_when: str
    hint: str = ""  # what to do when rows fail it, appended to a refusal naming this reason


@dataclass(frozen=True)
class Contract:
    name: str  # the contract file's stem; several contracts (dialects) may feed one table
    table: str
    source: str
    pattern: str  # file name glob inside the source's day folder
    format: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = ()
    csv: tuple[tuple[str, str | bool], ...] = ()
    allow_empty: bool = False  # a header-only file is a valid "nothing happened" delivery
    optional: bool = False  # a day may come without any file for this contract
    timezone: str = "UTC"  # the zone of timestamps delivered without an offset
    max_line_bytes: int = 1 << 20  # longer lines are quarantined (NDJSON) or rejected (CSV)
    # column -> identifier kind (crm, email, order, order_line, anon) that the erasure ledger
    # is checked against: a row of an erased person is never loaded again (upstream.erasure)
    erasure: tuple[tuple[str, str], ...] = ()
    description: str = ""  # what the file holds (the dbt source table's description)

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatchcase(file_name, self.pattern)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def csv_options(self) -> dict[str, str | bool]:
        return dict(self.csv)


# Every date and timestamp is plausible only from this day on and until the file's day plus a
# tolerance (contract `plausible_dates`, column `earliest` / `latest_after_day` override it).
PLAUSIBLE_DATES = {"earliest": "2000-01-01", "latest_after_day": 2}


def generated_checks(columns: tuple[Column, ...], plausible: dict) -> tuple[Check, ...]:
    """Checks every contract gets from its column types, after its own named checks: no NUL
    byte in text, numbers within their declared range, dates within the plausible range."""
    checks = []
    for c in columns:
        col = '"' + c.name.replace('"', '""') + '"'
        if c.is_text:
            checks.append(Check(f"nul_byte:{c.name}",
                                f"{col} is null or not contains({col}, chr(0))"))
        if c.min is not None or c.max is not None:
            bounds = [f"{col} >= {c.min}"] * (c.min is not None)
            bounds += [f"{col} <= {c.max}"] * (c.max is not None)
            checks.append(Check(f"out_of_range:{c.name}",
                                f"{col} is null or ({' and '.join(bounds)})"))
        if c.is_temporal:
            earliest = c.earliest or plausible["earliest"]
            after = c.latest_after_day if c.latest_after_day is not None else plausible[
                "latest_after_day"]
            checks.append(Check(
                f"implausible_date:{c.name}",
                f"{col} is null or ({col} >= '{earliest}'::{c.type} "
                f"and {col} < {{day}} + interval {int(after)} day)",
                hint=f"dates before {earliest} or more than {after} day(s) after the file's day "
                     "are implausible; ask the source to correct them"))
    return tuple(checks)


def _parse(path: Path) -> Contract:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        columns = tuple(Column(**c) for c in doc["columns"])
        plausible = {**PLAUSIBLE_DATES, **(doc.get("plausible_dates") or {})}
        contract = Contract(
            name=path.stem,
            table=doc["table"],
            source=doc["source"],
            pattern=doc["pattern"],
            format=doc["format"],
            key=tuple(doc["key"]),
            columns=columns,
            checks=tuple(Check(**c) for c in doc.get("checks", []))
            + generated_checks(columns, plausible),
            csv=tuple(sorted((doc.get("csv") or {}).items())),
            allow_empty=bool(doc.get("allow_empty", False)),
            optional=bool(doc.get("optional", False)),
            timezone=str(doc.get("timezone", "UTC")),
            max_line_bytes=int(doc.get("max_line_bytes", 1 << 20)),
            erasure=tuple(sorted((doc.get("erasure") or {}).items())),
            description=str(doc.get("description", "")),
        )
    except (KeyError, TypeError) as exc:
        raise ContractError(f"contract {path} is malformed: {exc}") from exc
    if not re.fullmatch(r"[A-Za-z0-9_+/-]+", contract.timezone):
        raise ContractError(f"contract {path}: timezone {contract.timezone!r} is not a zone name")
    if contract.format not in ("csv", "ndjson"):
        raise ContractError(f"contract {path}: unknown format {contract.format!r}")
    unknown = {col for col, _ in contract.erasure} - set(contract.names)
    kinds = {kind for _, kind in contract.erasure} - {"crm", "email", "order", "order_line", "anon"}
    if unknown or kinds:
        raise ContractError(f"contract {path}: erasure names unknown columns {sorted(unknown)} "
                            f"or kinds {sorted(kinds)}")
    if not set(contract.key) <= set(contract.names):
        raise ContractError(f"contract {path}: key {contract.key} not among its columns")
    return contract


@cache
def all_contracts(directory: Path = CONTRACTS_DIR) -> tuple[Contract, ...]:
    contracts = tuple(_parse(p) for p in sorted(directory.glob("*.yml")))
    by_table: dict[str, Contract] = {}
    for c in contracts:
        first = by_table.setdefault(c.table, c)
        if first.columns != c.columns or first.key != c.key:  # descriptions included
            raise ContractError(f"contracts {first.name} and {c.name} feed table {c.table} "
                                "but disagree on its columns or key")
    return contracts


SEED_REF = re.compile(r"\{seed:(\w+)\.(\w+)\}")


def seed_values(seeds_dir: Path, seed: str, column: str) -> list[str]:
    """The values of one column of a dbt seed (a CSV file in ``seeds_dir``)."""
    path = seeds_dir / f"{seed}.csv"
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError as exc:
        raise ContractError(f"a contract check refers to seed {seed!r}, but {path} does not "
                            "exist") from exc
    if rows and column not in rows[0]:
        raise ContractError(f"a contract check refers to column {column!r} of {path}, which has "
                            f"columns {list(rows[0])}")
    return [r[column] for r in rows if r[column]]


def with_vocabularies(contract: Contract, seeds_dir: Path) -> Contract:
    """The contract with every ``{seed:<name>.<column>}`` in its checks replaced by the seed's
    values as an SQL list, e.g. ``('EUR', 'USD')``."""
    def values(match: re.Match) -> str:
        found = seed_values(seeds_dir, match[1], match[2])
        return "(" + ", ".join(sql_literal(v) for v in found) + ")"

    checks = tuple(replace(k, valid_when=SEED_REF.sub(values, k.valid_when))
                   for k in contract.checks)
    return replace(contract, checks=checks)


def contracts_for(source: str) -> list[Contract]:
    found = [c for c in all_contracts() if c.source == source]
    if not found:
        known = sorted({c.source for c in all_contracts()})
        raise ContractError(f"unknown source {source!r}; known sources: {known}")
    return found


def sources() -> list[str]:
    return sorted({c.source for c in all_contracts()})


# Landing source -> dbt source (and staging folder) name, where they differ.
DBT_SOURCE = {"orders": "erp"}
DBT_SOURCE_DESCRIPTIONS = {
    "catalogue": "Daily product catalogue snapshots from the PIM.",
    "crm": "CRM customer exports (main and legacy CRM), one row per file row.",
    "erp": "The ERP order flow: orders, lines, delivery notes, invoices, returns.",
    "web": "The web shop's clickstream.",
}
LEDGER_COLUMNS = {
    "_extra": "Columns the file had beyond the contract (schema drift), as JSON.",
    "_load_id": "The load (raw._load_manifest.load_id) that wrote the row.",
    "_source_file": "Landing path of the file, relative to the landing root.",
    "_record_no": "Record number inside the file.",
    "_loaded_at": "When the row was loaded (source freshness).",
}


def dbt_source_yml(source: str, *, freshness_days: int) -> str:
    """The dbt sources yml of one landing source, generated from its contracts: tables,
    columns, types and descriptions are documented once, in the contracts. Keys are tested
    not null; freshness is the load time (``_loaded_at``) against ``freshness_days``."""
    name = DBT_SOURCE.get(source, source)
    tables: dict[str, Contract] = {}
    for contract in contracts_for(source):
        tables.setdefault(contract.table, contract)
    doc = {"version": 2, "sources": [{
        "name": name, "schema": "raw",
        "description": f"{DBT_SOURCE_DESCRIPTIONS[name]} Loaded by upstream.ingest under the "
                       f"contracts in include/upstream/contracts/ (source {source!r}).",
        "config": {"loaded_at_field": "_loaded_at",
                   "freshness": {"warn_after": {"count": freshness_days, "period": "day"}}},
        "tables": [{
            "name": table,
            "description": contract.description,
            "columns": [
                {"name": c.name, "data_type": c.type.lower(), "description": c.description,
                 **({"data_tests": ["not_null"]} if c.name in contract.key else {})}
                for c in contract.columns] + [
                {"name": col, "description": text} for col, text in LEDGER_COLUMNS.items()],
        } for table, contract in sorted(tables.items())],
    }]}
    header = ("# Generated from include/upstream/contracts/*.yml by `upstream contracts "
              "--write-dbt-sources`;\n# do not edit: document raw columns in the contracts "
              "(a test keeps this file equal to them).\n")
    return header + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)


def dbt_source_path(dbt_project_dir: Path, source: str) -> Path:
    name = DBT_SOURCE.get(source, source)
    return dbt_project_dir / "models" / "staging" / name / f"_{name}__sources.yml"
