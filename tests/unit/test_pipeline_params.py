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
])
def test_contradictory_params_are_refused(params, message):
    with pytest.raises(InvalidParams, match=message):
        check_params(params, DAY)
