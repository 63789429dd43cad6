"""baselines.py end to end in --dry-run: each model's files, its metrics
reproduced from the saved model, its settings, and resuming the dense net."""

import json

import numpy as np
import pytest

from digitsuite.backend import keras
from digitsuite.cli import DRY_RUN_TEST, default_of
from digitsuite.data.augment import POLICIES
from digitsuite.data.datasets import load_dataset, stratified_subset
from digitsuite.data.features import make_features
from digitsuite.inference.predict import predict_proba
from digitsuite.training import loop as training
from models import build_logistic_regression, build_random_forest
from tests.support import SAMPLE_DIR, comparable, read_json, run_script, saved_weights

MODEL_FILES = {"lr": "model.skops", "rf": "model.skops", "dense": "model.keras"}
RUN_FILES = ["config.json", "metrics.json", "report.md", "confusion.png"]


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory):
    """One ``baselines.py --dry-run`` run of all three models (a 10-tree forest)."""
    out = tmp_path_factory.mktemp("baselines")
    run_script("baselines", ["--dry-run", "--rf-trees", 10, "--data-dir", SAMPLE_DIR,
                             "--out-dir", out])
    return out


@pytest.fixture(scope="module")
def dry_run_test_set():
    ds = load_dataset("mnist", SAMPLE_DIR)
    return stratified_subset(ds.x_test, ds.y_test, DRY_RUN_TEST, seed=0)


def test_dry_run_writes_each_models_outputs_in_its_folder(baseline_dir):
    for name, model_file in MODEL_FILES.items():
        for file in [model_file, *RUN_FILES]:
            path = baseline_dir / name / file
            assert path.is_file() and path.stat().st_size > 0, path
        assert (baseline_dir / name / "history.png").is_file() == (name == "dense")
        assert (baseline_dir / name / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(baseline_dir.rglob(".*tmp*")), "temporary files left behind"


def test_saved_models_reproduce_their_metrics(baseline_dir, dry_run_test_set):
    import skops.io

    x_test, y_test = dry_run_test_set
    for name in ("lr", "rf"):
        config = read_json(baseline_dir / name / "config.json")
        metrics = read_json(baseline_dir / name / "metrics.json")
        model = skops.io.load(baseline_dir / name / "model.skops",
                              trusted=["sklearn.tree._tree.Tree"])
        assert config["features"] == "deskew"
        pred = model.predict(make_features(x_test, config["features"]))
        assert np.mean(pred == y_test) == pytest.approx(metrics["test_accuracy"])
        assert metrics["n_test"] == DRY_RUN_TEST and metrics["train_seconds"] > 0
        assert 0 <= metrics["val_accuracy"] <= 1
    dense = keras.models.load_model(baseline_dir / "dense" / "model.keras", safe_mode=True)
    metrics = read_json(baseline_dir / "dense" / "metrics.json")
    proba = predict_proba(dense, x_test)
    assert np.mean(proba.argmax(1) == y_test) == pytest.approx(metrics["test_accuracy"])
    assert metrics["epochs_run"] == 1


def test_parameter_counts_in_metrics(baseline_dir):
    import skops.io

    forest = skops.io.load(baseline_dir / "rf" / "model.skops",
                           trusted=["sklearn.tree._tree.Tree"])
    assert len(forest.estimators_) == 10
    counts = {name: read_json(baseline_dir / name / "metrics.json")["params"]
              for name in MODEL_FILES}
    assert counts["lr"] == 784 * 10 + 10
    assert counts["dense"] == 784 * 512 + 512 + 512 * 64 + 64 + 64 * 10 + 10
    assert counts["rf"] == sum(tree.tree_.node_count for tree in forest.estimators_)


def test_config_records_each_models_settings(baseline_dir):
    lr = read_json(baseline_dir / "lr" / "config.json")
    rf = read_json(baseline_dir / "rf" / "config.json")
    dense = read_json(baseline_dir / "dense" / "config.json")
    assert lr["model"] == "lr"
    assert lr["estimator_params"]["C"] == default_of(build_logistic_regression, "C")
    assert rf["estimator_params"]["n_estimators"] == 10
    assert rf["estimator_params"]["criterion"] == default_of(build_random_forest, "criterion")
    assert dense["effective_epochs"] == 1
    assert dense["augmentation"] == POLICIES["mnist"].as_dict()  # the CNN's policy
    for config in (lr, rf, dense):
        assert config["dry_run"] is True and config["seed"] == 0
        assert "IDX files in" in config["data_source"]


def test_models_flag_trains_only_those_and_features_flag_is_recorded(tmp_path):
    run_script("baselines", ["--dry-run", "--models", "rf", "--rf-trees", 5,
                             "--features", "pixels", "--data-dir", SAMPLE_DIR,
                             "--out-dir", tmp_path])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rf"]
    assert read_json(tmp_path / "rf" / "config.json")["features"] == "pixels"


@pytest.mark.slow
def test_dense_net_in_baselines_resumes_to_the_same_result(tmp_path, monkeypatch, capsys):
    argv = ["--models", "dense", "--dry-run", "--data-dir", SAMPLE_DIR]
    run_script("baselines", [*argv, "--out-dir", tmp_path / "clean"])
    original = training.EpochCheckpoint.on_epoch_end

    def save_then_interrupt(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", save_then_interrupt)
    out = tmp_path / "stopped"
    with pytest.raises(SystemExit) as exit_info:
        run_script("baselines", [*argv, "--out-dir", out])
    assert exit_info.value.code == 130
    assert "baselines.py --models dense --resume" in capsys.readouterr().err
    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", original)
    run_script("baselines", ["--resume", "--out-dir", out])
    resumed = json.loads((out / "dense" / "metrics.json").read_text())
    clean = json.loads((tmp_path / "clean" / "dense" / "metrics.json").read_text())
    assert comparable(resumed) == comparable(clean)
    for a, b in zip(saved_weights(out / "dense" / "model.keras"),
                    saved_weights(tmp_path / "clean" / "dense" / "model.keras")):
        np.testing.assert_array_equal(a, b)
