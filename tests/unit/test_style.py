"""House style is enforced, not just configured: ruff on Python, sqlfluff on the dbt SQL."""

from __future__ import annotations

import subprocess

import pytest

from ..conftest import PROJECT_DIR


@pytest.mark.slow
def test_python_and_dbt_sql_pass_the_linters():
    proc = subprocess.run(["make", "--no-print-directory", "lint"], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
