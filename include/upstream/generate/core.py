"""The generator itself (see the package docstring)."""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import sys
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from isal import igzip

from upstream.generate import vocab as v
from upstream.generate.mess import Messiness

log = logging.getLogger(__name__)

S_CATALOGUE, S_CUSTOMERS, S_CRM, S_WEB, S_ORDERS, S_FLOW, S_MESS, S_TRUTH = range(1, 9)
SOLD_OUT_SKUS = 5   # planted: popular products (3x the picks) whose one size is never in stock
LOYALTY = 0.6       # share of a person's picks that follow their colour and their fit
BOTTOMS = ("trousers", "skirts")  # sized by waist; every other category by chest
CUSTOMERS_PER_SF, EVENTS_PER_SF, LINES_PER_SF = 100_000, 5_000_000, 500_000
RETURN_AFTER_DAYS = 3  # returns of day D's lines arrive in day D+3's file
SAMPLE_MARKER = ".sample.json"  # which sample a landing folder holds (hidden: never ingested)


@dataclass
class GenerationSummary:
    landing_dir: Path
    files: list[Path] = field(default_factory=list)
    rows: Counter = field(default_factory=Counter)      # data lines written per entity
    injected: Counter = field(default_factory=Counter)  # messy rows/files per knob


def _rng(seed: int, stream: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, day])


def _ts(day: date) -> str:
    return f"timestamptz '{day.isoformat()} 00:00:00+00'"


class World:
    """Fixed facts for one seed and scale: catalogue and customers (with latent preferences)."""

    def __init__(self, seed: int, sf: float, days: int, start: date, mess: Messiness,
                 reasons: list[str]):
        self.seed, self.sf, self.days, self.start, self.mess = seed, sf, days, start, mess
        self.reasons = reasons  # return reasons, from the seed (vocab.return_reasons)
        self.n_customers = max(20, round(CUSTOMERS_PER_SF * sf))
        # volumes are per week of 7 days, so adding days never changes the days before
        self.events_per_day = max(50, round(EVENTS_PER_SF * sf / 7))
        self.lines_per_day = max(20, round(LINES_PER_SF * sf / 7))
        self.catalogue = self._catalogue()
        self.customers = self._customers()
        self._plant()

    def _catalogue(self) -> pd.DataFrame:
        rng = _rng(self.seed, S_CATALOGUE)
        n = max(60, min(2000, round(600 * max(self.sf, 0.1))))
        mto = rng.random(n) < 0.3
        return pd.DataFrame({
            "sku_no": np.arange(n),
            "cat": rng.integers(0, len(v.CATEGORIES), n),
            "colour": rng.integers(0, len(v.COLOURS), n),
            "material": rng.integers(0, len(v.MATERIALS), n),
            "fit": rng.integers(0, len(v.FITS), n),
            "base_price": np.round(rng.uniform(29, 249, n), 2),
            "opt_a": np.where(mto, rng.integers(0, len(v.OPTIONS), n), -1),
            "opt_b": np.where(mto & (rng.random(n) < 0.5), rng.integers(0, len(v.OPTIONS), n), -1),
            "mto": mto,
        })

    def _customers(self) -> pd.DataFrame:
        rng = _rng(self.seed, S_CUSTOMERS)
        n = self.n_customers
        idx = np.arange(n)
        # 2 % are a second CRM record of the previous person (another email, same browser)
        alias = (rng.random(n) < 0.02) & (idx > 0)
        # 2 % share a household phone with the previous customer (different people)
        household = (rng.random(n) < 0.02) & (idx > 0) & ~alias
        measured = rng.random(n) < 0.3
        return pd.DataFrame({
            "cust_no": idx + 1,
            "first": rng.integers(0, len(v.FIRST_NAMES), n),
            "last": rng.integers(0, len(v.LAST_NAMES), n),
            "country": rng.integers(0, len(v.COUNTRIES), n),
            "birth_year": rng.integers(1950, 2007, n),
            "segment": rng.integers(0, len(v.SEGMENTS), n),
            "consent_marketing": rng.random(n) < 0.6,
            "consent_profiling": rng.random(n) < 0.85,
            "legacy": rng.random(n) < 0.1,
            "anon_no": np.where(alias, idx, idx + 1),
            "phone_no": np.where(household, idx, idx + 1),
            "phone_fmt": rng.integers(0, 3, n),
            "email_noise": rng.random(n) < 0.05,
            "email_alt": alias,
            "house_no": rng.integers(1, 200, n),
            "street": rng.integers(0, len(v.STREETS), n),
            "city": rng.integers(0, len(v.CITIES), n),
            "height_cm": np.where(measured, rng.integers(150, 200, n), -1),
            "chest_cm": np.where(measured, rng.integers(76, 120, n), -1),
            "waist_cm": np.where(measured, rng.integers(60, 110, n), -1),
            "pref_fit": np.where(rng.random(n) < 0.4, rng.integers(0, len(v.FITS), n), -1),
            "pref_colour": np.where(rng.random(n) < 0.3, rng.integers(0, len(v.COLOURS), n), -1),
            "size_pref": rng.integers(0, len(v.SIZES), n),
            "created_days": rng.integers(1, 900, n),
            "updated_secs": np.zeros(n, dtype=np.int64),
            "op": np.zeros(n, dtype=np.int8),
        })

    def _plant(self) -> None:
        """The latent truth the behaviour follows (written to truth/, never read by the
        pipeline). A CRM record that is a second record of the previous customer (alias: same
        browser, another email) is the same person: its orders and visits follow that person's
        traits. Per person: a top size (chest categories) and a bottom size (waist categories,
        the top size or one off), a colour and a fit (the stated ones where the CRM has them)
        followed in LOYALTY of the picks, a made-to-order propensity, a price sensitivity;
        a stated chest or waist lies in the size chart's band of the person's size."""
        rng = _rng(self.seed, S_TRUTH)
        cust, n = self.customers, self.n_customers
        idx = np.arange(n)
        alias = cust["anon_no"].to_numpy() < cust["cust_no"].to_numpy()
        self.person = np.maximum.accumulate(np.where(alias, 0, idx))  # index of the true person
        # every record of a person browses with the person's browser (an alias of an alias too)
        cust["anon_no"] = cust["anon_no"].to_numpy()[self.person]
        top = cust["size_pref"].to_numpy()
        bottom = np.clip(top + rng.choice([-1, 0, 0, 0, 0, 0, 1], n), 0, len(v.SIZES) - 1)
        bottoms = np.array([c in BOTTOMS for c in v.CATEGORIES])
        self.sizes = np.where(bottoms[None, :], bottom[:, None], top[:, None]).astype(np.int8)
        # a colour (fit) preference: the stated one, or for some who state none a silent one
        colour = cust["pref_colour"].to_numpy()
        fit = cust["pref_fit"].to_numpy()
        silent_colour = (colour < 0) & (rng.random(n) < 0.3)
        silent_fit = (fit < 0) & (rng.random(n) < 0.3)
        self.colour = np.where(silent_colour, rng.integers(0, len(v.COLOURS), n), colour)
        self.fit = np.where(silent_fit, rng.integers(0, len(v.FITS), n), fit)
        self.mto_propensity = rng.choice([0.05, 0.3, 0.7], n, p=[0.6, 0.3, 0.1])
        self.price_sensitivity = np.round(rng.uniform(0, 1, n), 3)
        p = self.person
        measured = cust["chest_cm"].to_numpy() >= 0
        cust["chest_cm"] = np.where(measured, 76 + 8 * top[p] + rng.integers(0, 8, n), -1)
        cust["waist_cm"] = np.where(measured, 60 + 8 * bottom[p] + rng.integers(0, 8, n), -1)
        cat = self.catalogue
        stocked = np.flatnonzero(~cat["mto"].to_numpy())
        skus = rng.choice(stocked, min(SOLD_OUT_SKUS, len(stocked)), replace=False)
        sizes = rng.integers(1, 4, len(skus)).tolist()  # S, M or L
        self.sold_out = sorted(zip(skus.tolist(), sizes, strict=True))
        self.popularity = np.ones(len(cat))
        self.popularity[[s for s, _ in self.sold_out]] = 3.0

    def sku_weights(self, d: int) -> np.ndarray:
        """Each product's pick weight on day d: popularity x the planted trends of its
        category, colour and material (x2 per TREND_DOUBLING_DAYS rising, /2 falling)."""
        cat, w = self.catalogue, self.popularity.copy()
        lists = {"category": v.CATEGORIES, "colour": v.COLOURS, "material": v.MATERIALS}
        column = {"category": "cat", "colour": "colour", "material": "material"}
        for (attribute, value), sign in v.TRENDS.items():
            hit = cat[column[attribute]].to_numpy() == lists[attribute].index(value)
            w[hit] *= 2.0 ** (sign * d / v.TREND_DOUBLING_DAYS)
        return w

    def _group(self, colour: np.ndarray, fit: np.ndarray, mto: np.ndarray) -> np.ndarray:
        return ((colour + 1) * (len(v.FITS) + 1) + fit + 1) * 3 + mto + 1

    def _eligible(self, g: int) -> np.ndarray:
        """The products of pick group g (colour, fit, made-to-order; -1: any); a constraint
        no product meets yields."""
        cat = self.catalogue
        c, rest = divmod(int(g), (len(v.FITS) + 1) * 3)
        f, m = divmod(rest, 3)
        ok = np.ones(len(cat), dtype=bool)
        for value, column in ((c - 1, cat["colour"].to_numpy()), (f - 1, cat["fit"].to_numpy()),
                              (m - 1, cat["mto"].to_numpy().astype(np.int64))):
            if value >= 0 and (ok & (column == value)).any():
                ok &= column == value
        return np.flatnonzero(ok)

    def pick_skus(self, rng: np.random.Generator, d: int, person: np.ndarray) -> np.ndarray:
        """One product per row, weighted by sku_weights(d); a row with a person (index >= 0;
        -1: an anonymous visitor) keeps to the person's colour and fit, where the person has
        one, each with probability LOYALTY, and picks made-to-order with the person's
        propensity."""
        n = len(person)
        known = person >= 0
        p = np.where(known, person, 0)
        colour = np.where(known & (rng.random(n) < LOYALTY), self.colour[p], -1)
        fit = np.where(known & (rng.random(n) < LOYALTY), self.fit[p], -1)
        mto = np.where(known, (rng.random(n) < self.mto_propensity[p]).astype(np.int64), -1)
        u = rng.random(n)
        group = self._group(colour, fit, mto)
        weights = self.sku_weights(d)
        out = np.empty(n, dtype=np.int64)
        for g in np.unique(group):
            rows = group == g
            eligible = self._eligible(g)
            cum = np.cumsum(weights[eligible])
            at = np.searchsorted(cum, u[rows] * cum[-1], side="right")
            out[rows] = eligible[np.minimum(at, len(eligible) - 1)]
        return out

    def expected_order_shares(self, d: int) -> np.ndarray:
        """Each product's expected share of day d's order lines (orders come from CRM records
        drawn uniformly; each line is a pick_skus pick by the record's person)."""
        p = self.person
        shares = np.zeros(len(self.catalogue))
        weights = self.sku_weights(d)
        has_c, has_f = self.colour[p] >= 0, self.fit[p] >= 0
        for colour_kept in (True, False):
            for fit_kept in (True, False):
                for mto in (0, 1):
                    prob = (np.where(has_c, LOYALTY if colour_kept else 1 - LOYALTY,
                                     0.0 if colour_kept else 1.0)
                            * np.where(has_f, LOYALTY if fit_kept else 1 - LOYALTY,
                                       0.0 if fit_kept else 1.0)
                            * (self.mto_propensity[p] if mto else 1 - self.mto_propensity[p]))
                    group = self._group(np.where(colour_kept, self.colour[p], -1),
                                        np.where(fit_kept, self.fit[p], -1), np.full(len(p), mto))
                    mass = np.bincount(group, weights=prob)
                    for g in np.flatnonzero(mass):
                        eligible = self._eligible(g)
                        shares[eligible] += mass[g] * weights[eligible] / weights[eligible].sum()
        return shares / len(p)


L = v.sql_list


def catalogue_sql(day: date) -> str:
    stock = ", ".join(f"case when s{i} then '{s}' end" for i, s in enumerate(v.SIZES))
    return f"""
    select 'SKU-' || lpad(sku_no::varchar, 5, '0') as sku,
           {L(v.CATEGORIES)}[cat + 1] as category, {L(v.COLOURS)}[colour + 1] as colour,
           {L(v.MATERIALS)}[material + 1] as material, {L(v.FITS)}[fit + 1] as fit,
           base_price::decimal(10, 2) as base_price_eur, 'XS-XL' as size_range,
           concat_ws('|', case when opt_a >= 0 then {L(v.OPTIONS)}[opt_a + 1] end,
                          case when opt_b >= 0 then {L(v.OPTIONS)}[opt_b + 1] end)
               as configurable_options,
           mto as is_made_to_order, concat_ws('|', {stock}) as in_stock_sizes,
           '{day.isoformat()}'::date as snapshot_date
    from f"""


def crm_sql(start: date) -> str:
    phone = ("case phone_fmt when 0 then '+49151' || lpad(phone_no::varchar, 8, '0') "
             "when 1 then '0151 ' || lpad(phone_no::varchar, 8, '0') "
             "else '+49 151 ' || lpad(phone_no::varchar, 8, '0') end")
    email = ("case when email_alt then 'alt' else 'customer' end || cust_no || '@example.com'")
    return f"""
    select 'C' || lpad(cust_no::varchar, 8, '0') as crm_id,
           {L(v.FIRST_NAMES)}[first + 1] as first_name, {L(v.LAST_NAMES)}[last + 1] as last_name,
           case when email_noise then '  ' || upper({email}) || ' ' else {email} end as email,
           {phone} as phone,
           {L(v.STREETS)}[street + 1] || ' ' || house_no as street,
           lpad((10000 + cust_no % 89999)::varchar, 5, '0') as postal_code,
           {L(v.CITIES)}[city + 1] as city, {L(v.COUNTRIES)}[country + 1] as country,
           case when bad_range then 1800 else birth_year end as birth_year,
           {L(v.SEGMENTS)}[segment + 1] as segment,
           consent_marketing, case when bad_null then null else consent_profiling end
               as consent_profiling,
           nullif(height_cm, -1) as height_cm, nullif(chest_cm, -1) as chest_cm,
           nullif(waist_cm, -1) as waist_cm,
           case when pref_fit >= 0 then {L(v.FITS)}[pref_fit + 1] end as preferred_fit,
           case when pref_colour >= 0 then {L(v.COLOURS)}[pref_colour + 1] end
               as preferred_colours,
           {_ts(start)} - to_days(created_days::integer) as created_at,
           case when updated_secs = 0 then {_ts(start)} - to_days(created_days::integer)
                else to_timestamp(updated_secs) end as updated_at,
           case when op = 1 then 'delete' else 'upsert' end as op
    from f"""


def web_sql(drift: bool) -> str:
    q = L(v.SEARCHES)
    consent = ", 'tcf2:' || (ev % 97) as consent_string" if drift else ""
    return f"""
    select 'E' || lpad(day_no::varchar, 4, '0') || '-' || lpad(ev::varchar, 9, '0') as event_id,
           case when bad_null then null else {L(v.EVENT_TYPES)}[kind + 1] end as event_type,
           strftime(to_timestamp(epoch_s) + to_hours(off_h::integer), '%Y-%m-%dT%H:%M:%S')
               || {L(v.UTC_OFFSETS)}[country + 1] as occurred_at,
           'A' || lpad(anon::varchar, 9, '0') as anonymous_id,
           'S' || lpad(day_no::varchar, 4, '0') || '-' || lpad(anon::varchar, 9, '0') as session_id,
           case when cust > 0 then 'C' || lpad(cust::varchar, 8, '0') end as customer_id,
           case when sku >= 0 then 'SKU-' || lpad(sku::varchar, 5, '0') end as sku,
           case when size >= 0 then {L(v.SIZES)}[size + 1] end as size,
           case when query >= 0 then {q}[query + 1] end as search_query,
           case when query >= 0 then result_count end as result_count,
           case when opt >= 0 then split_part({L(v.OPTIONS)}[opt + 1], '=', 1) end as option_name,
           case when opt >= 0 then split_part({L(v.OPTIONS)}[opt + 1], '=', 2) end as option_value,
           case when bot then '{v.BOT_AGENT}' else {L(v.USER_AGENTS)}[agent + 1] end
               as user_agent{consent}
    from f"""


def orders_sql(drift: bool) -> str:
    channel = "sales_channel, 'app:' || (order_no % 3) as sales_channel_detail" if drift else "channel"
    return f"""
    select order_id, crm_id, guest_email, ordered_at, currency, {channel}, shipping_country
    from (
      select order_key(day_epoch, order_no) as order_id,
             case when guest then null else 'C' || lpad(cust::varchar, 8, '0') end as crm_id,
             case when guest then 'customer' || cust || '@example.com' end as guest_email,
             strftime(case when bad_range then to_timestamp(epoch_s) + interval 73 year
                           else to_timestamp(epoch_s) end, '%Y-%m-%d %H:%M:%S+00') as ordered_at,
             {L(v.CURRENCIES)}[cur + 1] as currency,
             case when store then 'store' else 'web' end as channel,
             case when store then 'store' else 'web' end as sales_channel,
             order_no,
             {L(v.COUNTRIES)}[country + 1] as shipping_country
      from f)"""


LINES_SQL = f"""
    select order_key(day_epoch, order_no) || '-' || line_no as order_line_id,
           order_key(day_epoch, order_no) as order_id,
           case when bad_null then null else 'SKU-' || lpad(sku::varchar, 5, '0') end as sku,
           {L(v.CATEGORIES)}[cat + 1] as category, {L(v.SIZES)}[size + 1] as size,
           {L(v.COLOURS)}[colour + 1] as colour, {L(v.MATERIALS)}[material + 1] as material,
           {L(v.FITS)}[fit + 1] as fit,
           case when mto then concat_ws('|', case when opt_a >= 0 then {L(v.OPTIONS)}[opt_a + 1] end,
                                             case when opt_b >= 0 then {L(v.OPTIONS)}[opt_b + 1] end)
                end as configured_options,
           mto as is_made_to_order,
           case when bad_range then -quantity else quantity end as quantity,
           unit_price::decimal(12, 2) as unit_price, discount::decimal(4, 3) as discount_rate
    from f"""

DELIVERIES_SQL = f"""
    select 'D' || substr(order_key(day_epoch, order_no), 2) as delivery_id,
           order_key(day_epoch, order_no) as order_id,
           strftime(to_timestamp(ship_s), '%Y-%m-%d %H:%M:%S+00') as shipped_at,
           case when delivered then strftime(to_timestamp(ship_s) + to_days(transit::integer),
                                             '%Y-%m-%d %H:%M:%S+00') end as delivered_at,
           {L(v.CARRIERS)}[carrier + 1] as carrier,
           case when delivered then 'delivered' else 'in_transit' end as status
    from f"""

INVOICES_SQL = """
    select 'I' || substr(order_key(day_epoch, order_no), 2) as invoice_id,
           order_key(day_epoch, order_no) as order_id,
           round(gross / 1.19, 2)::decimal(12, 2) as net_amount,
           (gross - round(gross / 1.19, 2))::decimal(12, 2) as vat_amount,
           gross::decimal(12, 2) as gross_amount, currency,
           strftime(to_timestamp(issue_s), '%Y-%m-%d %H:%M:%S+00') as issued_at,
           case when paid then strftime(to_timestamp(issue_s) + interval 2 day,
                                        '%Y-%m-%d %H:%M:%S+00') end as paid_at
    from f"""

RETURNS_SQL = f"""
    select 'R' || substr(order_key(day_epoch, order_no), 2) || '-' || line_no as return_id,
           order_key(day_epoch, order_no) || '-' || line_no as order_line_id,
           strftime(to_timestamp(ret_s), '%Y-%m-%d %H:%M:%S+00') as returned_at,
           quantity, {{reasons}}[reason + 1] as reason_code,
           nullif({L(v.RETURN_TEXTS)}[text + 1], '') as free_text
    from f"""

MACROS = """
create or replace macro order_key(day_epoch, order_no) as
    'O' || strftime(to_timestamp(day_epoch), '%Y%m%d') || '-' || lpad(order_no::varchar, 7, '0')
"""


class Finisher:
    """Finishes NDJSON files on a thread of their own while the next frames are built and
    written: gzip (on every core), the messy lines as a second member, rename. The generator
    used to wait for each day's web file to be compressed, while building frames (numpy) uses
    one core. One file at a time, so at most one plain file waits on disk; a failure surfaces
    at the next file or at ``wait``."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gzip")
        self._pending = None

    def submit(self, fn, *args) -> None:
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        """Until the file submitted last is in place (its error raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the file in hand, then stop the thread (also after an error elsewhere:
        nothing half-written is left renamed into place)."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _finish_ndjson(plain: Path, tmp: Path, extra: list[bytes], path: Path) -> None:
    gzip_parallel(plain, tmp)
    plain.unlink()
    if extra:
        # a second gzip member (readers see one stream); mtime=0 keeps the bytes reproducible
        with tmp.open("ab") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(b"".join(extra))
    tmp.replace(path)


class Writer:
    """Writes one landing file: DuckDB COPY to a temp name, messy lines appended, then rename
    (NDJSON: by ``finisher``, on its thread)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, summary: GenerationSummary,
                 mess: Messiness, rng: np.random.Generator, finisher: Finisher):
        self.con, self.summary, self.mess, self.rng = con, summary, mess, rng
        self.finisher = finisher

    def _count(self, knob: str, n_rows: int) -> int:
        rate = getattr(self.mess, knob)
        n = int(self.rng.binomial(n_rows, rate)) if rate > 0 and n_rows else 0
        self.summary.injected[knob] += n
        return n

    def write(self, entity: str, frame: pd.DataFrame, sql: str, path: Path, *,
              delim: str = ",", latin1: bool = False, wrong_encoding: bool = False) -> None:
        ndjson = path.name.endswith(".ndjson.gz")
        if ndjson and latin1:
            raise ValueError(f"{path.name}: NDJSON is UTF-8, not latin-1")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp")
        # NDJSON is written plain, then gzipped on every core (DuckDB's gzip writer uses one)
        plain = tmp.with_name(tmp.name + ".json") if ndjson else tmp
        options = "FORMAT json" if ndjson else f"FORMAT csv, HEADER, DELIMITER '{delim}'"
        self.con.register("f", frame)
        try:
            self.con.execute(f"COPY ({sql}) TO '{plain}' ({options})")
            ncols = len(self.con.execute(f"select * from ({sql}) limit 0").description)
        finally:
            self.con.unregister("f")
        # the messy lines here, in order: they draw from the day's random stream
        extra = self._messy_lines(len(frame), ncols, delim, ndjson, wrong_encoding)
        if ndjson:
            self.finisher.submit(_finish_ndjson, plain, tmp, extra, path)
        else:
            if extra:
                with tmp.open("ab") as fh:
                    fh.write(b"".join(extra))
            if latin1:
                text = tmp.read_bytes().decode("utf-8")
                tmp.write_bytes(text.encode("latin-1", errors="replace"))
            tmp.replace(path)
        self.summary.files.append(path)
        self.summary.rows[entity] += len(frame) + len(extra)

    def _messy_lines(self, n_rows: int, ncols: int, delim: str, ndjson: bool,
                     wrong_encoding: bool) -> list[bytes]:
        lines = []
        for i in range(self._count("malformed_rows", n_rows)):
            if ndjson:
                lines.append(f'{{"event_id": "BROKEN-{i}", "event_type": "page_vi\n'.encode())
            else:
                width = ncols + 2 if i % 2 == 0 else max(1, ncols - 2)
                lines.append((delim.join(["BROKEN"] * width) + "\n").encode())
        if wrong_encoding and not ndjson:
            for i in range(self._count("wrong_encoding", n_rows)):
                fields = [f"CENC{i:06d}", "Andr\u00e9", "Lef\u00e8vre"] + [""] * (ncols - 3)
                lines.append((delim.join(fields) + "\n").encode("latin-1"))
        return lines


GZIP_LEVEL, GZIP_CHUNK = 1, 8 << 20
# a day of web events is the generator's largest frame: its columns in the narrowest type
WEB_DTYPES = {"day_no": np.int16, "ev": np.int32, "kind": np.int16, "country": np.int16,
              "anon": np.int32, "cust": np.int32, "sku": np.int32, "size": np.int16,
              "query": np.int16, "result_count": np.int16, "opt": np.int16,
              "agent": np.int16, "file_day": np.int16}


def gzip_parallel(src: Path, dst: Path, *, level: int = GZIP_LEVEL,
                  chunk: int = GZIP_CHUNK) -> None:
    """Gzip ``src`` into ``dst`` as one gzip member per ``chunk`` bytes, compressed on every
    core; gzip readers see one stream. mtime 0: reproducible bytes. ISA-L (``isal``), not zlib:
    on a web file's 8 MiB of NDJSON its level 1 took 7 ms against zlib's 25 ms, files within
    1 % of zlib's size (SF 1 day: +0.6 %) that DuckDB reads as fast, and it releases the GIL
    as zlib does (two threads: 2.0x)."""
    workers = os.cpu_count() or 1
    with src.open("rb") as fin, dst.open("wb") as fout, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        while block := fin.read(chunk):
            pending.append(pool.submit(igzip.compress, block, compresslevel=level, mtime=0))
            if len(pending) > 2 * workers:  # bounded: at most 2 blocks per core in memory
                fout.write(pending.popleft().result())
        while pending:
            fout.write(pending.popleft().result())


def _narrow(name: str, values: np.ndarray) -> np.ndarray:
    return values.astype(WEB_DTYPES[name], copy=False) if name in WEB_DTYPES else values


def _day_epoch(day: date) -> int:
    return int(pd.Timestamp(day, tz="UTC").timestamp())


class DayGenerator:
    """Builds and writes all files of one day; keeps recent days' frames for late data."""

    def __init__(self, world: World, landing: Path, summary: GenerationSummary):
        self.w, self.landing, self.summary = world, landing, summary
        self.web_frames: dict[int, pd.DataFrame] = {}
        self.order_frames: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}

    def _flags(self, rng, n: int, **names: str) -> dict[str, np.ndarray]:
        flags = {}
        for column, knob in names.items():
            flags[column] = rng.random(n) < getattr(self.w.mess, knob)
            self.summary.injected[knob] += int(flags[column].sum())
        return flags

    def run(self, con: duckdb.DuckDBPyConnection, d: int, finisher: Finisher) -> None:
        day = self.w.start + timedelta(days=d)
        stamp = f"{day:%Y%m%d}"
        writer = Writer(con, self.summary, self.w.mess, _rng(self.w.seed, S_MESS, d), finisher)
        folder = {s: self.landing / s / day.isoformat() for s in ("catalogue", "crm", "web",
                                                                   "orders")}
        self._catalogue(writer, d, day, folder["catalogue"] / f"products_{stamp}.csv")
        self._crm(writer, d, day, folder["crm"], stamp)
        self._web(writer, d, folder["web"] / f"events_{stamp}.ndjson.gz")
        self._orders(writer, d, day, folder["orders"], stamp)
        self._resend_yesterday(d, day, folder)
        for old in [k for k in self.web_frames if k < d - 3]:
            del self.web_frames[old]
        for old in [k for k in self.order_frames if k < d - RETURN_AFTER_DAYS]:
            del self.order_frames[old]

    def _catalogue(self, writer: Writer, d: int, day: date, path: Path) -> None:
        rng = _rng(self.w.seed, S_CATALOGUE, d + 1)
        frame = self.w.catalogue.copy()
        for i in range(len(v.SIZES)):
            frame[f"s{i}"] = rng.random(len(frame)) > 0.15
        for sku, size in self.w.sold_out:  # planted: never in stock
            frame.loc[sku, f"s{size}"] = False
        writer.write("catalogue_products", frame, catalogue_sql(day), path)

    def _crm(self, writer: Writer, d: int, day: date, folder: Path, stamp: str) -> None:
        rng = _rng(self.w.seed, S_CRM, d)
        cust = self.w.customers
        if d == 0:
            frame = cust.copy()
        else:
            # about 1 % updated, and (knob crm_deletions) customers ask to be erased every day
            updated = rng.random(len(cust)) < 0.01
            deleted = np.zeros(len(cust), dtype=bool)
            if self.w.mess.crm_deletions > 0:
                n_deleted = max(1, int(len(cust) * self.w.mess.crm_deletions))
                deleted[rng.choice(len(cust), n_deleted, replace=False)] = True
                self.summary.injected["crm_deletions"] += n_deleted
            frame = cust[updated | deleted].copy()
            frame["segment"] = rng.integers(0, len(v.SEGMENTS), len(frame))
            frame["consent_marketing"] = rng.random(len(frame)) < 0.6
            frame["updated_secs"] = _day_epoch(day) + rng.integers(0, 86_400, len(frame))
            frame["op"] = deleted[updated | deleted].astype(np.int8)
        frame = frame.assign(**self._flags(rng, len(frame), bad_null="null_required",
                                           bad_range="out_of_range"))
        main, legacy = frame[~frame["legacy"]], frame[frame["legacy"]]
        sql = crm_sql(self.w.start)
        writer.write("crm_customers", main, sql, folder / f"crm_customers_{stamp}.csv",
                     wrong_encoding=True)
        writer.write("crm_customers", legacy, sql, folder / f"legacy_customers_{stamp}.csv",
                     delim=";", latin1=True)

    def _web_frame(self, d: int) -> pd.DataFrame:
        w, rng = self.w, _rng(self.w.seed, S_WEB, d)
        n, nc = w.events_per_day, w.n_customers
        kind = rng.choice(len(v.EVENT_TYPES), n, p=v.EVENT_WEIGHTS)
        known_visitor = (rng.random(n) < 0.4) | np.isin(kind, [7, 8])  # login, checkout
        ci = rng.integers(0, nc, n)
        bot = ~known_visitor & (rng.random(n) < 0.05)
        kind = np.where(bot, rng.integers(0, 2, n), kind)  # bots only view pages and products
        logged_in = known_visitor & ((rng.random(n) < 0.5) | np.isin(kind, [7, 8]))
        cust = w.customers
        with_sku = np.isin(kind, [1, 3, 4, 5, 6])
        sized = np.isin(kind, [3, 4, 5]) | ((kind == 1) & (rng.random(n) < 0.3))
        person = w.person[ci]
        skus = w.pick_skus(rng, d, np.where(known_visitor, person, -1))
        pref = w.sizes[person, w.catalogue["cat"].to_numpy()[skus]]
        query = rng.integers(0, len(v.SEARCHES), n)
        late = rng.random(n) < w.mess.late_events
        file_day = np.minimum(d + np.where(late, rng.integers(1, 4, n), 0), w.days - 1)
        return pd.DataFrame({name: _narrow(name, values) for name, values in {
            "day_no": np.full(n, d), "ev": np.arange(n), "kind": kind,
            "epoch_s": _day_epoch(w.start + timedelta(days=d)) + np.sort(rng.integers(0, 86_400, n)),
            "country": np.where(known_visitor, cust["country"].to_numpy()[ci],
                                rng.integers(0, len(v.COUNTRIES), n)),
            "anon": np.where(known_visitor, cust["anon_no"].to_numpy()[ci],
                             nc + 1 + rng.integers(0, 3 * nc, n)),
            "cust": np.where(logged_in, cust["cust_no"].to_numpy()[ci], 0),
            "sku": np.where(with_sku, skus, -1),
            "size": np.where(sized, np.clip(pref + rng.integers(-1, 2, n), 0, len(v.SIZES) - 1), -1),
            "query": np.where(kind == 2, query, -1),
            "result_count": np.where(query >= v.SEARCH_RESULTS_ZERO_FROM, 0,
                                     rng.integers(1, 40, n)),
            "opt": np.where(kind == 6, rng.integers(0, len(v.OPTIONS), n), -1),
            "agent": rng.integers(0, len(v.USER_AGENTS), n),
            "bot": bot,
            "file_day": file_day,
        }.items()})

    def _web(self, writer: Writer, d: int, path: Path) -> None:
        frame = self._web_frame(d)
        late = frame["file_day"].to_numpy() > d
        self.summary.injected["late_events"] += int(late.sum())
        # only the late events wait for a later file: a day's frame is not kept whole
        earlier = [f[f["file_day"] == d] for _, f in sorted(self.web_frames.items())]
        self.web_frames[d] = frame[late]
        due = pd.concat([*earlier, frame[~late]]) if earlier else frame[~late]
        del frame
        rng = _rng(self.w.seed, S_MESS, 10_000 + d)
        dups = due[rng.random(len(due)) < self.w.mess.duplicate_events]
        self.summary.injected["duplicate_events"] += len(dups)
        out = pd.concat([due, dups], ignore_index=True)
        out = out.assign(**self._flags(rng, len(out), bad_null="null_required"))
        out["off_h"] = np.where(np.array(v.UTC_OFFSETS)[out["country"]] == "+01:00", 1, 0)
        writer.write("web_events", out, web_sql(d >= self.w.mess.schema_drift_day), path)

    def _order_frames(self, d: int, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
        w, rng = self.w, _rng(self.w.seed, S_ORDERS, d)
        n_orders = max(1, round(w.lines_per_day / 2.5))
        ci = rng.integers(0, w.n_customers, n_orders)
        mixed = rng.random(n_orders) < w.mess.mixed_currency
        self.summary.injected["mixed_currency"] += int(mixed.sum())
        cur = np.where(mixed, rng.integers(1, len(v.CURRENCIES), n_orders), 0)
        orders = pd.DataFrame({
            "day_epoch": _day_epoch(day), "order_no": np.arange(n_orders),
            "cust": w.customers["cust_no"].to_numpy()[ci],
            "guest": rng.random(n_orders) < 0.05,
            "epoch_s": _day_epoch(day) + np.sort(rng.integers(0, 86_400, n_orders)),
            "cur": cur, "store": rng.random(n_orders) < 0.2,
            "country": w.customers["country"].to_numpy()[ci],
        })
        per_order = rng.integers(1, 5, n_orders)
        oi = np.repeat(np.arange(n_orders), per_order)
        n = len(oi)
        cat = w.catalogue
        person = w.person[ci[oi]]
        sku = w.pick_skus(rng, d, person)
        pref = w.sizes[person, cat["cat"].to_numpy()[sku]]
        size = np.clip(pref + rng.choice([-1, 0, 0, 0, 0, 1], n), 0, len(v.SIZES) - 1)
        # price sensitivity s: a line is bought at a discount with probability 0.1 + 0.3 s
        discount = np.where(rng.random(n) < 0.1 + 0.3 * w.price_sensitivity[person], 0.2, 0.0)
        fx = np.array(v.FX_PER_EUR)[cur[oi]]
        lines = pd.DataFrame({
            "day_epoch": _day_epoch(day), "order_no": oi,
            "line_no": np.arange(n) - np.repeat(np.cumsum(per_order) - per_order, per_order) + 1,
            "sku": sku, "cat": cat["cat"].to_numpy()[sku], "size": size, "pref": pref,
            "colour": cat["colour"].to_numpy()[sku], "material": cat["material"].to_numpy()[sku],
            "fit": cat["fit"].to_numpy()[sku], "mto": cat["mto"].to_numpy()[sku],
            "opt_a": cat["opt_a"].to_numpy()[sku], "opt_b": cat["opt_b"].to_numpy()[sku],
            "quantity": rng.integers(1, 3, n),
            "unit_price": np.round(cat["base_price"].to_numpy()[sku] * fx * (1 - discount), 2),
            "discount": discount, "cur": cur[oi],
        })
        orders = orders.assign(**self._flags(rng, n_orders, bad_range="out_of_range"))
        lines = lines.assign(**self._flags(rng, n, bad_null="null_required",
                                           bad_range="out_of_range"))
        return orders, lines

    def _orders(self, writer: Writer, d: int, day: date, folder: Path, stamp: str) -> None:
        orders, lines = self._order_frames(d, day)
        self.order_frames[d] = (orders, lines)
        drift = d >= self.w.mess.schema_drift_day
        writer.write("erp_orders", orders, orders_sql(drift), folder / f"orders_{stamp}.csv")
        writer.write("erp_order_lines", lines, LINES_SQL, folder / f"order_lines_{stamp}.csv")
        rng = _rng(self.w.seed, S_FLOW, d)
        prev_orders, prev_lines = self.order_frames.get(d - 1, (orders.iloc[:0], lines.iloc[:0]))
        n = len(prev_orders)
        deliveries = prev_orders[["day_epoch", "order_no"]].assign(
            ship_s=_day_epoch(day) + rng.integers(0, 86_400, n),
            delivered=rng.random(n) < 0.7, transit=rng.integers(1, 4, n),
            carrier=rng.integers(0, len(v.CARRIERS), n))
        writer.write("erp_delivery_notes", deliveries, DELIVERIES_SQL,
                     folder / f"delivery_notes_{stamp}.csv")
        gross = np.bincount(prev_lines["order_no"],
                            weights=prev_lines["unit_price"] * prev_lines["quantity"],
                            minlength=n)[:n] if n else np.zeros(0)
        invoices = prev_orders[["day_epoch", "order_no"]].assign(
            gross=np.round(gross, 2), currency=np.array(v.CURRENCIES)[prev_orders["cur"]],
            issue_s=_day_epoch(day) + rng.integers(0, 86_400, n), paid=rng.random(n) < 0.9)
        writer.write("erp_invoices", invoices, INVOICES_SQL, folder / f"invoices_{stamp}.csv")
        self._returns(writer, d, day, rng, folder / f"returns_{stamp}.csv")

    def _returns(self, writer: Writer, d: int, day: date, rng, path: Path) -> None:
        _, sold = self.order_frames.get(d - RETURN_AFTER_DAYS, (None, None))
        if sold is None:
            sold = self.order_frames[d][1].iloc[:0]
        misfit = sold["size"].to_numpy() != sold["pref"].to_numpy()
        returned = sold[rng.random(len(sold)) < np.where(misfit, 0.35, 0.08)]
        size, pref = returned["size"].to_numpy(), returned["pref"].to_numpy()
        other = rng.integers(2, len(self.w.reasons), len(returned))
        frame = returned[["day_epoch", "order_no", "line_no"]].assign(
            quantity=np.abs(returned["quantity"].to_numpy()),
            reason=np.where(size > pref, 1, np.where(size < pref, 0, other)),
            text=rng.integers(0, len(v.RETURN_TEXTS), len(returned)),
            ret_s=_day_epoch(day) + rng.integers(0, 86_400, len(returned)))
        writer.write("erp_returns", frame,
                     RETURNS_SQL.replace("{reasons}", L(self.w.reasons)), path)

    def _resend_yesterday(self, d: int, day: date, folder: dict[str, Path]) -> None:
        """duplicate_files: yesterday's CRM or orders export re-sent under another name."""
        if d == 0:
            return
        rng = _rng(self.w.seed, S_MESS, 20_000 + d)
        yesterday = day - timedelta(days=1)
        for source, name in (("crm", "crm_customers"), ("orders", "orders")):
            if rng.random() >= self.w.mess.duplicate_files:
                continue
            src = self.landing / source / yesterday.isoformat() / f"{name}_{yesterday:%Y%m%d}.csv"
            dst = folder[source] / f"{name}_{yesterday:%Y%m%d}_resend.csv"
            shutil.copyfile(src, dst)
            self.summary.files.append(dst)
            self.summary.injected["duplicate_files"] += 1


def _crm_id(cust_no: np.ndarray) -> list[str]:
    return [f"C{c:08d}" for c in cust_no]


def write_truth(world: World, folder: Path) -> list[Path]:
    """What the sample world planted, for scoring (``upstream score``); never a landing
    source. customers.csv: per CRM record its true person (the person's first record), sizes,
    colour and fit (and whether the CRM states them), made-to-order propensity, price
    sensitivity; sizes.csv: per record and category the latent size; trends.csv: the planted
    trends; order_shares.csv: per day and product its expected share of the order lines (the
    trends, popularity and preferences together); unmet.csv: searches without results and
    sizes never in stock; world.json."""
    folder.mkdir(parents=True, exist_ok=True)
    cust, p, cat = world.customers, world.person, world.catalogue
    crm = np.array(_crm_id(cust["cust_no"].to_numpy()))
    household = cust["phone_no"].to_numpy() < cust["cust_no"].to_numpy()
    files = {
        "customers.csv": pd.DataFrame({
            "crm_id": crm, "person_crm_id": crm[p],
            "colour": np.where(world.colour[p] >= 0, np.array(v.COLOURS)[world.colour[p]], ""),
            "colour_stated": cust["pref_colour"].to_numpy()[p] >= 0,
            "fit": np.where(world.fit[p] >= 0, np.array(v.FITS)[world.fit[p]], ""),
            "fit_stated": cust["pref_fit"].to_numpy()[p] >= 0,
            "made_to_order_propensity": world.mto_propensity[p],
            "price_sensitivity": world.price_sensitivity[p],
            "shares_phone_with": np.where(household, np.roll(crm, 1), ""),
        }),
        "sizes.csv": pd.DataFrame({
            "crm_id": np.repeat(crm, len(v.CATEGORIES)),
            "category": np.tile(v.CATEGORIES, len(crm)),
            "size": np.array(v.SIZES)[world.sizes[p].reshape(-1)],
        }),
        "trends.csv": pd.DataFrame([
            {"attribute": a, "value": value, "direction": "rising" if sign > 0 else "falling",
             "factor_per_28_days": 2.0 ** (sign * 28 / v.TREND_DOUBLING_DAYS)}
            for (a, value), sign in v.TRENDS.items()]),
        # the expected share of each day's order lines per product: the planted demand
        "order_shares.csv": _order_shares(world),
        "unmet.csv": pd.DataFrame(
            [{"kind": "search_without_results", "subject": q, "category": "", "size": ""}
             for q in v.SEARCHES[v.SEARCH_RESULTS_ZERO_FROM:]]
            + [{"kind": "size_never_in_stock", "subject": f"SKU-{sku:05d}",
                "category": v.CATEGORIES[cat["cat"].iloc[sku]],
                "size": v.SIZES[size]} for sku, size in world.sold_out]),
    }
    written = []
    for name, frame in files.items():
        frame.to_csv(folder / name, index=False)
        written.append(folder / name)
    (folder / "world.json").write_text(json.dumps({
        "seed": world.seed, "sf": world.sf, "days": world.days,
        "start": world.start.isoformat(), "loyalty": LOYALTY,
        "trend_doubling_days": v.TREND_DOUBLING_DAYS, "sold_out_popularity": 3.0,
        "discount_probability": "0.1 + 0.3 x price_sensitivity"}, indent=2) + "\n")
    return [*written, folder / "world.json"]


def _order_shares(world: World) -> pd.DataFrame:
    """Per day and product (in catalogue order) its expected share of the day's order lines."""
    cat, days = world.catalogue, world.days

    def per_product(values: np.ndarray) -> np.ndarray:  # the catalogue once per day
        return np.tile(np.asarray(values, dtype=object), days)

    return pd.DataFrame({
        "day": np.repeat(np.array([(world.start + timedelta(days=d)).isoformat()
                                   for d in range(days)], dtype=object), len(cat)),
        "sku": per_product([f"SKU-{sku:05d}" for sku in range(len(cat))]),
        "category": per_product(np.array(v.CATEGORIES)[cat["cat"].to_numpy()]),
        "colour": per_product(np.array(v.COLOURS)[cat["colour"].to_numpy()]),
        "material": per_product(np.array(v.MATERIALS)[cat["material"].to_numpy()]),
        "fit": per_product(np.array(v.FITS)[cat["fit"].to_numpy()]),
        "share": np.concatenate([world.expected_order_shares(d) for d in range(days)]),
    })


def generate(
    landing_dir: Path, *, seed: int = 42, sf: float = 0.01, days: int = 7,
    start: date = date(2026, 11, 1), mess: Messiness | None = None, progress: bool = False,
    seeds_dir: Path | None = None, truth_dir: Path | None = None,
) -> GenerationSummary:
    """Write ``days`` days of landing files for every source, starting at ``start``
    (``progress``: a progress bar per day on stderr; ``seeds_dir``: the dbt seeds the
    vocabularies come from, default the project's; ``truth_dir``: where to write what the
    world planted, see write_truth; None: not written)."""
    if sf <= 0 or days < 1:
        raise ValueError(f"scale factor ({sf}) and days ({days}) must be positive")
    from upstream.settings import get_settings

    settings = get_settings()
    if seeds_dir is None:
        seeds_dir = settings.dbt_project_dir / "seeds"
    world = World(seed, sf, days, start, mess or Messiness(), v.return_reasons(seeds_dir))
    summary = GenerationSummary(landing_dir)
    gen = DayGenerator(world, landing_dir, summary)
    # the same memory_limit and spill folder as every other DuckDB connection of the pipeline
    limits = settings.duckdb_limits
    Path(limits["temp_directory"]).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config=dict(limits))
    finisher = Finisher()
    try:
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
        con.execute(MACROS)
        days_iter = range(days)
        if progress:
            from tqdm import tqdm

            days_iter = tqdm(days_iter, desc="generate", unit="day", leave=True,
                             mininterval=0.5, file=sys.stderr)
        for d in days_iter:
            gen.run(con, d, finisher)
    finally:
        try:
            finisher.close()
        finally:
            con.close()
    if truth_dir is not None:
        write_truth(world, truth_dir)
    (landing_dir / SAMPLE_MARKER).write_text(json.dumps(
        {"seed": seed, "sf": sf, "days": days, "start": start.isoformat()}) + "\n")
    log.info("generated %d files into %s: rows %s, messiness %s", len(summary.files),
             landing_dir, dict(summary.rows), dict(summary.injected))
    return summary
