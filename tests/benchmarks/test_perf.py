"""The benchmark's measurements and summary (benchmarks/perf.py): a child's
own peak memory, the recipes' commands, the ratios and the goals."""

import sys

import numpy as np
import pytest

from benchmarks import perf


def test_child_peak_memory_is_the_childs_own_not_this_processes():
    # Linux carries a forking process' high-water mark into its child, so a
    # child started straight from a big process would report that size.
    ballast = np.ones(400 * 2**20 // 8)  # 400 MB held (and touched) here
    code, peak_mb = perf.child_peak_rss_mb([sys.executable, "-c", "x = bytearray(60 * 2**20)"])
    assert code == 0 and 60 < peak_mb < 200, peak_mb
    code, _ = perf.child_peak_rss_mb([sys.executable, "-c", "raise SystemExit(3)"])
    assert code == 3
    del ballast


def test_short_recipes_print_the_train_cnn_command_that_trains_them():
    import shlex

    import train_cnn

    for dataset, recipe in perf.SHORT_RECIPES.items():
        python, script, *argv = shlex.split(perf.recipe_command(dataset, recipe))
        assert script == "train_cnn.py"
        args = train_cnn.parse_args(argv)
        assert args.dataset == dataset
        assert {key: getattr(args, key) for key in recipe} == recipe


def fake_measurements(ref_hit=True):
    def side(epoch_seconds, hit_seconds, hit=True):
        checks = [{"epoch": 1.0, "seconds": hit_seconds, "test_accuracy": 0.99},
                  {"epoch": 2.0, "seconds": 50.0, "test_accuracy": 0.99}]
        return {"epoch_seconds": epoch_seconds, "checks": checks,
                "target_reached_at": checks[0] if hit else None,
                "final_test_accuracy": 0.99, "images_per_epoch": 1000}

    sides = {"reference": side([30.0, 10.0, 12.0, 11.0], 40.0, hit=ref_hit),
             "suite": side([20.0, 6.0, 8.0], 10.0)}
    infer = {"reference": {"images_per_second": 1000.0},
             "suite": {"images_per_second": 3000.0}}
    trees = {"lr": {"fit_time_ratio": 0.5}, "rf": {"fit_time_ratio": 2.0}}
    return sides, infer, {"peak_rss_mb": 900.0}, trees


def test_summary_ratios_leave_out_the_tracing_epoch_and_check_the_goals():
    summary = perf.summarize(*fake_measurements())
    assert summary["reference_epoch_seconds"] == 11.0 and summary["suite_epoch_seconds"] == 7.0
    assert summary["epoch_time_ratio"] == pytest.approx(7 / 11)
    assert summary["suite_train_images_per_second"] == pytest.approx(1000 / 7)
    assert summary["time_to_target_ratio"] == pytest.approx(0.25)
    assert summary["inference_speedup"] == pytest.approx(3.0)
    assert summary["goals_met"] == {"time_to_target_ratio": True, "epoch_time_ratio": True,
                                    "inference_speedup": True, "peak_rss_mb": True}


def test_summary_without_a_reference_time_to_target_gives_a_bound():
    summary = perf.summarize(*fake_measurements(ref_hit=False))
    assert summary["reference_seconds_to_target"] is None
    assert summary["time_to_target_ratio"] is None
    # The suite got there in 10 s; the reference had not after all its 50 s.
    assert summary["time_to_target_ratio_below"] == pytest.approx(0.2)
    assert summary["goals_met"]["time_to_target_ratio"] is True
