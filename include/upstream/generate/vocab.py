"""Vocabularies of the sample world: an EU apparel maker selling stock and made-to-order items."""

from __future__ import annotations

import csv
from pathlib import Path

CATEGORIES = ["dresses", "shirts", "trousers", "jackets", "knitwear", "skirts"]
SIZES = ["XS", "S", "M", "L", "XL"]
COLOURS = ["black", "white", "navy", "red", "green", "beige", "grey"]
MATERIALS = ["cotton", "wool", "linen", "silk", "denim"]
FITS = ["slim", "regular", "relaxed"]
OPTIONS = ["sleeve=long", "sleeve=short", "collar=mandarin", "collar=classic", "hem=raw",
           "length=petite", "length=tall", "pockets=hidden"]
FIRST_NAMES = ["Anna", "Lukas", "Marie", "Jonas", "Léa", "Mateo", "Sofía", "Noah", "Zoë", "Björn",
               "Chloé", "Jürgen", "Inès", "Łukasz", "Ana", "Émile"]
LAST_NAMES = ["Müller", "Dubois", "Rossi", "García", "Novak", "Jansen", "Kowalski", "Șerban",
              "Öztürk", "Núñez", "Lefèvre", "Schmidt"]
CITIES = ["Berlin", "Paris", "Milano", "Madrid", "Amsterdam", "Wien", "Kraków", "Lisboa"]
STREETS = ["Hauptstraße", "Rue de la Paix", "Via Roma", "Calle Mayor", "Kerkstraat", "Ringstraße"]
COUNTRIES = ["DE", "FR", "IT", "ES", "NL", "AT", "PL", "PT"]
UTC_OFFSETS = ["+01:00", "+01:00", "+01:00", "+01:00", "+01:00", "+01:00", "+01:00", "+00:00"]
SEGMENTS = ["new", "regular", "vip"]
EVENT_TYPES = ["page_view", "product_view", "search", "add_to_cart", "remove_from_cart",
               "wishlist", "configurator_change", "login", "checkout"]
EVENT_WEIGHTS = [0.30, 0.27, 0.10, 0.09, 0.03, 0.05, 0.06, 0.06, 0.04]
SEARCHES = ["linen dress", "wool coat", "silk shirt", "petite trousers", "green knit",
            "tall jeans", "vegan leather jacket", "maternity dress", "xxl linen shirt"]
# the last three have no results in the catalogue
SEARCH_RESULTS_ZERO_FROM = 6
# Planted demand trends (truth/trends.csv): a rising value's weight doubles every
# TREND_DOUBLING_DAYS days, a falling one's halves; every other value stays flat. Days count
# from the first generated day, so adding days never changes the days before.
TRENDS = {("colour", "green"): 1, ("colour", "beige"): -1, ("material", "linen"): 1,
          ("material", "wool"): -1, ("category", "skirts"): 1, ("category", "jackets"): -1}
TREND_DOUBLING_DAYS = 28
USER_AGENTS = ["Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0)",
               "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)", "Mozilla/5.0 (Linux; Android 15)"]
BOT_AGENT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CURRENCIES = ["EUR", "CHF", "GBP", "SEK", "PLN"]
FX_PER_EUR = [1.0, 0.94, 0.85, 11.2, 4.3]
CARRIERS = ["DHL", "DPD", "GLS", "PostNL", "Colissimo"]
# Return reasons: the list and each reason's size direction live in one seed,
# dbt_project/seeds/return_reasons.csv (see return_reasons). The sample's customers give the
# reason with direction +1 when the size was too small, -1 when too large, else one of these.
OTHER_RETURN_REASONS = ["colour_not_as_shown", "quality", "changed_mind"]
RETURN_TEXTS = ["", "Fits small, \"M\" is more like an S", "colour darker than on screen",
                "seam came open, after 2 washes", "", "changed my mind; ordered two sizes"]


def return_reasons(seeds_dir: Path) -> list[str]:
    """[too small, too large, *others]: the first two are the seed's reasons with size direction
    +1 and -1; every other reason must be in the seed too (else a ValueError says which)."""
    path = seeds_dir / "return_reasons.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    direction = {r["size_direction"]: r["reason_code"] for r in rows if r["size_direction"]}
    unknown = sorted(set(OTHER_RETURN_REASONS) - {r["reason_code"] for r in rows})
    if unknown or not {"1", "-1"} <= set(direction):
        raise ValueError(f"{path} lacks the generator's return reasons {unknown} or a reason "
                         "with size direction 1 and -1")
    return [direction["1"], direction["-1"], *OTHER_RETURN_REASONS]


def sql_list(values: list) -> str:
    """A DuckDB list literal of strings or numbers."""
    if all(isinstance(v, (int, float)) for v in values):
        return "[" + ", ".join(repr(v) for v in values) + "]"
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"
