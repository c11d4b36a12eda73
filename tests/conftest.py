"""Shared fixtures: a fresh project data area in tmp_path, through the real settings object."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from upstream.settings import Settings, get_settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
START = date(2026, 11, 1)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("UPSTREAM_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.setenv("UPSTREAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UPSTREAM_PUBLISHED_DIR", str(tmp_path / "published"))
    monkeypatch.setenv("UPSTREAM_PSEUDONYM_SECRET", "test-secret")
    monkeypatch.setenv("UPSTREAM_MIN_GROUP_SIZE", "2")
    return get_settings()
