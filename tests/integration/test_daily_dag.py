"""The daily DAG through real Airflow (`airflow dags test`) on tiny generated data.

Expected values are computed independently with pandas from the generated landing files.
"""

from __future__ import annotations

import email
import hashlib
import json
import shutil
import socketserver
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.integration.project import AIRFLOW, ROOT, airflow_project
from upstream.generate import Messiness, generate

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
K = 3
CELL = ["category", "size", "colour", "material", "fit"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagrun")
    env = airflow_project(root, UPSTREAM_PSEUDONYM_SECRET=SECRET, UPSTREAM_MIN_GROUP_SIZE=str(K))
    generate(root / "data" / "landing", seed=21, sf=0.003, days=3,
             mess=Messiness.clean().with_(crm_deletions=0.001))
    return env, root


def _dags_test(env, run_date: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [AIRFLOW, "dags", "test", "upstream_daily", run_date, "-c",
         json.dumps({"mode": "range", "range_start": "2026-11-01", "range_end": "2026-11-03"})],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)


def _published(root: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(root / "published" / "design.duckdb"), read_only=True)
    try:
        return {t: con.table(t).df() for t in ("customer_needs", "design_demand", "publication")}
    finally:
        con.close()


def _expected(landing: Path, warehouse: Path):
    """Needs per person and demand cells from the landing files.

    Who is whom comes from the warehouse's identity map (its rules have their own exact tests in
    tests/unit/test_customer_model.py); everything else is recomputed here from the files.
    """
    con = duckdb.connect(str(warehouse), read_only=True)
    person = dict(con.execute(
        "select identifier, person_id from intermediate.int_identity__map").fetchall())
    con.close()
    customers = pd.concat(
        [pd.read_csv(p) for p in sorted(landing.glob("crm/*/crm_customers_*.csv"))]
        + [pd.read_csv(p, sep=";", encoding="latin-1")
           for p in sorted(landing.glob("crm/*/legacy_customers_*.csv"))])
    versions = customers
    customers = customers.sort_values("updated_at", kind="stable").groupby("crm_id").tail(1)
    erased = customers.loc[customers["op"] == "delete", "crm_id"]
    customers = customers[customers["op"] == "upsert"]
    # an erased customer's orders count nowhere: their CRM id, and guest orders under an email
    # any version of their record had (unless a living record holds it now)
    emails = versions["email"].str.strip().str.lower()
    erased_emails = set(emails[versions["crm_id"].isin(erased)]) - set(
        customers["email"].str.strip().str.lower())
    customers["person"] = ("crm:" + customers["crm_id"]).map(person)
    consent = customers.groupby("person")["consent_profiling"].all()  # the strictest wins
    orders = pd.concat(pd.read_csv(p) for p in sorted(landing.glob("orders/*/orders_*.csv")))
    lines = pd.concat(pd.read_csv(p)
                      for p in sorted(landing.glob("orders/*/order_lines_*.csv")))
    orders = orders[~orders["crm_id"].isin(erased)
                    & ~orders["guest_email"].str.strip().str.lower().isin(erased_emails)]
    identifier = ("crm:" + orders["crm_id"]).fillna("guest_order:" + orders["order_id"])
    orders["person"] = identifier.map(person).fillna(identifier)
    bought = lines.merge(orders, on="order_id")
    bought["amount"] = bought["quantity"] * bought["unit_price"]
    per_person = bought.groupby("person").agg(
        order_count=("order_id", "nunique"), revenue=("amount", "sum"))
    needs = pd.DataFrame({"person": consent[consent].index}).merge(
        per_person, left_on="person", right_index=True, how="left").fillna(0)
    needs["customer_key"] = [hashlib.sha256(f"{SECRET}|{c}".encode()).hexdigest()
                             for c in needs["person"]]
    cells = bought.fillna({"colour": "unknown", "material": "unknown", "fit": "unknown"}).groupby(
        CELL).agg(units=("quantity", "sum"), buyers=("person", "nunique")).reset_index()
    return needs, cells


def test_daily_dag_publishes_what_the_landing_files_say(env):
    env, root = env
    run = _dags_test(env, "2026-11-04")  # the run at 11-04 covers 11-03; range 11-01..11-03
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    got = _published(root)
    needs, cells = _expected(root / "data" / "landing",
                             root / "data" / "warehouse" / "upstream.duckdb")

    assert len(got["customer_needs"]) == len(needs)
    merged = needs.merge(got["customer_needs"], on="customer_key", suffixes=("_exp", ""))
    assert len(merged) == len(needs), "every consenting customer appears under its keyed hash"
    # published coarsened (quasi-identifiers): where dates and counts are shown in full, they
    # are the capped order count and the revenue band of what the files say
    full = merged[merged["profile_detail"] == "full"]
    coarse = merged[merged["profile_detail"] == "coarse"]
    assert len(full) > 0 and len(coarse) > 0, merged["profile_detail"].value_counts()
    # (prospects have no order count: null, not 0)
    assert (full["order_count"].fillna(0) == full["order_count_exp"].clip(upper=10)).all()
    assert (coarse["order_count"].fillna(0) == coarse["order_count_exp"].clip(upper=2)).all()
    bands = pd.cut(full["revenue"], [-1, 99.995, 249.995, 499.995, 999.995, float("inf")],
                   labels=["<100", "100-250", "250-500", "500-1000", "1000+"]).astype(str)
    buyers = full["order_count_exp"] > 0
    assert buyers.any() and (full.loc[buyers, "revenue_band"] == bands[buyers]).all()

    demand = got["design_demand"].merge(cells, on=CELL, how="left", suffixes=("", "_exp"))
    assert (demand["units"] == demand["units_exp"].fillna(0)).all(), "units per published cell"
    assert (demand["customer_count"] >= K).all()
    assert (demand["customer_count"] >= demand["buyers"].fillna(0)).all()
    must_show = cells[cells["buyers"] >= K].merge(got["design_demand"], on=CELL, how="left")
    assert len(must_show) > 0 and must_show["customer_count"].notna().all(), (
        "every cell bought by at least k people is published")

    pub = got["publication"].iloc[0]
    assert pub["version"] == 1 and str(pub["interval_start"])[:10] == "2026-11-03"
    manifest = json.loads((root / "published" / "manifest.json").read_text())
    assert {k: manifest["row_counts"][k] for k in ("customer_needs", "design_demand")} == {
        "customer_needs": len(needs), "design_demand": len(got["design_demand"])}
    assert set(manifest["row_counts"]) == {"customer_needs", "design_customer_briefs",
                                           "design_demand", "design_demand_weekly",
                                           "design_fit_by_size", "design_fit_issues",
                                           "design_unmet_demand", "size_scale"}
    assert (root / "published" / "current" / "report" / "index.html").exists()
    assert (root / "published" / "current" / "dbt_docs" / "index.html").exists()
    assert manifest["gate"]["success"] is True


def test_second_run_for_the_same_day_changes_no_data(env):
    env, root = env
    before = _published(root)
    wh = root / "data" / "warehouse" / "upstream.duckdb"
    count = "select count(*) from raw._load_manifest"
    loads_before = duckdb.connect(str(wh), read_only=True).execute(count).fetchone()
    run = _dags_test(env, "2026-11-04")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    after = _published(root)
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute(count).fetchone() == loads_before, "no file was loaded twice"
    con.close()
    for table in ("customer_needs", "design_demand"):
        key = CELL if table == "design_demand" else ["customer_key"]
        pd.testing.assert_frame_equal(
            before[table].sort_values(key).reset_index(drop=True),
            after[table].sort_values(key).reset_index(drop=True))
    assert after["publication"].iloc[0]["version"] == 2


def test_a_day_before_the_history_start_is_refused_with_a_message(env):
    """Airflow would run no task for a day before a DAG's start_date and call it a success;
    Upstream's DAGs have none, so the check refuses the day and says why."""
    env, root = env
    run = subprocess.run([AIRFLOW, "dags", "test", "upstream_daily", "2026-10-21"],
                         env={**env, "UPSTREAM_HISTORY_START": "2026-11-01"}, capture_output=True,
                         text=True, cwd=ROOT, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert ("the run's day 2026-10-20 is before the history start 2026-11-01 "
            "(UPSTREAM_HISTORY_START)") in output


@pytest.fixture
def smtp_server():
    """A minimal SMTP server on 127.0.0.1 that keeps what it receives (envelope and message)."""
    received: list[dict] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"220 127.0.0.1 ESMTP test\r\n")
            mail: dict = {"rcpt": [], "data": []}
            in_data = False
            for line in self.rfile:
                if in_data:
                    if line.rstrip(b"\r\n") == b".":
                        in_data = False
                        received.append({"rcpt": mail["rcpt"],
                                         "message": email.message_from_bytes(b"".join(mail["data"]))})
                        self.wfile.write(b"250 OK\r\n")
                    else:
                        mail["data"].append(line[1:] if line.startswith(b"..") else line)
                    continue
                verb = line[:4].upper()
                if verb == b"RCPT":
                    mail["rcpt"].append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                if verb == b"DATA":
                    in_data = True
                    self.wfile.write(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def test_failed_gate_fails_the_run_and_keeps_the_publication(env, tmp_path, smtp_server):
    env, root = env
    port, mails = smtp_server
    env = {**env, "UPSTREAM_ALERT_EMAIL": "design-oncall@upstream.example",
           "AIRFLOW__SMTP__SMTP_HOST": "127.0.0.1", "AIRFLOW__SMTP__SMTP_PORT": str(port),
           "AIRFLOW__SMTP__SMTP_STARTTLS": "False", "AIRFLOW__SMTP__SMTP_SSL": "False",
           "AIRFLOW__SMTP__SMTP_MAIL_FROM": "upstream@upstream.example",
           "AIRFLOW__SMTP__SMTP_RETRY_LIMIT": "1"}
    db = root / "published" / "design.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    # Same code, one stricter suite: customer_needs may hold at most one row.
    project = tmp_path / "project"
    shutil.copytree(ROOT / "dbt_project", project / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(ROOT / "expectations", project / "expectations")
    suite_path = project / "expectations" / "customer_needs.json"
    suite = json.loads(suite_path.read_text())
    suite["expectations"][0]["kwargs"]["max_value"] = 1
    suite_path.write_text(json.dumps(suite))
    run = _dags_test({**env, "UPSTREAM_PROJECT_DIR": str(project)}, "2026-11-04")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "gate failed" in output
    assert "customer_needs: expect_table_row_count_to_be_between" in output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert json.loads((root / "published" / "manifest.json").read_text())["version"] == 2
    # the failure callback mailed the on-call address through Airflow's SMTP settings
    gate_mails = [m for m in mails if "gate failed" in m["message"]["Subject"]]
    assert gate_mails, [m["message"]["Subject"] for m in mails] or output[-3000:]
    mail = gate_mails[0]
    assert mail["rcpt"] == ["design-oncall@upstream.example"]
    assert mail["message"]["Subject"] == "[upstream] upstream_daily.gate failed"
    body = mail["message"].get_payload(0).get_payload(decode=True).decode()
    assert "customer_needs: expect_table_row_count_to_be_between" in body


UPSTREAM = str(Path(sys.executable).with_name("upstream"))
TASKS = ["ingest_catalogue", "ingest_crm", "ingest_web", "ingest_orders", "ingest_intraday",
         "transform", "build_candidate", "gate", "publish"]


def test_run_dag_shows_a_line_per_task_and_a_summary(env, tmp_path):
    """What `make run` prints: a line per task as it finishes, then what was published."""
    env, root = env
    log = tmp_path / "run.log"
    run = subprocess.run([UPSTREAM, "run-dag", "2026-11-04", "--conf", json.dumps(
        {"mode": "range", "range_start": "2026-11-01", "range_end": "2026-11-03"}),
        "--log", str(log)], env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    for task in TASKS:
        (line,) = [ln for ln in lines if ln.split()[:1] == [task]]
        assert " s  " in line, line
    ingest = next(ln for ln in lines if ln.startswith("  ingest_web"))
    assert "loaded" in ingest and "quarantined" in ingest
    assert any(ln.startswith("done in ") and "published version" in ln for ln in lines)
    assert any("designers' report" in ln and ln.rstrip().endswith("report/index.html")
               for ln in lines)
    assert "Traceback" not in run.stdout
    # dbt's lines reach the task log as dbt prints them, not all at the task's end
    stamps = [ln.split()[0] for ln in log.read_text().splitlines() if "dbt |" in ln]
    times = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps
             if s[:2] == "20"]
    assert len(times) > 20 and times == sorted(times)
    assert (times[-1] - times[0]).total_seconds() > 2, (times[0], times[-1])


def test_run_dag_ends_a_failure_with_the_tasks_own_message(env, tmp_path):
    env, root = env
    run = subprocess.run([UPSTREAM, "run-dag", "2026-10-21", "--log", str(tmp_path / "x.log")],
                         env={**env, "UPSTREAM_HISTORY_START": "2026-11-01"},
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode != 0
    assert run.stdout.splitlines()[-1].strip() == (
        "check_params failed: InvalidParams: the run's day 2026-10-20 is before the history "
        "start 2026-11-01 (UPSTREAM_HISTORY_START): Upstream loads nothing earlier. To load "
        "older data, set UPSTREAM_HISTORY_START to its first day")
    assert "Traceback" not in run.stdout
