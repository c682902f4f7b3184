"""The comparison table of bench/compare.py: every numeric figure of both sides, per pair
and as medians, nothing else."""

from __future__ import annotations

from bench.compare import comparison, run_order


def test_each_pair_and_the_medians_of_numeric_figures() -> None:
    baseline = [
        {"when": "t1", "rate": 1000, "cpu_ms": 0.5, "ok": True},
        {"when": "t2", "rate": 3000, "cpu_ms": 0.3, "ok": True},
        {"when": "t3", "rate": 2000, "cpu_ms": 0.4, "ok": True},
    ]
    current = [
        {"when": "t4", "rate": 2000, "cpu_ms": 0.25, "ok": True},
        {"when": "t5", "rate": 4000, "cpu_ms": 0.2, "ok": True},
        {"when": "t6", "rate": 3000, "cpu_ms": 0.3, "ok": True},
    ]
    header, rate, cpu = comparison(baseline, current)
    assert header == ["figure", "pair 1", "pair 2", "pair 3", "median", "ratio"]
    assert rate == [
        "rate",
        "1,000 → 2,000",
        "3,000 → 4,000",
        "2,000 → 3,000",
        "2,000 → 3,000",
        "1.50",
    ]
    assert cpu == ["cpu_ms", "0.5 → 0.25", "0.3 → 0.2", "0.4 → 0.3", "0.4 → 0.25", "0.62"]


def test_a_figure_one_side_lacks_is_left_out() -> None:
    rows = comparison([{"rate": 1.0}], [{"rate": 2.0, "new_figure": 5.0}])
    assert [row[0] for row in rows] == ["figure", "rate"]


def test_the_side_that_runs_first_alternates_so_an_order_effect_cancels() -> None:
    assert [run_order(pair) for pair in (1, 2, 3, 4)] == [
        ("baseline", "this"),
        ("this", "baseline"),
        ("baseline", "this"),
        ("this", "baseline"),
    ]
