import os
import tempfile

# Airflow reads its configuration on import: give it a throw-away home, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="upstream-airflow-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
