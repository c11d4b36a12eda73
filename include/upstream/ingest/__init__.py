"""Load landing files into DuckDB raw tables: all-or-nothing, keyed by a load manifest.

For every file: rows read = rows loaded + rows quarantined, checked before commit. The file's
rows, its quarantine rows and its manifest row are written in one transaction. The same file
(same path, same sha256) again is skipped; the same path with new content replaces the older
version's rows and is flagged in the manifest.

The package, by stage and format: :mod:`.landing` (which files a day holds, each claimed by one
contract), :mod:`.readers` (one reader per format: CSV, NDJSON), :mod:`.load` (one file in one
transaction), :mod:`.manifest` (the load ledger), :mod:`.run` (a source's files for some days,
in parallel), :mod:`.report` (what an ingest did).
"""

from upstream.ingest.landing import (
    DELIVER_MISSING,
    REDELIVER,
    DayDelivery,
    LandingError,
    claim_files,
    landing_files,
)
from upstream.ingest.load import ensure_raw_table, load_file
from upstream.ingest.manifest import MANIFEST_DDL, FileResult
from upstream.ingest.report import IngestReport, ingestion_report
from upstream.ingest.run import ingest_source

__all__ = ["DELIVER_MISSING", "MANIFEST_DDL", "REDELIVER", "DayDelivery", "FileResult",
           "IngestReport", "LandingError", "claim_files", "ensure_raw_table", "ingest_source",
           "ingestion_report", "landing_files", "load_file"]
