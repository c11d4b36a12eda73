"""Vocabularies are seeds: one home each, read by ingest contracts as by dbt."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from upstream.contracts import ContractError, contracts_for, seed_values, with_vocabularies

from ..conftest import PROJECT_DIR

SEEDS = PROJECT_DIR / "dbt_project" / "seeds"


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "build_countries_seed", PROJECT_DIR / "scripts" / "build_countries_seed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_country_seed_is_what_pycountry_builds():
    script = _load_script()
    assert (SEEDS / "countries.csv").read_text(encoding="utf-8") == script.build(), (
        "seeds/countries.csv is stale: run .venv/bin/python scripts/build_countries_seed.py")


@pytest.mark.parametrize(("raw", "code"), [
    ("Deutschland", "DE"), ("Allemagne", "DE"), ("united states", "US"), ("U.S.A.", "US"),
    (" ÖSTERREICH ", "AT"), ("Großbritannien", "GB"), ("Vereinigtes Königreich", "GB"),
    ("U.K.", "GB"), ("Polska", "PL"), ("Sverige", "SE"), ("fr", "FR"), ("CHE", "CH"),
])
def test_country_aliases_clean_like_the_sql_macro(raw, code):
    script = _load_script()
    aliases = dict(line.split(",") for line in (SEEDS / "countries.csv").read_text(
        encoding="utf-8").splitlines()[1:])
    assert aliases.get(script.clean(raw)) == code


def test_currency_check_reads_the_fx_seed(tmp_path: Path):
    (orders,) = [c for c in contracts_for("orders") if c.table == "erp_orders"]
    resolved = with_vocabularies(orders, SEEDS)
    (check,) = [k for k in resolved.checks if k.reason == "unknown_currency"]
    currencies = seed_values(SEEDS, "fx_rates", "currency_code")
    assert {"EUR", "USD", "GBP", "CHF", "SEK", "DKK", "NOK", "PLN", "CZK", "JPY", "CAD",
            "AUD"} <= set(currencies)
    assert "{seed:" not in check.valid_when and "'JPY'" in check.valid_when
    assert "dbt_project/seeds/fx_rates.csv" in check.hint
    # a shop that adds a currency to the seed gets it accepted without touching code
    (tmp_path / "fx_rates.csv").write_text("currency_code,units_per_eur\nEUR,1\nISK,150\n")
    assert "'ISK'" in [k for k in with_vocabularies(orders, tmp_path).checks
                       if k.reason == "unknown_currency"][0].valid_when


def test_a_check_naming_a_missing_seed_says_so(tmp_path: Path):
    (orders,) = [c for c in contracts_for("orders") if c.table == "erp_orders"]
    with pytest.raises(ContractError, match="fx_rates.csv does not exist"):
        with_vocabularies(orders, tmp_path)
    bad = replace(orders, checks=(replace(orders.checks[0], valid_when="x in {seed:fx_rates.nope}"),))
    with pytest.raises(ContractError, match="column 'nope'"):
        with_vocabularies(bad, SEEDS)
