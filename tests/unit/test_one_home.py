"""Every default and every rule has one home: the settings table (``upstream.settings.SETTINGS``)
that docs, ``.env.example``, dbt and the deployment follow; the landing contracts that the dbt
sources are generated from; the pool name; and every file the docs, tests or configs cite exists."""

from __future__ import annotations

import re

from upstream.settings import DEFAULTS, SETTINGS, WRITER_POOL, get_settings, markdown_table

from ..conftest import PROJECT_DIR


def test_configuration_docs_table_is_the_settings_table():
    docs = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    assert markdown_table() in docs, "regenerate: python -c 'from upstream.settings import " \
                                     "markdown_table; print(markdown_table())'"


def test_env_example_lists_every_setting_with_its_default():
    lines = [ln for ln in (PROJECT_DIR / ".env.example").read_text().splitlines()
             if ln and not ln.startswith("#")]
    example = dict(ln.split("=", 1) for ln in lines)
    assert example == DEFAULTS


def test_defaults_are_what_get_settings_returns(monkeypatch):
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.setenv("UPSTREAM_PROJECT_DIR", str(PROJECT_DIR))
    monkeypatch.chdir(PROJECT_DIR / "docs")  # no .env of a developer's in the way
    settings = get_settings()
    assert settings.max_reject_rate == float(DEFAULTS["UPSTREAM_MAX_REJECT_RATE"])
    assert settings.min_group_size == int(DEFAULTS["UPSTREAM_MIN_GROUP_SIZE"])
    assert settings.demand_window_days == int(DEFAULTS["UPSTREAM_DEMAND_WINDOW_DAYS"])
    assert settings.history_start.isoformat() == DEFAULTS["UPSTREAM_HISTORY_START"]
    assert settings.dbt_env["UPSTREAM_MIN_GROUP_SIZE"] == DEFAULTS["UPSTREAM_MIN_GROUP_SIZE"]


def test_no_other_file_carries_a_default_of_its_own():
    dbt = (PROJECT_DIR / "dbt_project" / "dbt_project.yml").read_text()
    for s in SETTINGS:  # (UPSTREAM_AS_OF_DATE is the run's date, set per run, not a setting)
        assert f"env_var('{s.env}'," not in dbt, f"{s.env}: dbt takes the setting, not a default"
    airflow_env = (PROJECT_DIR / "deploy" / "airflow.env").read_text()
    assert not re.search(r"^UPSTREAM_", airflow_env, re.M)


def test_the_pool_name_is_spelled_once():
    hits = []
    for path in PROJECT_DIR.rglob("*"):
        if (path.is_file() and path.suffix in {".py", ".sh", ".yml", ".yaml", ".env", ""}
                and not any(p.startswith(".") or p in ("node_modules", "data", "tests", "published")
                            for p in path.relative_to(PROJECT_DIR).parts)):
            try:
                if WRITER_POOL in path.read_text():
                    hits.append(path.relative_to(PROJECT_DIR).as_posix())
            except (UnicodeDecodeError, OSError):
                continue
    assert hits == ["include/upstream/settings.py"]


CITED = re.compile(r"(?<![\w/.-])((?:docs|dbt_project|include|deploy|scripts|expectations|tests)"
                   r"/[\w./-]+\.(?:md|py|yml|yaml|sh|json|csv|sql))")


def test_every_file_a_doc_test_or_config_cites_exists():
    sources = [PROJECT_DIR / "README.md", PROJECT_DIR / ".env.example",
               PROJECT_DIR / "dbt_project" / ".sqlfluff", PROJECT_DIR / "Makefile",
               PROJECT_DIR / "docker-compose.yml", PROJECT_DIR / ".pre-commit-config.yaml",
               *(PROJECT_DIR / "docs").glob("*.md"), *(PROJECT_DIR / "tests").rglob("*.py")]
    missing = {}
    for source in sources:
        for cited in CITED.findall(source.read_text()):
            if "<" in cited or "*" in cited or not (PROJECT_DIR / cited).exists():
                if "<" not in cited and "*" not in cited:
                    missing.setdefault(source.name, []).append(cited)
    assert not missing, missing
    # the house style, cited by tests and configs, is in the repository
    assert (PROJECT_DIR / "docs" / "contributing.md").exists()


def test_pre_commit_runs_ruff_sqlfluff_and_the_private_key_check(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    config = yaml.safe_load((PROJECT_DIR / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert {"ruff", "sqlfluff", "detect-private-key"} <= set(hooks)
    for hook in hooks.values():
        assert (PROJECT_DIR / hook["entry"].split()[0]).exists(), hook["entry"]
    key = tmp_path / "leak.txt"
    key.write_text("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...\n")
    detect = Path(sys.executable).with_name("detect-private-key")
    assert subprocess.run([detect, str(key)], capture_output=True).returncode == 1
    assert subprocess.run([detect, str(PROJECT_DIR / "README.md")],
                          capture_output=True).returncode == 0


def test_dbt_sources_are_generated_from_the_contracts():
    from upstream.cli import main

    assert main(["contracts"]) == 0, "run: upstream contracts --write-dbt-sources"


def test_a_contract_change_shows_in_the_generated_source(monkeypatch):
    from dataclasses import replace

    from upstream import contracts

    real = contracts.contracts_for("web")
    renamed = [replace(c, columns=tuple(replace(col, description="Renamed in a test.")
                                        if col.name == "sku" else col for col in c.columns))
               for c in real]
    monkeypatch.setattr(contracts, "contracts_for", lambda source: renamed)
    assert "description: Renamed in a test." in contracts.dbt_source_yml("web",
                                                                         freshness_days=2)
