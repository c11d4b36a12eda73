"""Build dbt_project/seeds/countries.csv from pycountry (ISO 3166-1), the one source of truth.

Every alias (alpha-2, alpha-3, numeric, English short/official/common names and the names in
the languages of our markets) is stored in the cleaned form the `normalise_country` macro
compares against: accents stripped, ß -> SS, upper case, every run of other characters -> one
space. An alias that would name two countries is dropped (and printed). Re-run after upgrading
pycountry; tests/unit/test_vocabularies.py checks that the committed seed is what this builds.

    .venv/bin/python scripts/build_countries_seed.py
"""

from __future__ import annotations

import csv
import gettext
import io
import re
import sys
import unicodedata
from pathlib import Path

SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "countries.csv"
LANGUAGES = ["de", "fr", "it", "es", "nl", "pl", "pt", "sv", "da", "cs"]
# common names ISO does not list (usage in ERPs and shop back-ends)
EXTRA = {
    "UK": "GB", "U.K.": "GB", "GROSSBRITANNIEN": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB",
    "SCOTLAND": "GB", "WALES": "GB", "NORTHERN IRELAND": "GB", "EL": "GR", "HOLLAND": "NL",
    "U S A": "US", "U S": "US", "AMERICA": "US", "UNITED STATES OF AMERICA": "US",
    "RUSSIA": "RU", "SOUTH KOREA": "KR", "NORTH KOREA": "KP", "CZECH REPUBLIC": "CZ",
    "TURKEY": "TR", "VIETNAM": "VN",
}


def clean(text: str) -> str:
    """The cleaning the SQL macro applies: see dbt_project/macros/normalise.sql."""
    text = text.replace("ß", "ss").replace("ẞ", "SS")
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", " ", text.upper()).strip()


def build() -> str:
    import pycountry

    translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
                    for lang in LANGUAGES]
    aliases: dict[str, set[str]] = {}
    for country in pycountry.countries:
        names = {country.alpha_2, country.alpha_3, country.numeric, country.name}
        for attr in ("official_name", "common_name"):
            if getattr(country, attr, None):
                names.add(getattr(country, attr))
        for tr in translations:
            names |= {tr.gettext(n) for n in list(names) if not n.isdigit()}
        for name in names:
            aliases.setdefault(clean(name), set()).add(country.alpha_2)
    for alias, code in EXTRA.items():
        aliases.setdefault(clean(alias), set()).add(code)
    ambiguous = sorted(a for a, codes in aliases.items() if len(codes) > 1)
    if ambiguous:
        print(f"dropped {len(ambiguous)} ambiguous aliases: {ambiguous}", file=sys.stderr)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["alias", "country_code"])
    for alias in sorted(a for a in aliases if a and a not in ambiguous):
        writer.writerow([alias, next(iter(aliases[alias]))])
    return out.getvalue()


if __name__ == "__main__":
    SEED.write_text(build(), encoding="utf-8")
    print(f"wrote {SEED}")
