"""benchmarks/bench.py end to end in --dry-run: the figures it saves are
computed from its own measurements."""

import json
import statistics

import pytest

from benchmarks import perf
from tests.support import SAMPLE_DIR, run_script


def test_dry_run_writes_figures_computed_from_its_measurements(tmp_path):
    # A target any model reaches at once, so both times to target exist.
    result = run_script("benchmarks.bench", ["--dry-run", "--data-dir", SAMPLE_DIR,
                                             "--out-dir", tmp_path, "--target", "0.01"])
    [json_path] = tmp_path.glob("*-mnist-dry-run.json")
    saved = json.loads(json_path.read_text())
    assert saved["mode"] == "dry-run" and saved["n_train"] == 540 and saved["n_test"] == 200
    race, infer = saved["race"], saved["inference"]
    ref_epoch = statistics.median(race["reference"]["epoch_seconds"])
    suite_epoch = statistics.median(race["suite"]["epoch_seconds"])
    assert saved["epoch_time_ratio"] == pytest.approx(suite_epoch / ref_epoch)
    assert saved["time_to_target_ratio"] == pytest.approx(
        race["suite"]["target_reached_at"]["seconds"]
        / race["reference"]["target_reached_at"]["seconds"])
    for side in ("reference", "suite"):
        assert infer[side]["images_per_second"] == pytest.approx(
            200 / statistics.median(infer[side]["seconds"]))
    assert saved["inference_speedup"] == pytest.approx(
        infer["suite"]["images_per_second"] / infer["reference"]["images_per_second"])
    assert 100 < saved["peak_rss_mb"] < 24_000
    assert infer["suite"]["engine"] == "litert-xnnpack" and infer["suite"]["freeze_seconds"] > 0
    assert "--dry-run" in saved["memory"]["command"]
    for name in ("lr", "rf"):
        b = saved["baselines"][name]
        assert b["fit_time_ratio"] == pytest.approx(
            b["suite"]["fit_seconds"] / b["default"]["fit_seconds"])
    assert set(saved["goals_met"]) == set(perf.GOALS)
    assert result["epoch_time_ratio"] == saved["epoch_time_ratio"]

    table = json_path.with_suffix(".md").read_text()
    assert f"| {saved['epoch_time_ratio']:.2f}x (goal <= 0.7) |" in table
    assert "AMD" in table or "cores" in table
    assert not list(tmp_path.glob(".rss-run-*")), "scratch folder of the memory run left behind"
