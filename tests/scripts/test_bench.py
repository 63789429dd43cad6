"""benchmarks/bench.py end to end in --dry-run: the figures it saves are
computed from its own measurements, and it records the machine's load."""

import json
import statistics

import pytest

from benchmarks import perf
from tests.support import SAMPLE_DIR, run_script


@pytest.mark.slow
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
    assert saved["time_to_target_relation"] == "="
    # One epoch each (the dry run's cap), the suite on the default 24-epoch schedule.
    assert [race[side]["stopped_by"] for side in ("reference", "suite")] == ["target"] * 2
    assert len(race["suite"]["epoch_seconds"]) == 1 and saved["suite_recipe"]["epochs"] == 24
    assert saved["caps"]["max_epochs"] == 1 and "1 epoch" in saved["caps"]["text"]
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
    load = saved["load"]
    for moment in ("before", "after"):
        assert len(load[moment]["load_average"]) == 3
        assert isinstance(load[moment]["busy_processes"], list)
    assert 0 <= load["other_processes_cores"] <= saved["machine"]["cores"]
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["memory_gb"] > 0

    assert saved["suite_precision"] == saved["machine"]["precision"]["precision"]
    assert saved["machine"]["cpu_flags"] and set(saved["matmul_gflops"]) == {"float32",
                                                                              "bfloat16"}
    assert saved["suite_share_of_limit"] == pytest.approx(
        saved["suite_train_gflops"] / saved["matmul_gflops"][saved["suite_precision"]])
    assert infer["suite"]["precision"] in ("float32", "int8")
    assert saved["inference_accuracy_change_points"] == pytest.approx(
        100 * abs(infer["suite"]["test_accuracy"] - infer["reference"]["test_accuracy"]))

    table = json_path.with_suffix(".md").read_text()
    epoch_goal = saved["goals"]["epoch_time_ratio"][1]
    assert f"| {saved['epoch_time_ratio']:.2f}x (goal <= {epoch_goal:g}, " in table
    assert f"{saved['machine']['cores']} cores" in table and "Load average" in table
    assert "--dry-run --target 0.01" in table
    assert not list(tmp_path.glob(".rss-run-*")), "scratch folder of the memory run left behind"
