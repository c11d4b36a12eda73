"""`upstream ...`: the one command-line entry point."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from pathlib import Path

from upstream.settings import get_settings

log = logging.getLogger("upstream")


def _generate(args: argparse.Namespace) -> int:
    from upstream.generate import generate

    settings = get_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    summary = generate(out, seed=args.seed, customers_n=args.customers, days=args.days,
                       start=args.start)
    print(json.dumps({"landing_dir": str(out), "files": len(summary.files),
                      "rows": summary.rows}, indent=2))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from upstream import pipeline

    summary = pipeline.ingest(args.source, args.day, args.backfill_from)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _publish_show(args: argparse.Namespace) -> int:
    from upstream.publish import current_manifest

    settings = get_settings()
    manifest = current_manifest(settings)
    if manifest is None:
        print(f"nothing published yet under {settings.published_dir}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2))
    db = settings.published_db
    print(f"\nPublished design database (read-only for designers): {db}")
    print("Try, for example:")
    print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True)"
          ".sql('select category, size, colour, units, customer_count from design_demand "
          "order by units desc limit 10'))\"")
    return 0


def _report(args: argparse.Namespace) -> int:
    from upstream.ingest import ingestion_report

    rows = ingestion_report(get_settings())
    print(f"{'source':<8} {'files':>5} {'refused':>7} {'read':>10} {'loaded':>10} "
          f"{'quarantined':>11}")
    for r in rows:
        print(f"{r['source']:<8} {r['files']:>5} {r['refused']:>7} "
              f"{r['rows_read']:>10} {r['rows_loaded']:>10} {r['rows_quarantined']:>11}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upstream", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write deterministic sample landing files")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--customers", type=int, default=1000)
    gen.add_argument("--days", type=int, default=7)
    gen.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1))
    gen.add_argument("--out", help="landing folder (default: the settings' landing folder)")
    gen.set_defaults(func=_generate)

    ing = sub.add_parser("ingest", help="load one source's landing files for a day")
    ing.add_argument("source", choices=["crm", "web", "orders"])
    ing.add_argument("--day", type=date.fromisoformat, required=True)
    ing.add_argument("--backfill-from", dest="backfill_from", default=None)
    ing.set_defaults(func=_ingest)

    rep = sub.add_parser("report", help="ingestion totals per source from the load manifest")
    rep.set_defaults(func=_report)

    pub = sub.add_parser("publish", help="the published design database")
    pub_sub = pub.add_subparsers(dest="publish_command", required=True)
    show = pub_sub.add_parser("show", help="print the current manifest and how to query it")
    show.set_defaults(func=_publish_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
