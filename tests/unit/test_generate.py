from datetime import date

from upstream.generate import generate


def _bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.*"))}


def test_same_seed_gives_identical_files(tmp_path):
    generate(tmp_path / "a", seed=7, customers_n=50, days=2)
    generate(tmp_path / "b", seed=7, customers_n=50, days=2)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_other_seed_gives_other_data(tmp_path):
    generate(tmp_path / "a", seed=7, customers_n=50, days=1)
    generate(tmp_path / "b", seed=8, customers_n=50, days=1)
    assert _bytes(tmp_path / "a") != _bytes(tmp_path / "b")


def test_adding_days_leaves_earlier_days_unchanged(tmp_path):
    generate(tmp_path / "short", seed=3, customers_n=40, days=2)
    generate(tmp_path / "long", seed=3, customers_n=40, days=4)
    short, long = _bytes(tmp_path / "short"), _bytes(tmp_path / "long")
    assert short.items() <= long.items()
    assert any("2026-11-04" in k for k in long)


def test_layout_is_source_then_day(tmp_path):
    summary = generate(tmp_path, seed=1, customers_n=20, days=1, start=date(2026, 3, 5))
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in summary.files)
    assert rel == ["crm/2026-03-05/customers.csv", "orders/2026-03-05/order_lines.csv",
                   "orders/2026-03-05/orders.csv", "web/2026-03-05/events.ndjson"]
    assert summary.rows["crm_customers"] == 20
