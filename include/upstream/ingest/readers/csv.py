"""The CSV reader: the contract's pinned dialect, typed casts, rejects with their lines."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from datetime import date
from pathlib import Path

import duckdb

from upstream.common import exact_path, quote_ident, safe_excerpt
from upstream.contracts import Contract, ContractError
from upstream.ingest.landing import REDELIVER, LandingError
from upstream.ingest.readers import RAW_TEXT_LIMIT, Staged, first_line, reason_expr
from upstream.warehouse import sql_literal

log = logging.getLogger(__name__)


def stage_csv(con: duckdb.DuckDBPyConnection, contract: Contract, path: Path,
               day: date) -> Staged:
    """Parse a CSV into temp table _parsed with each row's quarantine reason (+ _rejected for
    lines the reader refused); return extra columns and the schema fingerprint."""
    opts = contract.csv_options
    encoding = str(opts.get("encoding", "utf-8"))
    delim = str(opts.get("delim", ","))
    header = next(csv.reader(io.StringIO(first_line(path, encoding)), delimiter=delim), None)
    if not header:
        raise LandingError(f"{path} is empty: no header line. {REDELIVER}")
    header = [h.strip() for h in header]
    types = {c.name: c.type for c in contract.columns}
    missing = [c.name for c in contract.columns if c.required and c.name not in header]
    if missing:  # names from the contract only: the header itself is never echoed
        raise ContractError(f"{path} lacks required column(s) {missing} of contract "
                            f"{contract.name} (its header has {len(header)} column(s)). "
                            f"{REDELIVER}")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ContractError(f"{path} has duplicate column names in its header: "
                            f"{[safe_excerpt(h, 40) for h in duplicated]}. {REDELIVER}")
    extra = [h for h in header if h not in types]
    columns = "{" + ", ".join(f"{sql_literal(h)}: {sql_literal(types.get(h, 'VARCHAR'))}"
                              for h in header) + "}"
    select = [f"{quote_ident(c.name)}" if c.name in header else f"null::{c.type} as {quote_ident(c.name)}"
              for c in contract.columns]
    extra_json = ("json_object(" + ", ".join(f"{sql_literal(e)}, {quote_ident(e)}" for e in extra) + ")"
                  if extra else "null::json")
    reason = reason_expr(contract, [], day)
    con.execute(
        f"""create or replace temp table _parsed as
        select *, {reason} as _reason from (
        select row_number() over () as _record_no, null::bigint as _line_no,
               {', '.join(select)}, {extra_json} as _extra
        from read_csv({exact_path(path)}, columns={columns}, header=true,
             delim={sql_literal(delim)}, quote={sql_literal(str(opts.get('quote', '"')))},
             escape={sql_literal(str(opts.get('escape', '"')))}, encoding={sql_literal(encoding)},
             auto_detect=false, strict_mode=true, max_line_size={contract.max_line_bytes},
             store_rejects=true, rejects_table='_rejects', rejects_scan='_rejects_scan'))"""
    )
    con.execute(
        f"""create or replace temp table _rejected as
        select line as line_no, left(any_value(csv_line), {RAW_TEXT_LIMIT}) as raw_text,
               string_agg(distinct error_type || coalesce(':' || column_name, ''), '; '
                          order by error_type || coalesce(':' || column_name, ''))
                   as reason
        from _rejects group by line"""
    )
    return extra, hashlib.sha256(",".join(header).encode()).hexdigest()[:16]
