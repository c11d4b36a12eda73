"""What an ingest did: a summary for XCom and logs, ``raw._ingest_runs``, totals per source."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

import duckdb

from upstream.ingest.manifest import FileResult
from upstream.settings import Settings
from upstream.warehouse import connection

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    source: str
    days: list[str]
    files: list[FileResult] = field(default_factory=list)
    erased: int = 0  # CRM ids erased because a CRM delete row arrived (upstream.erasure)
    erasure_s: float = 0.0  # of the ingest's time, acting on erasures (not loading)

    def summary(self) -> dict:
        """Totals for XCom and logs (per-file detail stays in the manifest and the task log)."""
        totals = {
            k: sum(getattr(f, k) for f in self.files)
            for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_erased")
        }
        statuses = Counter(f.status for f in self.files)
        drift = sorted({f"{f.table}.{c}" for f in self.files for c in f.extra_columns})
        return {"source": self.source, "first_day": self.days[0], "last_day": self.days[-1],
                **totals, "files": dict(statuses), "extra_columns": drift,
                "erased_crm_ids": self.erased, "erasure_s": round(self.erasure_s, 1),
                "ledger_check_s": round(sum(f.ledger_check_s for f in self.files), 1)}


def record_run(con: duckdb.DuckDBPyConnection, report: IngestReport, started: float) -> None:
    """One row per ingest call in raw._ingest_runs: what came in, what was rejected and why."""
    summary = report.summary()
    loaded = [f.path for f in report.files if f.status == "loaded"]
    reasons = con.execute(
        "select coalesce(json_group_object(reason, n), '{}') from (select reason, count(*) n "
        "from raw._quarantine where source_file in (select unnest(?::varchar[])) group by reason)",
        [loaded]).fetchone()[0]
    con.execute(
        "insert into raw._ingest_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, to_timestamp(?), "
        "current_timestamp)",
        [str(uuid.uuid4()), report.source, summary["first_day"], summary["last_day"],
         json.dumps(summary["files"]), summary["rows_read"], summary["rows_loaded"],
         summary["rows_quarantined"], reasons, summary["extra_columns"], started])
    log.info("ingest report %s: files %s, rejects by reason %s, extra columns %s",
             report.source, summary["files"], reasons, summary["extra_columns"])


def ingestion_report(settings: Settings) -> list[dict]:
    """Per source: files loaded/refused and rows read/loaded/quarantined (current versions)."""
    with connection(settings.warehouse_path, read_only=True) as con:
        cur = con.execute(
            """select source,
                   count(*) filter (where status = 'loaded') as files,
                   count(*) filter (where status = 'duplicate') as duplicates,
                   count(*) filter (where status = 'refused') as refused,
                   coalesce(sum(rows_read) filter (where status = 'loaded'), 0) as rows_read,
                   coalesce(sum(rows_loaded) filter (where status = 'loaded'), 0) as rows_loaded,
                   coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0)
                       as rows_quarantined
            from raw._load_manifest group by source order by source""")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
