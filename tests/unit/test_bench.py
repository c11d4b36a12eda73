"""The benchmark's reading of dbt's log: each model's time within one DAG run."""

from __future__ import annotations

from upstream.bench import _dbt_models

LINE = ("\x1b[0m02:35:01.502202 [info ] [Thread-1 (]: {n} of 201 OK created sql {kind} model "
        "{name} {dots} [OK in {s}s]\n")


def test_model_times_are_read_from_the_run_s_part_of_the_log_slowest_first(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text(LINE.format(n=75, kind="incremental", name="intermediate.int_web__events",
                               dots="........", s="59.12"))
    offset = log.stat().st_size
    with log.open("a") as fh:
        fh.write(LINE.format(n=50, kind="view", name="staging.stg_web__events", dots="....",
                             s="0.02"))
        fh.write("\x1b[0m02:35:01.6 [debug] [Thread-1 (]: SQL status: OK in 0.219 seconds\n")
        fh.write(LINE.format(n=105, kind="incremental",
                             name="intermediate.int_web__events_attributed", dots="", s="13.36"))
        fh.write(LINE.format(n=116, kind="table", name="marts.customer_needs", dots="..",
                             s="6.96"))
    assert list(_dbt_models(log, offset).items()) == [
        ("intermediate.int_web__events_attributed", 13.36), ("marts.customer_needs", 6.96),
        ("staging.stg_web__events", 0.02)]
    assert _dbt_models(tmp_path / "missing.log", 0) == {}
