"""Airflow Assets, defined once: ingest emits raw assets, publish emits the design feeds, and
the triggerer watches for intraday micro-batches (:mod:`upstream.triggers`)."""

from airflow.sdk import Asset, AssetWatcher

from upstream.settings import get_settings
from upstream.triggers import INTRADAY_SOURCES, ReadyBatchTrigger

RAW = {
    "catalogue": Asset("upstream_raw_catalogue"),
    "crm": Asset("upstream_raw_crm"),
    "web": Asset("upstream_raw_web"),
    "orders": Asset("upstream_raw_orders"),
}
MARTS = Asset("upstream_marts")
DESIGN_FEEDS = Asset("upstream_design_feeds")


def _intraday_batches() -> Asset:
    settings = get_settings()
    trigger = ReadyBatchTrigger(landing_dir=str(settings.landing_dir),
                                sources=list(INTRADAY_SOURCES),
                                poke_interval=settings.intraday_poll_seconds)
    return Asset("upstream_intraday_batches",
                 watchers=[AssetWatcher(name="upstream_ready_batches", trigger=trigger)])


# an event each time the triggerer claims ready micro-batches; schedules upstream_intraday
INTRADAY_BATCHES = _intraday_batches()
