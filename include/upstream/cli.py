"""`upstream ...`: the one command-line entry point."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

from upstream.contracts import sources
from upstream.generate.mess import Messiness
from upstream.settings import get_settings

log = logging.getLogger("upstream")


def _generate(args: argparse.Namespace) -> int:
    from upstream.generate import Messiness, generate

    settings = get_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    mess = Messiness.parse(args.mess or [], clean=args.clean)
    if args.fresh_sample:
        _start_fresh_sample(settings, out, args)
    truth = Path(args.truth) if args.truth else out.parent / "truth"
    summary = generate(out, seed=args.seed, sf=args.sf, days=args.days, start=args.start,
                       mess=mess, progress=not args.quiet, truth_dir=truth)
    print(json.dumps({"landing_dir": str(out), "truth_dir": str(truth),
                      "files": len(summary.files),
                      "rows": dict(summary.rows), "messiness": dict(summary.injected)}, indent=2))
    return 0


def _start_fresh_sample(settings, out: Path, args: argparse.Namespace) -> None:
    """`make run` starts over when it asks for another sample than the one loaded (the sample
    ends yesterday, so it moves on every day): the old sample's landing files, warehouse and
    publications go, so no day of the old sample lingers in raw."""
    import shutil

    from upstream.generate.core import SAMPLE_MARKER

    wanted = {"seed": args.seed, "sf": args.sf, "days": args.days,
              "start": args.start.isoformat()}
    marker = out / SAMPLE_MARKER
    if not marker.exists():
        return
    if json.loads(marker.read_text()) == wanted:
        return
    print(f"generate: a new sample ({wanted['days']} days from {wanted['start']}) replaces the "
          f"one in {out}; starting over: removing it, the warehouse and the publications",
          file=sys.stderr)
    for folder in (out, settings.warehouse_path.parent, settings.data_dir / "dbt",
                   settings.data_dir / "gate", settings.published_dir):
        shutil.rmtree(folder, ignore_errors=True)


def _ingest(args: argparse.Namespace) -> int:
    from upstream import pipeline

    params = ({"mode": "range", "range_start": args.backfill_from, "range_end": args.day}
              if args.backfill_from else {})
    summary = pipeline.ingest(args.source, args.day, params)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _publish_show(args: argparse.Namespace) -> int:
    from upstream.publish import current_manifest, read_manifest, version_name

    settings = get_settings()
    if args.version:
        from upstream.publish import published_versions

        published = published_versions(settings)
        if args.version not in published:
            raise ValueError(f"version {args.version} is not published here; published: "
                             f"{published or 'none yet'} (`upstream publish list`)")
        manifest = read_manifest(settings.versions_dir / version_name(args.version))
    else:
        manifest = current_manifest(settings)
    if manifest is None:
        print(f"nothing published yet under {settings.published_dir}: run the daily DAG "
              "(`make run`)", file=sys.stderr)
        return 1
    if args.summary:
        print(_manifest_summary(manifest))
    else:
        print(json.dumps(manifest, indent=2))
        print(f"\nPublished design database (read-only for designers): {settings.published_db}")
        report = settings.published_dir / "current" / "report" / "index.html"
        if report.exists():
            print(f"Designers' report: {report.resolve()} "
                  "(or: .venv/bin/upstream report --serve)")
    print("Questions it answers, for example:")
    for question, sql in QUESTIONS:
        print(f"  # {question}\n  .venv/bin/upstream query \"{sql}\"")
    return 0


def _manifest_summary(manifest: dict) -> str:
    """The manifest as a reader wants it after a run: what, how much, and what to look at."""
    covered = manifest.get("data_covered") or {}
    gate = manifest.get("gate") or {}
    rows = manifest.get("row_counts") or {}
    lines = [f"version {manifest['version']}: data {covered.get('from')} – {covered.get('to')}, "
             f"published {manifest.get('published_at', '?')[:19].replace('T', ' ')} UTC"]
    width = max((len(name) for name in rows), default=0)
    lines += [f"  {name:<{width}}  {count:>9,} rows" for name, count in rows.items()]
    warnings = gate.get("warnings") or []
    lines.append(f"gate: {gate.get('expectations', '?')} expectations passed, "
                 f"{len(warnings)} warning(s)" + (":" if warnings else ""))
    lines += [f"  - {warning}" for warning in warnings]
    return "\n".join(lines)


QUESTIONS = [
    ("which sizes of which category are returned as too small?",
     "select category, size, units_returned, units_sold, return_rate from design_fit_by_size "
     "where reason_code = 'too_small' order by return_rate desc limit 10"),
    ("what is rising?",
     "select category, size, colour, material, fit, units, units_previous, trend "
     "from design_demand where trend = 'rising' order by units - units_previous desc limit 10"),
    ("what do people search for that we don't sell?",
     "select subject as search, events, visitor_count from design_unmet_demand "
     "where signal_type = 'search_without_results' order by events desc limit 10"),
]


def _publish_list(args: argparse.Namespace) -> int:
    from upstream.publish import list_versions

    settings = get_settings()
    rows = list_versions(settings)
    if not rows:
        print(f"nothing published yet under {settings.published_dir}: run the daily DAG "
              "(`make run`)")
        return 0
    for row in rows:
        mark = "*" if row["current"] else " "
        if row["valid"]:
            covered = row.get("data_covered") or {}
            data = (f"data {covered['from']}..{covered['to']}" if covered else
                    f"interval {row['interval']['start']}..{row['interval']['end']}")
            counts = ", ".join(f"{k} {v:,}" for k, v in row["row_counts"].items())
            print(f"{mark} v{row['version']:<6} {row['published_at'][:19]}  run {row['run_id']}"
                  f"  {data}  {counts}")
        else:
            print(f"{mark} v{row['version']:<6} INVALID: {row['problem']}")
    return 0


def _publish_rollback(args: argparse.Namespace) -> int:
    from upstream.publish import rollback

    event = rollback(get_settings(), to=args.to, reason=args.reason)
    print(json.dumps(event, indent=2))
    return 0


def _publish_repair(args: argparse.Namespace) -> int:
    from upstream.publish import repair

    actions = repair(get_settings())
    print("\n".join(actions) if actions else "publication is consistent; nothing to repair")
    return 0


def _query(args: argparse.Namespace) -> int:
    from upstream.workspace import query, render

    print(render(query(get_settings(), args.sql), args.format))
    return 0


def _export(args: argparse.Namespace) -> int:
    from upstream.workspace import export

    path = export(get_settings(), args.feed, args.format, Path(args.out) if args.out else None)
    print(path)
    return 0


def _workspace_report(args: argparse.Namespace) -> int:
    from upstream.workspace import report_path, serve

    if args.serve:
        serve(get_settings(), args.port)
    else:
        print(report_path(get_settings()))
    return 0


def _privacy_erase(args: argparse.Namespace) -> int:
    from upstream.erasure import erase

    report = erase(get_settings(), args.crm_ids, via="request", ticket=args.ticket)
    print(json.dumps(report.to_json(), indent=2))
    return 0


def _report(args: argparse.Namespace) -> int:
    from upstream.ingest import ingestion_report

    rows = ingestion_report(get_settings())
    columns = ["source", "files", "duplicates", "refused", "rows_read", "rows_loaded",
               "rows_quarantined"]
    print(" ".join(f"{c:>16}" for c in columns))
    for r in rows:
        print(" ".join(f"{r[c]!s:>16}" for c in columns))
    return 0


def _raw_parquet(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from upstream.raw_parquet import sync
    from upstream.warehouse import connection

    settings = get_settings()
    with connection(settings.warehouse_path, limits=settings.duckdb_limits) as con:
        report = sync(con, settings.raw_parquet_dir)
    print(json.dumps({"root": str(settings.raw_parquet_dir), **asdict(report)}, indent=2))
    return 0


def _check_landing(args: argparse.Namespace) -> int:
    from upstream.check_landing import check_landing, render

    if not args.verbose:  # dbt's progress is noise here; the verdicts are the output
        logging.getLogger("upstream.transform").setLevel(logging.WARNING)
    check = check_landing(get_settings(), Path(args.landing_dir), day=args.day,
                          vocabulary=not args.no_vocabulary)
    print(json.dumps(check.to_json(), indent=2, default=str) if args.json else render(check))
    return 0 if check.ok else 1


def _run_dag(args: argparse.Namespace) -> int:
    from upstream.runner import run_dag

    airflow = str(Path(sys.executable).with_name("airflow"))
    return run_dag(airflow, args.dag, args.day.isoformat(), json.loads(args.conf),
                   Path(args.log))


def _contracts(args: argparse.Namespace) -> int:
    """Write (or check) the dbt source ymls generated from the landing contracts."""
    from upstream.contracts import dbt_source_path, dbt_source_yml
    from upstream.settings import DEFAULTS

    settings = get_settings()
    # the committed files carry the default, not whatever this shell sets
    freshness_days = int(DEFAULTS["UPSTREAM_MAX_DATA_AGE_DAYS"])
    stale = []
    for source in sources():
        path = dbt_source_path(settings.dbt_project_dir, source)
        text = dbt_source_yml(source, freshness_days=freshness_days)
        if args.write_dbt_sources:
            path.write_text(text)
            print(f"wrote {path}")
        elif not path.exists() or path.read_text() != text:
            stale.append(str(path))
    if stale:
        print("out of date (run `upstream contracts --write-dbt-sources`): " + ", ".join(stale))
        return 1
    return 0


def _settings(args: argparse.Namespace) -> int:
    """The effective settings; ``--dbt-env`` prints what a dbt process needs, as shell exports."""
    from upstream.settings import SETTINGS, SPARK_POOL, WRITER_POOL, environment

    settings = get_settings()
    if args.dbt_env:
        for name, value in settings.dbt_env.items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if args.pool:
        print(WRITER_POOL)
        return 0
    if args.spark_pool:
        print(SPARK_POOL)
        return 0
    env = environment(settings.project_dir)
    for item in SETTINGS:
        value = env.get(item.env)
        shown = "(set)" if item.secret and value else value or item.default or "(default)"
        print(f"{item.env:32} {shown}")
    print(f"{'warehouse':32} {settings.warehouse_path}\n{'published database':32} "
          f"{settings.published_db}\n{'landing':32} {settings.landing_dir}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from upstream import bench

    settings = get_settings()
    figures = bench.run(settings, sf=args.sf, days=args.days)
    other = bench.save(figures, settings.project_dir / ".bench")
    print(bench.render(figures, other))
    print(f"written: {settings.project_dir / '.bench' / 'results.json'}")
    return 0


def _bench_intraday(args: argparse.Namespace) -> int:
    from upstream import bench_intraday

    settings = get_settings()
    figures = bench_intraday.run(settings, sf=args.sf, batches=args.batches,
                                 interval=args.interval)
    path = bench_intraday.save(figures, settings.project_dir / ".bench")
    print(bench_intraday.render(figures))
    print(f"written: {path}")
    return 0


def _bench_engines(args: argparse.Namespace) -> int:
    from upstream import bench_engines

    settings = get_settings()
    figures = bench_engines.run(settings, sf=args.sf, days=args.days)
    path = bench_engines.save(figures, settings.project_dir / ".bench")
    print(bench_engines.render(figures))
    print(f"written: {path}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from upstream import score

    settings = get_settings()
    if args.run:
        scores = score.run(settings, sf=args.sf, days=args.days)
        print(f"written: {score.save(scores, settings.project_dir / '.bench')}")
    else:
        truth = Path(args.truth) if args.truth else settings.landing_dir.parent / "truth"
        scores = score.score(settings, truth, top_n=args.top)
    print(json.dumps(scores, indent=2, default=score._json_default) if args.json
          else score.render(scores))
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _positive(kind: type) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upstream", description=__doc__, epilog="Settings come from UPSTREAM_* environment "
        "variables, else from a .env file in the project folder (the environment wins); see "
        ".env.example. Exit codes: 0 done, 1 a check found something, 2 an error.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write deterministic sample landing files")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument("--sf", type=_positive(float), default=0.01,
                     help="scale factor: 1 = 100k customers, 5M web events, 500k order lines a "
                          "week (default 0.01)")
    gen.add_argument("--days", type=_positive(int), default=7, help="days to write (default 7)")
    gen.add_argument("--start", type=_iso_date, default=date(2026, 11, 1),
                     help="first day YYYY-MM-DD (default 2026-11-01)")
    gen.add_argument("--out", help="landing folder (default: the settings' landing folder)")
    gen.add_argument("--truth", help="where to write what the world planted, for `upstream "
                                     "score` (default: truth/ beside the landing folder)")
    gen.add_argument("--mess", action="append", metavar="KNOB=RATE",
                     help="set a messiness knob, e.g. --mess late_events=0.1 (repeatable); "
                          "knobs: " + ", ".join(f.name for f in fields(Messiness)))
    gen.add_argument("--clean", action="store_true", help="start from all knobs off")
    gen.add_argument("--fresh-sample", action="store_true",
                     help="when the landing folder holds another sample (seed, sf, days, start),"
                          " remove it, the warehouse and the publications first (make run)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_generate)

    ing = sub.add_parser("ingest", help="load one source's landing files for a day")
    ing.add_argument("source", choices=sources(), help="the source to load")
    ing.add_argument("--day", type=_iso_date, required=True,
                     help="the day folder to load (YYYY-MM-DD)")
    ing.add_argument("--backfill-from", dest="backfill_from", type=_iso_date, default=None,
                     help="load every day from this one (YYYY-MM-DD) up to --day")
    ing.set_defaults(func=_ingest)

    chk = sub.add_parser(
        "check-landing", help="dry run of a delivery: per-file verdicts and unknown vocabulary",
        description="Run every file under LANDING_DIR/<source>/<YYYY-MM-DD>/ through the real "
                    "ingest path and the vocabulary models in a scratch warehouse (removed "
                    "afterwards): which contract claims each file, rows that would load or be "
                    "quarantined (by reason), refusals, and values the vocabulary seeds do not "
                    "know. Writes nothing. Exit 1 when a file would be refused.")
    chk.add_argument("landing_dir", help="folder holding <source>/<YYYY-MM-DD>/ folders")
    chk.add_argument("--day", type=_iso_date, help="only this day (YYYY-MM-DD)")
    chk.add_argument("--no-vocabulary", action="store_true",
                     help="skip the dbt vocabulary check (about 10 s)")
    chk.add_argument("--json", action="store_true", help="print JSON instead of text")
    chk.set_defaults(func=_check_landing)

    rd = sub.add_parser("run-dag", help="run a DAG through Airflow (airflow dags test) with "
                                        "a line per task and a summary",
                        description="What `make run` runs: the whole log goes to --log, the "
                                    "terminal gets each task's time and figures as it finishes "
                                    "and a summary, or the failing task's own message.")
    rd.add_argument("day", type=_iso_date, help="the run's logical date (YYYY-MM-DD); a daily "
                                                 "run covers the day before it")
    rd.add_argument("--dag", default="upstream_daily", help="DAG id (default upstream_daily)")
    rd.add_argument("--conf", default="{}", help='run params as JSON, e.g. \'{"mode": '
                                                 '"full_refresh"}\'')
    rd.add_argument("--log", default=".airflow/last-run.log", help="file for the full log")
    rd.set_defaults(func=_run_dag)

    def _scale_factor(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--sf", type=_positive(float), default=1.0,
                            help="scale factor (default 1)")

    ben = sub.add_parser("bench", help="the daily DAG through Airflow at a scale factor: a full "
                                       "refresh, the next day, floors, ratios, peak RSS")
    _scale_factor(ben)
    ben.add_argument("--days", type=_positive(int), default=7,
                     help="days of the full refresh (default 7; one more day follows)")
    ben.set_defaults(func=_bench)

    bid = sub.add_parser("bench-intraday", help="latency of micro-batches from their _READY "
                                                "marker to publication, through the services")
    _scale_factor(bid)
    bid.add_argument("--batches", type=_positive(int), default=20,
                     help="micro-batches dropped (default 20)")
    bid.add_argument("--interval", type=_positive(float), default=15.0,
                     help="seconds between two drops (default 15)")
    bid.set_defaults(func=_bench_intraday)

    ben2 = sub.add_parser("bench-engines", help="the daily DAG as a full refresh on DuckDB and "
                          "on Spark (local mode), same data: seconds per stage, feeds equal")
    _scale_factor(ben2)
    ben2.add_argument("--days", type=_positive(int), default=7,
                      help="days generated and refreshed at once (default 7)")
    ben2.set_defaults(func=_bench_engines)

    sco = sub.add_parser("score", help="how right the customer model is against the truth the "
                                       "sample world planted (sizes, calibration, identity, "
                                       "trends, unmet demand)")
    sco.add_argument("--truth", help="the truth folder (default: truth/ beside the landing "
                                     "folder, where `upstream generate` writes it)")
    sco.add_argument("--top", type=_positive(int), default=20,
                     help="unmet demand: planted items must be in the top N of their kind")
    sco.add_argument("--json", action="store_true", help="print JSON instead of the table")
    sco.add_argument("--run", action="store_true",
                     help="first generate --sf/--days with their truth and run the DAG as a full "
                          "refresh (make score); writes .bench/score.json")
    sco.add_argument("--sf", type=_positive(float), default=0.2, help="with --run (default 0.2)")
    sco.add_argument("--days", type=_positive(int), default=56, help="with --run (default 56)")
    sco.set_defaults(func=_score)

    con = sub.add_parser("contracts", help="check (or write) the dbt sources generated from "
                                           "the landing contracts")
    con.add_argument("--write-dbt-sources", action="store_true",
                     help="write dbt_project/models/staging/<source>/_<source>__sources.yml")
    con.set_defaults(func=_contracts)

    st = sub.add_parser("settings", help="the effective settings (environment, .env, defaults)")
    st.add_argument("--dbt-env", action="store_true",
                    help="print the environment a dbt process needs, as shell exports")
    st.add_argument("--pool", action="store_true", help="print the warehouse writer pool's name")
    st.add_argument("--spark-pool", action="store_true",
                    help="print the pool of Spark transforms (UPSTREAM_ENGINE=spark)")
    st.set_defaults(func=_settings)

    rep = sub.add_parser("ingest-report", help="ingestion totals per source from the load "
                                               "manifest")
    rep.set_defaults(func=_report)

    rpq = sub.add_parser("raw-parquet", help="bring the raw Parquet layer (<data>/raw) in line "
                         "with the warehouse's raw tables and load manifest (idempotent)")
    rpq.set_defaults(func=_raw_parquet)

    qry = sub.add_parser("query", help="read-only SQL on the current published version",
                         description="Run SQL on the current version of the design database "
                                     "(read-only), e.g. upstream query \"select * from "
                                     "design_fit_by_size where reason_code = 'too_small'\"")
    qry.add_argument("sql", help="the query (tables: the published feeds and publication)")
    qry.add_argument("--format", default="table", choices=["table", "csv", "json", "md"],
                     help="output: aligned text (default), CSV, JSON lines or Markdown")
    qry.set_defaults(func=_query)

    exp = sub.add_parser("export", help="write a published feed as CSV, XLSX or Parquet")
    exp.add_argument("feed", help="a published table, e.g. design_customer_briefs")
    exp.add_argument("--format", required=True, choices=["csv", "xlsx", "parquet"],
                     help="file format")
    exp.add_argument("--out", help="file to write (default: <feed>-v<version>.<format> here)")
    exp.set_defaults(func=_export)

    rpt = sub.add_parser("report", help="the designers' report of the current version: its "
                                        "path, or --serve it on 127.0.0.1")
    rpt.add_argument("--serve", action="store_true", help="serve it on 127.0.0.1 until Ctrl-C")
    rpt.add_argument("--port", type=int, default=8765,
                     help="port for --serve (default 8765; 0 picks a free one)")
    rpt.set_defaults(func=_workspace_report)

    priv = sub.add_parser("privacy", help="personal data: erasure requests")
    priv_sub = priv.add_subparsers(dest="privacy_command", required=True)
    er = priv_sub.add_parser(
        "erase", help="erase people everywhere (warehouse, snapshot, every kept version)",
        description="Record the people behind CRM_ID in the erasure ledger (keyed hashes only), "
                    "purge their rows from the warehouse and rewrite every kept published "
                    "version without them; later deliveries of their data are never loaded. "
                    "A CRM delete row does the same when it is ingested.")
    er.add_argument("crm_ids", nargs="+", metavar="CRM_ID", help="CRM id(s) of the person")
    er.add_argument("--ticket", help="your request's reference, stored in the ledger (an id, "
                                     "never a name or an email)")
    er.set_defaults(func=_privacy_erase)

    pub = sub.add_parser("publish", help="the published design database")
    pub_sub = pub.add_subparsers(dest="publish_command", required=True)
    show = pub_sub.add_parser("show", help="print a manifest (default: current) and queries")
    show.add_argument("version", nargs="?", type=_positive(int),
                      help="version number (default: the current one)")
    show.add_argument("--summary", action="store_true",
                      help="the version, the data it covers, rows per table and the gate's "
                           "warnings instead of the whole manifest (JSON)")
    show.set_defaults(func=_publish_show)
    lst = pub_sub.add_parser("list", help="published versions, * marks current")
    lst.set_defaults(func=_publish_list)
    rb = pub_sub.add_parser("rollback", help="repoint current to an earlier version")
    rb.add_argument("--to", type=_positive(int),
                    help="version number (default: the one before current)")
    rb.add_argument("--reason", required=True, help="why; recorded in history.jsonl")
    rb.set_defaults(func=_publish_rollback)
    fix = pub_sub.add_parser("repair", help="clean up after crashes, fix a broken current")
    fix.set_defaults(func=_publish_repair)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, RuntimeError, OSError) as exc:
        log.debug("failed", exc_info=True)
        print(f"upstream {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
