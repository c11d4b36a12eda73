"""The triggerer's side of intraday ingestion: :class:`ReadyBatchTrigger` waits for
micro-batches and claims them, so an AssetWatcher turns their arrival into an asset event.

A sender delivers a micro-batch as a folder ``<landing>/<source>/intraday/<name>/`` holding the
source's files, then writes ``_READY`` into it last. The trigger renames each ``_READY`` it
finds to ``_QUEUED`` (atomic: a batch is claimed once, by one trigger) and fires one event that
lists the batches it claimed. The marker keeps its modification time (when the sender wrote
it); the rename sets its change time (when it was claimed), which :mod:`upstream.intraday`
records. Only the standard library and Airflow are imported here: the triggerer loads this
module.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

INTRADAY_SOURCES = ("orders", "web", "crm")  # sources that may deliver micro-batches
READY = "_READY"  # written by the sender, last: the batch is complete
QUEUED = "_QUEUED"  # the same marker once claimed (renamed by the trigger or by a run)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def claim_ready(landing_dir: str | Path, sources: list[str]) -> list[dict[str, str]]:
    """Rename every ``<source>/intraday/*/_READY`` under ``landing_dir`` to ``_QUEUED``; return
    the batches claimed (oldest name first), each with when its marker was written and claimed.
    A marker another claimer renamed first is skipped."""
    claimed = []
    for source in sources:
        for marker in sorted(Path(landing_dir, source, "intraday").glob(f"*/{READY}")):
            queued = marker.with_name(QUEUED)
            try:
                os.rename(marker, queued)
            except FileNotFoundError:
                continue
            stat = queued.stat()
            claimed.append({"batch": f"{source}/intraday/{marker.parent.name}",
                            "marker_at": _iso(stat.st_mtime), "claimed_at": _iso(stat.st_ctime)})
    return sorted(claimed, key=lambda b: (b["batch"].rsplit("/", 1)[1], b["batch"]))


class ReadyBatchTrigger(BaseEventTrigger):
    """Fire once when at least one micro-batch is ready (see the module docstring).

    :param landing_dir: the landing root (``UPSTREAM_LANDING_DIR``).
    :param sources: the sources whose ``intraday/`` folders are watched.
    :param poke_interval: seconds between scans (``UPSTREAM_INTRADAY_POLL_SECONDS``).
    """

    def __init__(self, *, landing_dir: str, sources: list[str], poke_interval: float = 2.0):
        super().__init__()
        self.landing_dir = landing_dir
        self.sources = list(sources)
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("upstream.triggers.ReadyBatchTrigger",
                {"landing_dir": self.landing_dir, "sources": self.sources,
                 "poke_interval": self.poke_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            claimed = await asyncio.to_thread(claim_ready, self.landing_dir, self.sources)
            if claimed:
                self.log.info("claimed %d micro-batch(es): %s", len(claimed),
                              [b["batch"] for b in claimed])
                yield TriggerEvent({"batches": claimed})
                return
            await asyncio.sleep(self.poke_interval)
