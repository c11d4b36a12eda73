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

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


class ContractError(ValueError):
    """A contract file is malformed, or a landing file breaks its contract."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False


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

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatchcase(file_name, self.pattern)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def csv_options(self) -> dict[str, str | bool]:
        return dict(self.csv)


def _parse(path: Path) -> Contract:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        contract = Contract(
            name=path.stem,
            table=doc["table"],
            source=doc["source"],
            pattern=doc["pattern"],
            format=doc["format"],
            key=tuple(doc["key"]),
            columns=tuple(Column(**c) for c in doc["columns"]),
            checks=tuple(Check(**c) for c in doc.get("checks", [])),
            csv=tuple(sorted((doc.get("csv") or {}).items())),
            allow_empty=bool(doc.get("allow_empty", False)),
            optional=bool(doc.get("optional", False)),
        )
    except (KeyError, TypeError) as exc:
        raise ContractError(f"contract {path} is malformed: {exc}") from exc
    if contract.format not in ("csv", "ndjson"):
        raise ContractError(f"contract {path}: unknown format {contract.format!r}")
    if not set(contract.key) <= set(contract.names):
        raise ContractError(f"contract {path}: key {contract.key} not among its columns")
    return contract


@cache
def all_contracts(directory: Path = CONTRACTS_DIR) -> tuple[Contract, ...]:
    contracts = tuple(_parse(p) for p in sorted(directory.glob("*.yml")))
    by_table: dict[str, Contract] = {}
    for c in contracts:
        first = by_table.setdefault(c.table, c)
        if first.columns != c.columns or first.key != c.key:
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
        return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in found) + ")"

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
