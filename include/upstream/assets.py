"""Airflow Assets, defined once: ingest emits raw assets, publish emits the design feeds."""

from airflow.sdk import Asset

RAW = {
    "catalogue": Asset("upstream_raw_catalogue"),
    "crm": Asset("upstream_raw_crm"),
    "web": Asset("upstream_raw_web"),
    "orders": Asset("upstream_raw_orders"),
}
MARTS = Asset("upstream_marts")
DESIGN_FEEDS = Asset("upstream_design_feeds")
