from datetime import date

import pytest

from upstream.generate import Messiness, generate


def _bytes(root):
    """Landing files by path (the hidden .sample.json says which sample: not a landing file)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.*"))
            if not p.name.startswith(".")}


def test_same_seed_gives_identical_files(tmp_path):
    generate(tmp_path / "a", seed=7, sf=0.001, days=2)
    generate(tmp_path / "b", seed=7, sf=0.001, days=2)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_other_seed_gives_other_data(tmp_path):
    generate(tmp_path / "a", seed=7, sf=0.001, days=1)
    generate(tmp_path / "b", seed=8, sf=0.001, days=1)
    assert _bytes(tmp_path / "a") != _bytes(tmp_path / "b")


def test_adding_days_leaves_earlier_days_unchanged_when_nothing_arrives_late(tmp_path):
    mess = Messiness().with_(late_events=0.0)
    generate(tmp_path / "short", seed=3, sf=0.001, days=2, mess=mess)
    generate(tmp_path / "long", seed=3, sf=0.001, days=4, mess=mess)
    short, long = _bytes(tmp_path / "short"), _bytes(tmp_path / "long")
    assert short.items() <= long.items()
    assert any("2026-11-04" in k for k in long)


def test_layout_is_source_then_day(tmp_path):
    summary = generate(tmp_path, seed=1, sf=0.001, days=1, start=date(2026, 3, 5),
                       mess=Messiness.clean())
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in summary.files)
    assert rel == [
        "catalogue/2026-03-05/products_20260305.csv",
        "crm/2026-03-05/crm_customers_20260305.csv",
        "crm/2026-03-05/legacy_customers_20260305.csv",
        "orders/2026-03-05/delivery_notes_20260305.csv",
        "orders/2026-03-05/invoices_20260305.csv",
        "orders/2026-03-05/order_lines_20260305.csv",
        "orders/2026-03-05/orders_20260305.csv",
        "orders/2026-03-05/returns_20260305.csv",
        "web/2026-03-05/events_20260305.ndjson.gz",
    ]
    assert summary.rows["crm_customers"] == 100  # SF 0.001 = 100 customers
    assert sum(summary.injected.values()) == 0


def test_legacy_crm_export_is_latin1_with_semicolons(tmp_path):
    generate(tmp_path, seed=1, sf=0.002, days=1, mess=Messiness.clean())
    raw = next(tmp_path.glob("crm/*/legacy_customers_*.csv")).read_bytes()
    assert raw.split(b"\n", 1)[0].startswith(b"crm_id;first_name;last_name;")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8") if any(b > 127 for b in raw) else b"\xff".decode("utf-8")


def test_unknown_knob_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown messiness knob"):
        Messiness.parse(["late_evnts=0.1"])


def test_web_files_finished_on_a_thread_are_all_in_place_when_generate_returns(tmp_path):
    import gzip

    summary = generate(tmp_path, seed=4, sf=0.001, days=3)
    web = [p for p in summary.files if p.name.endswith(".ndjson.gz")]
    assert len(web) == 3 and all(p.exists() for p in summary.files)
    for path in web:  # whole streams: the messy lines' second member included
        assert gzip.decompress(path.read_bytes()).count(b"\n") > 100
    assert not [p for p in tmp_path.rglob("*.tmp*")]


def test_a_failure_finishing_a_web_file_stops_generation_and_leaves_no_part_in_place(
        tmp_path, monkeypatch):
    from upstream.generate import core

    calls = []

    def failing(src, dst, **kwargs):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("No space left on device")
        real(src, dst, **kwargs)

    real = core.gzip_parallel
    monkeypatch.setattr(core, "gzip_parallel", failing)
    with pytest.raises(OSError, match="No space left"):
        generate(tmp_path, seed=4, sf=0.001, days=3)
    web = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ndjson.gz"))
    assert web == ["web/2026-11-01/events_20261101.ndjson.gz"]  # day 2 failed; day 3 was not handed over
    assert not (tmp_path / ".sample.json").exists()
