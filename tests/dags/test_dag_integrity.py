"""Every DAG imports cleanly and carries the house header (docs/contributing.md, house style rule 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from upstream.dag_factories import APPROVED_TAGS
from upstream.settings import WRITER_POOL

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
WAREHOUSE_TASKS = {"ingest_catalogue", "ingest_crm", "ingest_web", "ingest_orders",
                   "ingest_intraday", "transform", "build_candidate", "gate"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAGs found"


def test_dag_id_matches_file_name(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id


def test_header_owner_retries_tags_docs(dagbag):
    for dag in dagbag.dags.values():
        assert dag.doc_md, dag.dag_id
        assert dag.tags and set(dag.tags) <= APPROVED_TAGS, dag.tags
        assert dag.max_active_runs == 1
        for t in dag.tasks:
            assert t.owner not in (None, "", "airflow"), t.task_id
            assert t.retries >= 2, t.task_id
            assert t.retry_exponential_backoff, t.task_id
            assert t.execution_timeout is not None, t.task_id
            assert t.on_failure_callback, f"{t.task_id} has no alert callback"


def test_every_expected_dag_is_there(dagbag):
    assert set(dagbag.dags) == {"upstream_daily", "upstream_publish", "upstream_ingest_catalogue",
                                "upstream_ingest_crm", "upstream_ingest_web",
                                "upstream_ingest_orders", "upstream_intraday"}


def test_no_cycles_and_gate_before_publish(dagbag):
    dag = dagbag.dags["upstream_daily"]
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("transform") < order.index("build_candidate") < order.index("gate")
    assert order.index("gate") < order.index("publish")
    for source in ("catalogue", "crm", "web", "orders"):
        assert order.index(f"ingest_{source}") < order.index("transform")


def test_on_spark_the_transform_waits_for_the_spark_slot_not_the_writers(monkeypatch):
    """UPSTREAM_ENGINE=spark: the transform opens no DuckDB file (upstream.transform), so it
    leaves the writer pool; every task that does open the warehouse keeps it."""
    from upstream.dag_factories import make_daily_dag
    from upstream.settings import SPARK_POOL

    monkeypatch.setenv("UPSTREAM_ENGINE", "spark")
    dag = make_daily_dag("the daily DAG on Spark")
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert pools["transform"] == SPARK_POOL
    assert {t for t, p in pools.items() if p == WRITER_POOL} == WAREHOUSE_TASKS - {"transform"}


def test_warehouse_tasks_share_the_one_slot_writer_pool(dagbag):
    dag = dagbag.dags["upstream_daily"]
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert {t for t, p in pools.items() if p == WRITER_POOL} == WAREHOUSE_TASKS
    for other in dagbag.dags.values():
        for t in other.tasks:
            if t.task_id.startswith(("ingest_", "transform", "build_candidate", "gate")):
                assert t.pool == WRITER_POOL, f"{other.dag_id}.{t.task_id}"


def test_data_aware_chain_ingest_assets_trigger_publish(dagbag):
    from upstream.assets import DESIGN_FEEDS, RAW

    produced = set()
    for source in RAW:
        dag = dagbag.dags[f"upstream_ingest_{source}"]
        (task,) = dag.tasks
        produced |= {a.name for a in task.outlets}
    assert produced == {a.name for a in RAW.values()}
    publish = dagbag.dags["upstream_publish"]
    assert {a.name for a in publish.timetable.asset_condition.objects} == produced
    assert DESIGN_FEEDS.name in {a.name for t in publish.tasks for a in t.outlets}


def test_intraday_runs_on_the_triggerers_asset_event_and_daily_dags_sweep_batches(dagbag):
    from airflow.providers.standard.triggers.file import BaseEventTrigger

    from upstream.assets import INTRADAY_BATCHES
    from upstream.settings import get_settings
    from upstream.triggers import ReadyBatchTrigger

    intraday = dagbag.dags["upstream_intraday"]
    assert {a.name for a in intraday.timetable.asset_condition.objects} == {INTRADAY_BATCHES.name}
    (watcher,) = INTRADAY_BATCHES.watchers
    assert isinstance(watcher.trigger, ReadyBatchTrigger)
    assert isinstance(watcher.trigger, BaseEventTrigger)  # what an AssetWatcher accepts
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "upstream.triggers.ReadyBatchTrigger"
    assert kwargs["landing_dir"] == str(get_settings().landing_dir)
    order = [t.task_id for t in intraday.topological_sort()]
    assert order.index("ingest_intraday") < order.index("anything_loaded") \
        < order.index("transform") < order.index("gate") < order.index("publish")
    for dag_id in ("upstream_daily", "upstream_publish"):
        dag = dagbag.dags[dag_id]
        assert "ingest_intraday" in dag.task_dict["transform"].upstream_task_ids, dag_id
