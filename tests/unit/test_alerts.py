"""Alert delivery against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from upstream.alerts import alert_payload, notify


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "type": self.headers["Content-Type"],
                             "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/upstream", received
    server.shutdown()


def _context():
    ti = SimpleNamespace(dag_id="upstream_daily", task_id="gate", run_id="manual__1",
                         try_number=1)
    return {"task_instance": ti, "exception": RuntimeError("gate failed: design_demand ..."),
            "logical_date": "2026-11-05T00:00:00+00:00"}


def test_failed_task_posts_a_structured_alert_to_the_webhook(settings, webhook, caplog):
    url, received = webhook
    delivered = notify(alert_payload(_context()), replace(settings, alert_webhook=url))
    assert delivered == {"webhook": True}
    (call,) = received
    assert call["path"] == "/hooks/upstream" and call["type"] == "application/json"
    assert call["body"]["task_id"] == "gate"
    assert call["body"]["error"].startswith("gate failed: design_demand")
    assert any("ALERT" in r.message and '"dag_id": "upstream_daily"' in r.message
               for r in caplog.records)


def test_unreachable_webhook_is_logged_not_raised(settings, caplog):
    dead = replace(settings, alert_webhook="http://127.0.0.1:9/nothing-listens-here")
    assert notify(alert_payload(_context()), dead) == {"webhook": False}
    assert any("alert webhook" in r.message and "failed" in r.message for r in caplog.records)
