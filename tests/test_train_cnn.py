"""train_cnn.py end to end in --dry-run, and its command-line errors."""

import json

import numpy as np
import pytest
from conftest import SAMPLE_DIR, run_script

from digitsuite.backend import keras
from digitsuite.data.datasets import load_dataset
from digitsuite.inference.predict import predict_proba

OUTPUTS = ["model.keras", "config.json", "metrics.json", "report.md", "history.png",
           "confusion.png"]


def test_dry_run_writes_every_output(trained_cnn_dir):
    for name in OUTPUTS:
        path = trained_cnn_dir / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert not list(trained_cnn_dir.glob(".*tmp*")), "temporary files left behind"
    assert (trained_cnn_dir / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_config_records_every_argument_and_the_data_source(trained_cnn_dir):
    config = json.loads((trained_cnn_dir / "config.json").read_text())
    for key in ("epochs", "batch_size", "learning_rate", "seed", "dataset", "data_dir",
                "out_dir", "dry_run", "val_fraction", "augment", "label_smoothing"):
        assert key in config, key
    assert config["label_smoothing"] == 0.0  # 'auto' recorded as what digits get
    assert config["dry_run"] is True and config["effective_epochs"] == 1
    assert "IDX files in" in config["data_source"]
    assert config["environment"]["keras"].startswith("3.")


def test_metrics_and_report_agree_with_the_saved_model(trained_cnn_dir):
    metrics = json.loads((trained_cnn_dir / "metrics.json").read_text())
    assert metrics["params"] == 237_482 and metrics["epochs_run"] == 1
    assert set(metrics["per_class"]) == {str(i) for i in range(10)}
    assert metrics["train_seconds"] > 0 and 0 <= metrics["test_accuracy"] <= 1
    report = (trained_cnn_dir / "report.md").read_text()
    assert f"{metrics['test_accuracy']:.2%}" in report
    assert "precision" in report and "recall" in report  # sklearn's report
    # The data line counts what was used, and a dry run says it is one.
    assert report.startswith("# Seed CNN (dry run: small subsets, one epoch)")
    assert "(540 of its 8,000 training images for training, 60 for validation; 200 test" in report

    # Reload the model: predictions on the dry-run test subset reproduce metrics.json.
    model = keras.models.load_model(trained_cnn_dir / "model.keras", safe_mode=True)
    from digitsuite.cli import DRY_RUN_TEST
    from digitsuite.data.datasets import stratified_subset

    ds = load_dataset("mnist", SAMPLE_DIR)
    x_test, y_test = stratified_subset(ds.x_test, ds.y_test, DRY_RUN_TEST, seed=0)
    proba = predict_proba(model, x_test)
    assert np.mean(proba.argmax(1) == y_test) == pytest.approx(metrics["test_accuracy"])


def test_reloaded_model_predicts_the_same(trained_cnn_dir):
    model = keras.models.load_model(trained_cnn_dir / "model.keras", safe_mode=True)
    again = keras.models.load_model(trained_cnn_dir / "model.keras", safe_mode=True)
    x = np.random.default_rng(1).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(predict_proba(model, x), predict_proba(again, x), rtol=1e-6)
    assert [layer.name for layer in model.layers][1:4] == ["conv1", "pool1", "conv2"]


def test_missing_data_dir_is_one_error_line_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--dry-run", "--data-dir", tmp_path / "nope", "--out-dir", out])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --data-dir {tmp_path / 'nope'} does not exist; give a folder "
                   "with the four IDX files or mnist.npz"]
    assert not out.exists() or not any(out.iterdir())
