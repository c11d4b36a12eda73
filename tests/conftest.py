"""Shared fixtures: a fresh project data area in tmp_path, through the real settings object."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from upstream.settings import Settings, get_settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
START = date(2026, 11, 1)
DAYS = [START + timedelta(days=i) for i in range(6)]
AS_OF = DAYS[-1] + timedelta(days=1)


def parquet_dictionary(path: Path) -> dict[str, str]:
    """A Parquet file's key-value metadata: where a feed carries its table and column
    descriptions (``description``, ``column:<name>``)."""
    return dict(duckdb.execute("select decode(key), decode(value) from parquet_kv_metadata(?)",
                               [str(path)]).fetchall())


# Fixtures that build (or copy a build of) the dbt warehouse: a test using them is slow
# (`world` and `model` are the module-scoped builds of test_real_data and test_customer_model).
_BUILT = {"built_warehouse", "warehouse", "published", "world", "model"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a dbt-built warehouse ``slow``, so the fast tier stays fast."""
    for item in items:
        if _BUILT & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("UPSTREAM_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("UPSTREAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UPSTREAM_PUBLISHED_DIR", str(tmp_path / "published"))
    monkeypatch.setenv("UPSTREAM_PSEUDONYM_SECRET", "test-secret")
    monkeypatch.setenv("UPSTREAM_MIN_GROUP_SIZE", "2")
    return get_settings()


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """Messy sample data (every knob at its default), ingested and dbt-built once per session.

    Tests get a copy (see the ``warehouse`` fixtures); the original stays untouched.
    """
    from upstream.generate import generate
    from upstream.ingest import ingest_source
    from upstream.transform import run_dbt

    root = tmp_path_factory.mktemp("built")
    built = Settings(project_dir=PROJECT_DIR, data_dir=root / "data",
                     published_dir=root / "published", max_reject_rate=0.05, reject_floor=10,
                     min_group_size=2, pseudonym_secret="test-secret", demand_window_days=28)
    generate(built.landing_dir, seed=11, sf=0.002, days=len(DAYS))
    for source in ("catalogue", "crm", "web", "orders"):
        ingest_source(built, source, DAYS)
    run_dbt(built, ["build"], as_of=AS_OF)
    return built.warehouse_path


@pytest.fixture
def warehouse(settings: Settings, built_warehouse: Path) -> Settings:
    """Settings whose warehouse is a fresh copy of the session's built warehouse."""
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(built_warehouse, settings.warehouse_path)
    # dbt's target too: the published dictionary comes from its manifest
    shutil.copytree(built_warehouse.parents[1] / "dbt" / "target", settings.dbt_target_dir)
    return settings
