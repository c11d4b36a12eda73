"""`upstream check-landing DIR`: a dry run of a delivery before it is wired in.

Every file under ``DIR/<source>/<YYYY-MM-DD>/`` goes through the real ingest path (contract
matching, casts, checks, quarantine, refusal) into a scratch warehouse in a temporary folder;
then, unless told not to, dbt builds the models behind ``reports.vocabulary_report`` there, so
unknown sizes, currencies, return reasons and countries are listed exactly as a real run would
report them. Nothing under DIR and nothing of the project's data is written; the scratch folder
is removed afterwards.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb

from upstream.contracts import Contract, ContractError, all_contracts, sources
from upstream.ingest import (
    MANIFEST_DDL,
    LandingError,
    claim_files,
    ensure_raw_table,
    load_file,
)
from upstream.publish.feeds import relations
from upstream.settings import Settings
from upstream.transform import run_dbt
from upstream.warehouse import connection

log = logging.getLogger(__name__)

VOCABULARY_MODELS = ["build", "--select", "+vocabulary_report",
                     "--resource-type", "seed", "--resource-type", "model"]


@dataclass
class FileVerdict:
    source: str
    day: str
    file: str
    contract: str
    status: str  # loaded | duplicate | refused
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    message: str = ""


@dataclass
class LandingCheck:
    landing_dir: Path
    files: list[FileVerdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    vocabulary: list[dict] | None = None  # None: not checked

    @property
    def ok(self) -> bool:
        return not self.problems and all(f.status != "refused" for f in self.files)

    def to_json(self) -> dict:
        return {"landing_dir": str(self.landing_dir), "ok": self.ok,
                "files": [asdict(f) for f in self.files], "problems": self.problems,
                "vocabulary": self.vocabulary}


def _days(folder: Path, only: date | None) -> list[date]:
    if only is not None:
        return [only]
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            found.append(date.fromisoformat(path.name))
        except ValueError:
            continue
    return found


def _verdict(con: duckdb.DuckDBPyConnection, settings: Settings, source: str, day: date,
             contract: Contract, path: Path) -> FileVerdict:
    rel = path.relative_to(settings.landing_dir).as_posix()
    verdict = FileVerdict(source, day.isoformat(), rel, contract.name, "loaded")
    try:
        result = load_file(con, contract, path, rel=rel, day=day,
                           max_reject_rate=settings.max_reject_rate,
                           reject_floor=settings.reject_floor)
    except (LandingError, ContractError) as exc:
        verdict.status, verdict.message = "refused", str(exc)
        row = con.execute("select rows_read, rows_quarantined from raw._load_manifest "
                          "where path = ? and status = 'refused'", [rel]).fetchone()
        if row:
            verdict.rows_read, verdict.rows_quarantined = row[0] or 0, row[1] or 0
        return verdict
    verdict.status, verdict.message = result.status, result.note
    verdict.rows_read, verdict.rows_loaded = result.rows_read, result.rows_loaded
    verdict.rows_quarantined = result.rows_quarantined
    verdict.reasons = dict(con.execute(
        "select reason, count(*) from raw._quarantine where source_file = ? group by reason "
        "order by count(*) desc, reason", [rel]).fetchall())
    return verdict


def check_landing(settings: Settings, landing_dir: Path, *, day: date | None = None,
                  vocabulary: bool = True) -> LandingCheck:
    """Dry-run every delivery under ``landing_dir`` (one ``day`` or all); see the module doc."""
    landing_dir = landing_dir.resolve()
    if not landing_dir.is_dir():
        raise LandingError(f"{landing_dir} is not a folder; expected <source>/<YYYY-MM-DD>/ "
                           "folders inside it")
    check = LandingCheck(landing_dir)
    scratch = Path(tempfile.mkdtemp(prefix="upstream-check-landing-"))
    try:
        dry = replace(settings, data_dir=scratch / "data", published_dir=scratch / "published",
                      landing_root=landing_dir)
        days_seen: set[date] = set()
        with connection(dry.warehouse_path) as con:
            con.execute(MANIFEST_DDL)
            for contract in {c.table: c for c in all_contracts()}.values():
                ensure_raw_table(con, contract)
            for source in sources():
                for d in _days(landing_dir / source, day):
                    delivery = claim_files(dry, source, d)
                    check.problems += delivery.problems
                    for contract, path in delivery.files:
                        check.files.append(_verdict(con, dry, source, d, contract, path))
                        days_seen.add(d)
        if vocabulary and any(f.status == "loaded" for f in check.files):
            run_dbt(dry, VOCABULARY_MODELS, as_of=max(days_seen) + timedelta(days=1))
            with connection(dry.warehouse_path, read_only=True) as con:
                report = relations(dry.dbt_manifest, ["vocabulary_report"], database=None)
                cur = con.execute(f"select * from {report['vocabulary_report']} "
                                  "order by kind, category nulls first, value")
                names = [d[0] for d in cur.description]
                check.vocabulary = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        elif vocabulary:
            check.vocabulary = []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return check


def render(check: LandingCheck) -> str:
    """The verdicts as text: one line per file, then problems and unknown vocabularies."""
    lines = [f"check-landing {check.landing_dir} (dry run: nothing written)", ""]
    head = f"{'file':<52} {'contract':<22} {'status':<9} {'read':>8} {'load':>8} {'quar.':>6}"
    lines += [head, "-" * len(head)]
    for f in check.files:
        lines.append(f"{f.file:<52} {f.contract:<22} {f.status:<9} {f.rows_read:>8} "
                     f"{f.rows_loaded:>8} {f.rows_quarantined:>6}")
        if f.reasons:
            lines.append("    quarantined: " + ", ".join(f"{r} x{n}" for r, n in f.reasons.items()))
        if f.message:
            lines.append(f"    {f.message}")
    totals = [sum(getattr(f, k) for f in check.files)
              for k in ("rows_read", "rows_loaded", "rows_quarantined")]
    lines.append(f"{len(check.files)} file(s): read {totals[0]}, would load {totals[1]}, "
                 f"quarantine {totals[2]}; refused "
                 f"{sum(f.status == 'refused' for f in check.files)}")
    if check.problems:
        lines += ["", "Problems:"] + [f"  {p}" for p in check.problems]
    if check.vocabulary is not None:
        lines += ["", "Unknown vocabulary:" if check.vocabulary else "Unknown vocabulary: none"]
        for v in check.vocabulary:
            where = f"{v['category']}: " if v["category"] else ""
            count = f" x{v['occurrences']}" if v["occurrences"] is not None else ""
            lines.append(f"  {v['kind']:<28} {where}{v['value']}{count}  -> {v['action']}")
    lines += ["", "verdict: " + ("ready to load" if check.ok else
                                 "not ready: fix the problems and refused files above")]
    return "\n".join(lines)
