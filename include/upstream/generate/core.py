"""The generator itself (see the package docstring)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

CATEGORIES = np.array(["dresses", "shirts", "trousers", "jackets", "knitwear", "skirts"])
SIZES = np.array(["XS", "S", "M", "L", "XL"])
COLOURS = np.array(["black", "white", "navy", "red", "green", "beige", "grey"])
MATERIALS = np.array(["cotton", "wool", "linen", "silk", "denim"])
FIRST_NAMES = np.array(["Anna", "Lukas", "Marie", "Jonas", "Léa", "Mateo", "Sofía", "Noah", "Zoë"])
LAST_NAMES = np.array(["Müller", "Dubois", "Rossi", "García", "Novak", "Jansen", "Kowalski"])
COUNTRIES = np.array(["DE", "FR", "IT", "ES", "NL", "AT", "PL"])
SEGMENTS = np.array(["new", "regular", "vip"])
EVENT_TYPES = np.array(["page_view", "product_view", "search", "add_to_cart", "login", "checkout"])
EVENT_WEIGHTS = np.array([0.35, 0.30, 0.10, 0.12, 0.08, 0.05])
SEARCH_TERMS = np.array(["linen dress", "wool coat", "silk shirt", "petite trousers", "green knit"])

STREAM_CATALOGUE, STREAM_CRM, STREAM_WEB, STREAM_ORDERS = 1, 2, 3, 4


@dataclass
class GenerationSummary:
    landing_dir: Path
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, entity: str, path: Path, rows: int) -> None:
        self.files.append(path)
        self.rows[entity] = self.rows.get(entity, 0) + rows


def _rng(seed: int, stream: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, day])


def catalogue(seed: int, skus: int = 120) -> pd.DataFrame:
    rng = _rng(seed, STREAM_CATALOGUE)
    cat = rng.integers(0, len(CATEGORIES), skus)
    return pd.DataFrame(
        {
            "sku": [f"SKU-{i:05d}" for i in range(skus)],
            "category": CATEGORIES[cat],
            "colour": COLOURS[rng.integers(0, len(COLOURS), skus)],
            "material": MATERIALS[rng.integers(0, len(MATERIALS), skus)],
            "base_price": np.round(rng.uniform(29, 249, skus), 2),
        }
    )


def customers(seed: int, n: int, start: date) -> pd.DataFrame:
    rng = _rng(seed, STREAM_CRM)
    ids = np.arange(1, n + 1)
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
    created = pd.Timestamp(start, tz="UTC") - pd.to_timedelta(rng.integers(1, 900, n), unit="D")
    return pd.DataFrame(
        {
            "crm_id": [f"C{i:08d}" for i in ids],
            "first_name": first,
            "last_name": last,
            "email": [f"customer{i}@example.com" for i in ids],
            "phone": [f"+4915{i:08d}" for i in ids],
            "country": COUNTRIES[rng.integers(0, len(COUNTRIES), n)],
            "birth_year": rng.integers(1950, 2007, n),
            "segment": SEGMENTS[rng.integers(0, len(SEGMENTS), n)],
            "consent_marketing": rng.random(n) < 0.6,
            "consent_profiling": rng.random(n) < 0.85,
            "created_at": created,
            "updated_at": created,
            # latent preferences drive web and order behaviour
            "_size": rng.integers(0, len(SIZES), n),
        }
    )


def crm_day(seed: int, base: pd.DataFrame, day_no: int, day: date) -> pd.DataFrame:
    """Day 0 is the full export; later days carry the customers updated that day."""
    cols = [c for c in base.columns if not c.startswith("_")]
    if day_no == 0:
        return base[cols]
    rng = _rng(seed, STREAM_CRM, day_no)
    changed = base.sample(n=max(1, len(base) // 100), random_state=rng).copy()
    changed["segment"] = SEGMENTS[rng.integers(0, len(SEGMENTS), len(changed))]
    changed["consent_marketing"] = rng.random(len(changed)) < 0.6
    secs = rng.integers(0, 86_400, len(changed))
    changed["updated_at"] = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(secs, unit="s")
    return changed[cols]


def _timestamps(rng: np.random.Generator, day: date, n: int) -> pd.Series:
    secs = np.sort(rng.integers(0, 86_400, n))
    return pd.Series(pd.Timestamp(day, tz="UTC") + pd.to_timedelta(secs, unit="s"))


def web_day(seed: int, cust: pd.DataFrame, cat: pd.DataFrame, day_no: int, day: date):
    rng = _rng(seed, STREAM_WEB, day_no)
    n = max(1, len(cust) // 2)
    kind = EVENT_TYPES[rng.choice(len(EVENT_TYPES), n, p=EVENT_WEIGHTS)]
    who = rng.integers(0, len(cust), n)
    known = (rng.random(n) < 0.4) | (kind == "login") | (kind == "checkout")
    sku_idx = rng.integers(0, len(cat), n)
    has_sku = np.isin(kind, ["product_view", "add_to_cart"])
    is_search = kind == "search"
    return pd.DataFrame(
        {
            "event_id": [f"E{day_no:04d}-{i:09d}" for i in range(n)],
            "event_type": kind,
            "occurred_at": _timestamps(rng, day, n).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "anonymous_id": [f"A{w:08d}" for w in who],
            "session_id": [f"S{day_no:04d}-{w:08d}" for w in who],
            "customer_id": np.where(known, cust["crm_id"].to_numpy()[who], None),
            "sku": np.where(has_sku, cat["sku"].to_numpy()[sku_idx], None),
            "size": np.where(has_sku, SIZES[cust["_size"].to_numpy()[who]], None),
            "search_query": np.where(
                is_search, SEARCH_TERMS[rng.integers(0, len(SEARCH_TERMS), n)], None
            ),
            "result_count": np.where(is_search, rng.integers(0, 40, n), None),
        }
    )


def orders_day(seed: int, cust: pd.DataFrame, cat: pd.DataFrame, day_no: int, day: date):
    rng = _rng(seed, STREAM_ORDERS, day_no)
    n_orders = max(1, len(cust) * 3 // 100)
    buyer = rng.integers(0, len(cust), n_orders)
    order_ids = np.array([f"O{day:%Y%m%d}-{i:06d}" for i in range(n_orders)])
    orders = pd.DataFrame(
        {
            "order_id": order_ids,
            "crm_id": cust["crm_id"].to_numpy()[buyer],
            "ordered_at": _timestamps(rng, day, n_orders),
            "currency": "EUR",
            "channel": np.where(rng.random(n_orders) < 0.8, "web", "store"),
        }
    )
    per_order = rng.integers(1, 5, n_orders)
    line_order = np.repeat(np.arange(n_orders), per_order)
    n_lines = len(line_order)
    line_no = np.arange(n_lines) - np.repeat(np.cumsum(per_order) - per_order, per_order) + 1
    sku_idx = rng.integers(0, len(cat), n_lines)
    pref = cust["_size"].to_numpy()[buyer[line_order]]
    size_idx = np.clip(pref + rng.choice([-1, 0, 0, 0, 0, 1], n_lines), 0, len(SIZES) - 1)
    discount = np.where(rng.random(n_lines) < 0.25, 0.2, 0.0)
    lines = pd.DataFrame(
        {
            "order_line_id": [
                f"{order_ids[o]}-{k}" for o, k in zip(line_order, line_no, strict=True)
            ],
            "order_id": order_ids[line_order],
            "sku": cat["sku"].to_numpy()[sku_idx],
            "category": cat["category"].to_numpy()[sku_idx],
            "size": SIZES[size_idx],
            "colour": cat["colour"].to_numpy()[sku_idx],
            "material": cat["material"].to_numpy()[sku_idx],
            "quantity": rng.integers(1, 3, n_lines),
            "unit_price": np.round(cat["base_price"].to_numpy()[sku_idx] * (1 - discount), 2),
            "discount": discount,
        }
    )
    return orders, lines


def _write(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    con.register("frame", df)
    if fmt == "csv":
        options = "FORMAT csv, HEADER, DELIMITER ','"
    else:
        options = "FORMAT json"
    con.execute(f"COPY (SELECT * FROM frame) TO '{tmp}' ({options})")
    con.unregister("frame")
    tmp.replace(path)  # a landing file appears whole or not at all


def generate(
    landing_dir: Path, *, seed: int = 42, customers_n: int = 1000, days: int = 7,
    start: date = date(2026, 11, 1),
) -> GenerationSummary:
    """Write ``days`` days of landing files for all sources, starting at ``start``."""
    if customers_n < 1 or days < 1:
        raise ValueError(f"customers ({customers_n}) and days ({days}) must be positive")
    summary = GenerationSummary(landing_dir)
    cat = catalogue(seed)
    cust = customers(seed, customers_n, start)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for day_no in range(days):
            day = start + timedelta(days=day_no)
            stamp = day.isoformat()
            crm = crm_day(seed, cust, day_no, day)
            web = web_day(seed, cust, cat, day_no, day)
            orders, lines = orders_day(seed, cust, cat, day_no, day)
            for entity, df, rel, fmt in (
                ("crm_customers", crm, f"crm/{stamp}/customers.csv", "csv"),
                ("web_events", web, f"web/{stamp}/events.ndjson", "json"),
                ("erp_orders", orders, f"orders/{stamp}/orders.csv", "csv"),
                ("erp_order_lines", lines, f"orders/{stamp}/order_lines.csv", "csv"),
            ):
                path = landing_dir / rel
                _write(con, df, path, fmt)
                summary.add(entity, path, len(df))
    finally:
        con.close()
    log.info("generated %s into %s at %s", summary.rows, landing_dir, datetime.now(UTC))
    return summary
