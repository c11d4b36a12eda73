"""Alerts for failed tasks (a failed gate included): a structured log line, and when configured
a JSON POST to ``UPSTREAM_ALERT_WEBHOOK`` and a mail to ``UPSTREAM_ALERT_EMAIL`` through Airflow's
SMTP settings. An alert that cannot be delivered is logged, never raised: it must not mask the
failure it reports.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from upstream.settings import Settings, get_settings

log = logging.getLogger(__name__)


def alert_payload(context: dict[str, Any]) -> dict[str, Any]:
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    return {
        "event": "upstream.task_failed",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": str(context.get("logical_date")),
        "error_type": type(exc).__name__ if exc else None,
        "error": str(exc)[:4000] if exc else None,
    }


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0) -> bool:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError) as exc:
        log.error("alert webhook %s failed: %s", url, exc)
        return False
    if not ok:
        log.error("alert webhook %s answered %s", url, response.status)
    return ok


def send_mail(to: str, payload: dict[str, Any]) -> bool:
    try:
        from airflow.utils.email import send_email

        subject = f"[upstream] {payload['dag_id']}.{payload['task_id']} failed"
        body = "<pre>" + json.dumps(payload, indent=2).replace("<", "&lt;") + "</pre>"
        send_email(to=[a.strip() for a in to.split(",")], subject=subject, html_content=body)
        return True
    except Exception as exc:  # noqa: BLE001 - delivery problems must not hide the failure
        log.error("alert mail to %s failed: %s", to, exc)
        return False


def notify(payload: dict[str, Any], settings: Settings | None = None) -> dict[str, bool]:
    settings = settings or get_settings()
    log.error("ALERT %s", json.dumps(payload, sort_keys=True))
    delivered = {}
    if settings.alert_webhook:
        delivered["webhook"] = post_webhook(settings.alert_webhook, payload)
    if settings.alert_email:
        delivered["email"] = send_mail(settings.alert_email, payload)
    return delivered


def on_failure(context: dict[str, Any]) -> None:
    """Airflow ``on_failure_callback``."""
    notify(alert_payload(context))
