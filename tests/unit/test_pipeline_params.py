"""Run-mode params: what each mode loads, and contradictions refused with a clear message."""

from __future__ import annotations

from datetime import date

import pytest

from upstream.generate import Messiness, generate
from upstream.pipeline import InvalidParams, check_params, days_to_load

DAY = date(2026, 11, 3)


def test_daily_loads_the_runs_day(settings):
    assert days_to_load(settings, "web", DAY, {}) == [DAY]


def test_range_loads_every_day_in_it(settings):
    days = days_to_load(settings, "web", DAY, {"mode": "range", "range_start": "2026-10-30",
                                               "range_end": "2026-11-02"})
    assert days == [date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]


def test_full_refresh_loads_every_landing_day_up_to_the_run(settings):
    generate(settings.landing_dir, sf=0.001, days=5, mess=Messiness.clean())
    assert days_to_load(settings, "crm", DAY, {"mode": "full_refresh"}) == [
        date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]


@pytest.mark.parametrize(("params", "message"), [
    ({"mode": "weekly"}, "must be one of"),
    ({"mode": "range", "range_start": "2026-11-01"}, "needs range_start and range_end"),
    ({"mode": "range", "range_start": "2026-11-05", "range_end": "2026-11-01"}, "is after"),
    ({"mode": "daily", "range_start": "2026-11-01"}, "only apply to mode 'range'"),
    ({"mode": "range", "range_start": "1 Nov", "range_end": "2026-11-01"}, "is not a date"),
    ({"mode": "range", "range_start": "2026-11-01", "range_end": "2026-11-09"},
     "is after the run's day"),
])
def test_contradictory_params_are_refused(params, message):
    with pytest.raises(InvalidParams, match=message):
        check_params(params, DAY)


def test_publish_as_of_follows_the_newest_ingested_day():
    from datetime import datetime
    from types import SimpleNamespace

    from upstream.pipeline import as_of_for_publish

    events = {"crm": [SimpleNamespace(extra={"last_day": "2026-11-02"})],
              "web": [SimpleNamespace(extra={"last_day": "2026-11-03"}),
                      SimpleNamespace(extra={})]}
    now = datetime(2026, 11, 26, 4)
    assert as_of_for_publish(now, events) == (date(2026, 11, 4), False)
    assert as_of_for_publish(now, {}) == (date(2026, 11, 26), True)


def test_transform_without_a_warehouse_says_what_to_do(settings):
    from upstream.pipeline import transform
    from upstream.transform import TransformFailed

    with pytest.raises(TransformFailed, match="does not exist yet: nothing has been ingested"):
        transform(DAY, {}, settings)


def test_a_day_before_the_history_start_is_refused(settings, monkeypatch):
    monkeypatch.setenv("UPSTREAM_HISTORY_START", "2026-11-02")
    from upstream.settings import get_settings

    late_start = get_settings()
    with pytest.raises(InvalidParams, match=r"2026-11-01 is before the history start 2026-11-02 "
                                            r"\(UPSTREAM_HISTORY_START\)"):
        check_params({}, date(2026, 11, 1), late_start)
    with pytest.raises(InvalidParams, match="range_start 2026-11-01 is before the history start"):
        check_params({"mode": "range", "range_start": "2026-11-01", "range_end": "2026-11-03"},
                     DAY, late_start)
    assert check_params({}, date(2026, 11, 2), late_start)["mode"] == "daily"


def test_full_refresh_starts_at_the_history_start(settings, monkeypatch):
    generate(settings.landing_dir, sf=0.001, days=5, mess=Messiness.clean())
    monkeypatch.setenv("UPSTREAM_HISTORY_START", "2026-11-02")
    from upstream.settings import get_settings

    assert days_to_load(get_settings(), "crm", DAY, {"mode": "full_refresh"}) == [
        date(2026, 11, 2), date(2026, 11, 3)]


def test_history_reaches_back_by_default(settings):
    assert days_to_load(settings, "web", date(2002, 1, 3), {}) == [date(2002, 1, 3)]


def test_a_run_without_a_logical_date_covers_the_day_before_it_runs():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from upstream.pipeline import run_interval

    run = SimpleNamespace(run_after=datetime(2026, 11, 27, 14, 30, tzinfo=UTC))
    assert run_interval(None, None, run) == (date(2026, 11, 26), date(2026, 11, 27))
    start, end = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
    assert run_interval(start, end, run) == (date(2026, 11, 3), date(2026, 11, 4))
    with pytest.raises(InvalidParams, match="trigger it with a logical_date"):
        run_interval(None, None, SimpleNamespace())


def test_both_dags_resolve_first_day_as_of_and_params_through_one_shape():
    """transform/build_candidate are written once (dag_factories.transform_and_publish); the
    two resolvers give them (first day, as-of date, params) from an Airflow context."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from upstream.pipeline import daily_scope, publish_scope

    daily = {"data_interval_start": datetime(2026, 11, 3, tzinfo=UTC),
             "data_interval_end": datetime(2026, 11, 4, tzinfo=UTC),
             "dag_run": SimpleNamespace(), "params": {"mode": "full_refresh"}}
    assert daily_scope(daily) == (date(2026, 11, 3), date(2026, 11, 4), {"mode": "full_refresh"})
    triggered = {"logical_date": datetime(2026, 11, 26, 4, tzinfo=UTC),
                 "triggering_asset_events": {
                     "web": [SimpleNamespace(extra={"last_day": "2026-11-24"})]}}
    assert publish_scope(triggered) == (date(2026, 11, 24), date(2026, 11, 25), {"mode": "daily"})
    timed = {"logical_date": datetime(2026, 11, 26, 4, tzinfo=UTC), "triggering_asset_events": {}}
    assert publish_scope(timed) == (date(2026, 11, 25), date(2026, 11, 26),
                                    {"mode": "full_refresh"})
