"""One reader per landing format: each stages a file as ``temp._parsed`` (typed rows with a
``_reason`` for bad ones) and ``temp._rejected`` (lines the reader itself refused).
"""

from __future__ import annotations

import gzip
import logging
from datetime import date
from pathlib import Path

from upstream.common import quote_ident
from upstream.contracts import Contract
from upstream.ingest.landing import REDELIVER, LandingError

log = logging.getLogger(__name__)


def first_line(path: Path, encoding: str) -> str:
    """The header line only: a bad byte further down is the CSV reader's (and quarantine's) job."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.readline()
    try:
        return raw.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise LandingError(f"{path}: header line is not {encoding} ({exc.reason} at byte "
                           f"{exc.start}). {REDELIVER}") from exc


def reason_expr(contract: Contract, extra_casts: list[str], day: date) -> str:
    """SQL giving the first reason a parsed row is quarantined, or NULL when it is valid.

    ``{day}`` in a check stands for the file's day (checks never depend on the wall clock, so
    a backfill judges old files as a daily run did).
    """
    whens = list(extra_casts)  # an uncastable value says so, not "missing"
    whens += [f"when {quote_ident(c.name)} is null then 'missing_required:{c.name}'"
              for c in contract.columns if c.required]
    day_sql = f"date '{day.isoformat()}'"
    whens += [f"when not coalesce(({k.valid_when.replace('{day}', day_sql)}), false) "
              f"then '{k.reason}'" for k in contract.checks]
    return "case " + " ".join(whens) + " end" if whens else "null::varchar"


Staged = tuple[list[str], str]  # extra columns, schema fingerprint


RAW_TEXT_LIMIT = 2000  # characters of a quarantined line kept in raw._quarantine.raw_text
# DuckDB's reader errors that quarantine a whole NDJSON line, by the reason we record
LINE_ERRORS = {"LINE SIZE OVER MAXIMUM": "line_too_long", "INVALID ENCODING": "invalid_utf8"}
