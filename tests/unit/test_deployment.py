"""docker-compose.yml, README and CI agree with the pinned stack (no Docker engine here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer"}


def _locked_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_uses_the_locked_airflow_version_everywhere():
    version = _locked_version("apache-airflow")
    services = _compose()["services"]
    images = {name: s["image"] for name, s in services.items() if "airflow" in name}
    assert images and set(images.values()) == {f"apache/airflow:{version}-python3.11"}


def test_compose_defines_every_service_the_dags_need():
    services = _compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "airflow-init"} <= set(services)
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully")
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "deploy/pools.sh" in " ".join(services["airflow-init"]["command"])


def _env_file(path: Path) -> dict[str, str]:
    pairs = (ln.split("=", 1) for ln in path.read_text().splitlines()
             if ln.strip() and not ln.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def test_native_services_and_compose_declare_the_same_settings():
    shared = _env_file(ROOT / "deploy" / "airflow.env")
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert shared["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    services = _compose()["services"]
    for name in AIRFLOW_SERVICES | {"airflow-init"}:
        assert services[name]["env_file"][0] == "deploy/airflow.env", name
        overridden = set(services[name]["environment"]) & set(shared)
        assert not overridden, f"{name} overrides shared settings {overridden}"
    native = (ROOT / "scripts" / "services.sh").read_text()
    assert '. "$ROOT/deploy/airflow.env"' in native
    assert '"$ROOT/deploy/pools.sh"' in native
    assert (ROOT / "scripts" / "airflow-init.sh").read_text().count("deploy/pools.sh") == 1
    # host-specific settings both deployments must set for themselves
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__DAGS_FOLDER",
                "UPSTREAM_PROJECT_DIR"):
        assert key in services["airflow-scheduler"]["environment"], key
        assert key in native, key
    pools = (ROOT / "deploy" / "pools.sh").read_text()
    assert 'POOL=$("${UPSTREAM:-upstream}" settings --pool)' in pools
    assert pools.count('pools set "$POOL" 1') == 1


def test_compose_binds_only_loopback_and_keeps_secrets_out():
    text = (ROOT / "docker-compose.yml").read_text()
    for svc in _compose()["services"].values():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
    for secret in ("POSTGRES_PASSWORD", "UPSTREAM_PSEUDONYM_SECRET", "UPSTREAM_ERASURE_SECRET",
                   "AIRFLOW_JWT_SECRET"):
        assert re.search(rf"\$\{{{secret}:\?", text), f"{secret} must come from the environment"


def _first_code_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```[a-z]*\n(.*?)```", readme, re.S)
    assert block, "README has no fenced code block"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_readme_first_block_is_the_two_commands_and_ci_runs_the_second():
    lines = _first_code_block()
    assert len(lines) == 2
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines[1].strip() in [ln.strip() for ln in ci]


def test_lock_pins_the_stack():
    assert _locked_version("apache-airflow").startswith("3.3.")
    assert _locked_version("dbt-core").startswith("1.11.")
    assert _locked_version("great-expectations").startswith("1.")


def test_compose_spark_profile_runs_celery_on_redis_and_a_spark_cluster_of_the_locked_version():
    services = _compose()["services"]
    profile = {name for name, s in services.items() if "spark" in s.get("profiles", [])}
    assert profile == {"redis", "airflow-worker", "spark-master", "spark-worker"}
    # the default deployment starts none of them
    assert all("profiles" not in services[name] for name in AIRFLOW_SERVICES | {"postgres"})
    pyspark = _locked_version("pyspark")
    for name in ("spark-master", "spark-worker"):
        assert services[name]["image"] == f"apache/spark:{pyspark}-python3", name
    assert "spark://spark-master:7077" in services["spark-worker"]["command"]
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-worker"]["depends_on"]["redis"]["condition"] == "service_healthy"
    celery = _env_file(ROOT / "deploy" / "spark-celery.env")
    assert celery["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert celery["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379")
    assert celery["UPSTREAM_ENGINE"] == "spark"
    assert celery["UPSTREAM_SPARK_MASTER"] == "spark://spark-master:7077"
    # every Airflow service reads the executor file after the shared one
    for name in AIRFLOW_SERVICES | {"airflow-init", "airflow-worker"}:
        assert services[name]["env_file"] == ["deploy/airflow.env",
                                              "${AIRFLOW_EXECUTOR_ENV:-deploy/airflow.env}"], name
