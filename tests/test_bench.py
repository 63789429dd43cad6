"""benchmarks/bench.py end to end in --dry-run, its figures, and training
under --distribute (mirrored on two logical CPU devices, in a subprocess)."""

import json
import os
import statistics
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT, SAMPLE_DIR, run_script

from benchmarks import perf


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


MIRRORED = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from digitsuite.backend import keras, tf

    # Two logical CPU devices: must be set before TensorFlow's runtime starts.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import numpy as np
    import train_cnn
    from digitsuite import cli
    from digitsuite.training import loop as training
    from digitsuite.data.augment import POLICIES
    from digitsuite.data.datasets import load_dataset, stratified_split
    from digitsuite.training.distribute import make_strategy
    from models import build_cnn

    out = sys.argv[3]
    cli.run(train_cnn.main, train_cnn.parse_args(
        ["--dry-run", "--distribute", "mirrored", "--data-dir", sys.argv[2], "--out-dir", out]))

    # An interrupted mirrored run resumes from its checkpoint to the same weights.
    class StopAtSecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    data = load_dataset("mnist", sys.argv[2])
    train, val = stratified_split(data.x_train[:240], data.y_train[:240], 0.25, seed=0)
    settings = dict(epochs=2, batch_size=64, learning_rate=2e-3, seed=4,
                    policy=POLICIES["mnist"], verbose=0)
    strategy = make_strategy("mirrored")
    with strategy.scope():
        training.set_seed(4)
        whole = build_cnn()
        training.fit(whole, train, val, **settings)
        training.set_seed(4)
        try:
            training.fit(build_cnn(), train, val, checkpoint_dir=out + "/ck",
                         callbacks=[StopAtSecondEpoch()], **settings)
        except KeyboardInterrupt:
            pass
        model, state = training.load_checkpoint(out + "/ck")
        training.fit(model, train, val, checkpoint_dir=out + "/ck", resume_state=state,
                     **settings)
    same = all(np.array_equal(a, b) for a, b in zip(whole.get_weights(), model.get_weights()))
    print(f"replicas in sync: {strategy.num_replicas_in_sync}; resumed after "
          f"{state['epochs_done']}; same weights: {same}")
""")


def test_mirrored_training_on_two_cpu_devices_runs_and_resumes(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(ROOT), str(SAMPLE_DIR),
                           str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distribute: mirrored, 2 replicas" in done.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["params"] == 237_482
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["distribute"] == "mirrored"
    assert "replicas in sync: 2; resumed after 1; same weights: True" in done.stdout


def test_multiworker_without_tf_config_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--dry-run", "--distribute", "multiworker",
                                 "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --distribute multiworker needs TF_CONFIG")
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("text, message", [
    ("{not json", "TF_CONFIG is not usable"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is not usable"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "task index 3 is not in its worker list"),
])
def test_bad_tf_config_is_named(text, message):
    from digitsuite.errors import DigitsuiteError
    from digitsuite.training.distribute import check_tf_config

    with pytest.raises(DigitsuiteError, match=message):
        check_tf_config(text)
