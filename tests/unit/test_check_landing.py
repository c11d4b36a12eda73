"""`upstream check-landing`: per-file verdicts and unknown vocabulary, and nothing written."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from upstream.cli import main
from upstream.generate import Messiness, generate

DAY = date(2026, 11, 2)


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_check_landing_reports_every_file_and_writes_nothing(settings, tmp_path, capsys):
    landing = tmp_path / "delivery"
    generate(landing, sf=0.001, days=2, mess=Messiness.clean())
    orders = landing / "orders" / DAY.isoformat()
    # a foreign shop's extras: an order in an unknown currency, a country name, a file no
    # contract claims
    path = orders / "orders_20261102.csv"
    lines = path.read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:4] + ["XYZ"] + lines[1].split(",")[5:])
    lines[2] = ",".join(lines[2].split(",")[:6] + ["Narnia"])
    path.write_text("\n".join(lines) + "\n")
    (orders / "notes.txt").write_text("call me\n")
    before = _snapshot(landing)
    data_before = _snapshot(settings.data_dir) if settings.data_dir.exists() else {}

    code = main(["check-landing", str(landing), "--day", DAY.isoformat()])
    out = capsys.readouterr().out

    assert code == 1, out  # the unclaimed file
    assert _snapshot(landing) == before, "check-landing changed the delivery"
    data_after = _snapshot(settings.data_dir) if settings.data_dir.exists() else {}
    assert data_after == data_before, "check-landing wrote into the project's data"
    for source, name in [("catalogue", "products_20261102.csv"),
                         ("crm", "crm_customers_20261102.csv"),
                         ("web", "events_20261102.ndjson.gz"),
                         ("orders", "orders_20261102.csv"),
                         ("orders", "returns_20261102.csv")]:
        assert f"{source}/2026-11-02/{name}" in out, name
    assert "quarantined: unknown_currency x1" in out
    assert "notes.txt: no contract of source 'orders' matches this file" in out
    assert "unknown_currency             XYZ x1" in out
    assert "unknown_country              Narnia x1" in out
    assert "verdict: not ready" in out


def test_check_landing_of_a_clean_day_is_ready(settings, tmp_path, capsys):
    landing = tmp_path / "delivery"
    generate(landing, sf=0.001, days=1, mess=Messiness.clean())
    code = main(["check-landing", str(landing), "--no-vocabulary"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "refused 0" in out and "verdict: ready to load" in out
