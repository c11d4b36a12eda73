"""The engine-specific SQL of macros/cross_engine.sql, checked without starting Spark (the builds
on both engines are compared in tests/integration/test_spark_parity.py)."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import PROJECT_DIR
from upstream.settings import java_memory

MACROS = "\n".join(p.read_text() for p in sorted((PROJECT_DIR / "dbt_project" / "macros")
                                                 .glob("*.sql")))
MODELS = PROJECT_DIR / "dbt_project" / "models"


def _dispatched() -> set[str]:
    return set(re.findall(r"adapter\.dispatch\('(\w+)', 'upstream'\)", MACROS))


def test_every_dispatched_macro_has_a_duckdb_and_a_spark_version():
    names = _dispatched()
    assert len(names) >= 30
    for name in names:
        assert f"macro default__{name}(" in MACROS, name
        assert f"macro spark__{name}(" in MACROS, name


def test_spark_strip_accents_maps_each_letter_as_duckdb_does():
    src, dst = re.search(r"translate\(\{\{ text \}\}, '([^']+)', '([^']+)'\)", MACROS).groups()
    assert len(src) == len(dst) == 488
    con = duckdb.connect()
    assert con.execute("select strip_accents(?)", [src]).fetchone()[0] == dst
    # and whole words, as the vocabularies meet them
    assert con.execute("select strip_accents('Größe Éte Łódź Ærø')").fetchone()[0] == \
        "Größe Ete Łodz Ærø".translate(str.maketrans(src, dst))


def test_models_hold_no_duckdb_only_sql():
    """What only DuckDB parses stays in the macros' default__ versions: models call macros."""
    only_duckdb = {
        "struct_pack(": "struct_of", "list(": "ordered_list / sorted_distinct_list",
        "unnest(": "unnested / unnest_list", "string_split(": "split_text",
        "regexp_matches(": "regexp_contains", "date_diff(": "days_between / weeks_between",
        "arg_max(": "arg_max macro", "->>": "json_text", "map_extract_value(": "map_lookup",
        " exclude (": "star_except", "not materialized": "not_materialized",
        "'-infinity'": "earliest_timestamp", "list_transform(": "list_map",
        "array_to_string(": "list_join", "isodow(": "iso_weekday", "varchar": "string",
        "strip_accents(": "strip_accents macro", "struct_extract(": "struct_field",
    }
    for path in MODELS.rglob("*.sql"):
        sql = re.sub(r"--[^\n]*", "", path.read_text())  # comments may name anything
        sql = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", sql, flags=re.S)  # macro calls
        for pattern, instead in only_duckdb.items():
            assert pattern not in sql.lower(), f"{path.name}: {pattern!r}, use {instead}"


@pytest.mark.parametrize(("limit", "jvm"), [("6GB", "5722m"), ("6144MB", "5859m"),
                                            ("6GiB", "6144m"), ("1024MiB", "1024m")])
def test_the_spark_driver_gets_the_memory_limit_as_a_jvm_size(limit, jvm):
    assert java_memory(limit) == jvm


def test_a_memory_limit_that_is_not_a_size_is_refused():
    with pytest.raises(ValueError, match="is not a size"):
        java_memory("lots")
