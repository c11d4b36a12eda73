"""The native deployment (scripts/services.sh) driven from Python: an environment whose services
listen on free loopback ports with their own state folder, and a client of Airflow's REST API
v2 for it. The system tests and ``upstream bench-intraday`` start and drive it through these.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def services_env(state: Path, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with the services' state under ``state`` and every listener on a free port
    (PostgreSQL, the API, the worker's and triggerer's log servers)."""
    return {**base, "UPSTREAM_SERVICES_DIR": str(state),
            "UPSTREAM_PG_PORT": str(free_port()), "UPSTREAM_API_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}


class AirflowApi:
    """Airflow's REST API v2 as user ``admin`` (a JWT from the simple auth manager)."""

    def __init__(self, base: str, password: str):
        self.base, self.token = base, None
        self.token = self.call("POST", "/auth/token",
                               {"username": "admin", "password": password})["access_token"]

    @classmethod
    def for_services(cls, env: Mapping[str, str]):
        """The API of the services started with ``env`` (see :func:`services_env`)."""
        passwords = Path(env["UPSTREAM_SERVICES_DIR"]) / "simple_auth_manager_passwords.json"
        return cls(f"http://127.0.0.1:{env['UPSTREAM_API_PORT']}",
                   json.loads(passwords.read_text())["admin"])

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def wait_for(self, path: str, timeout: float = 180) -> None:
        """Until ``path`` answers (a DAG the DAG processor has not parsed yet answers 404)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get(path)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
