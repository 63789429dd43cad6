"""baselines.py end to end in --dry-run; deskewing; parameter counts; safe,
checked scikit-learn model files."""

import json

import numpy as np
import pytest
from conftest import SAMPLE_DIR, run_script

from digitsuite.backend import keras
from digitsuite.cli import DRY_RUN_TEST
from digitsuite.data.augment import POLICIES
from digitsuite.data.datasets import load_dataset, stratified_subset
from digitsuite.data.features import deskew, make_features
from digitsuite.errors import ModelFileError
from digitsuite.inference.predict import predict_proba
from digitsuite.inference.runs import load_sklearn, save_model
from digitsuite.training.baselines import count_parameters
from models import build_dense, build_logistic_regression, build_random_forest

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


def read_json(path):
    return json.loads(path.read_text())


def fitted(estimator, n=60, seed=0):
    """``estimator`` fitted on random 784-pixel rows covering the 10 classes."""
    rng = np.random.default_rng(seed)
    return estimator.fit(rng.random((n, 784)), np.arange(n) % 10)


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
    assert lr["model"] == "lr" and lr["estimator_params"]["C"] == 1.0
    assert rf["estimator_params"]["n_estimators"] == 10
    assert rf["estimator_params"]["criterion"] == "entropy"
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


# --------------------------------------------------------------------------
# Features


def slant(image):
    """Column shift per row of an image's ink: cov(r, c) / var(r)."""
    rows, cols = np.mgrid[:28, :28]
    w = image / image.sum()
    r0, c0 = (w * rows).sum(), (w * cols).sum()
    return (w * (rows - r0) * (cols - c0)).sum() / (w * (rows - r0) ** 2).sum()


def test_deskew_straightens_a_slanted_stroke_and_centres_it():
    image = np.zeros((28, 28), np.uint8)
    for r in range(4, 24):  # a bar leaning right by half a pixel per row
        c = round(12 + 0.5 * (r - 14))
        image[r, c:c + 3] = 255
    out = deskew(image[None])
    assert out.shape == (1, 28, 28) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255
    assert slant(image) == pytest.approx(0.5, abs=0.05)
    assert abs(slant(out[0])) < 0.05
    rows, cols = np.mgrid[:28, :28]
    centre = [(out[0] * g).sum() / out[0].sum() for g in (rows, cols)]
    np.testing.assert_allclose(centre, [14, 14], atol=0.6)


def test_deskew_keeps_blank_images_blank():
    out = deskew(np.zeros((2, 28, 28), np.uint8))
    assert not out.any()


def test_features_are_flat_and_scaled():
    images = np.full((3, 28, 28), 255, np.uint8)
    x = make_features(images, "pixels")
    assert x.shape == (3, 784) and x.dtype == np.float32 and x.max() == 1.0


def test_count_parameters_of_each_kind():
    assert count_parameters(build_dense()) == (435_402, "trainable weights")
    assert count_parameters(fitted(build_logistic_regression())) == (7_850,
                                                                     "trainable weights")
    forest = fitted(build_random_forest(n_estimators=3))
    assert count_parameters(forest) == (
        sum(t.tree_.node_count for t in forest.estimators_), "tree nodes")


# --------------------------------------------------------------------------
# Model files


@pytest.mark.parametrize("name,model", [("lr", build_logistic_regression()),
                                        ("rf", build_random_forest(n_estimators=5))])
def test_sklearn_round_trip_predicts_the_same(name, model, tmp_path):
    model = fitted(model)
    save_model(model, tmp_path / "model.skops")
    again = load_sklearn(tmp_path / "model.skops", name, hint="retrain")
    x = np.random.default_rng(1).random((8, 784))
    np.testing.assert_allclose(again.predict_proba(x), model.predict_proba(x))


def test_skops_file_with_untrusted_types_is_refused(tmp_path):
    # A forest's trees are trusted only when a forest is expected.
    save_model(fitted(build_random_forest(n_estimators=2)), tmp_path / "model.skops")
    with pytest.raises(ModelFileError,
                       match=r"does not trust \(sklearn\.tree\._tree\.Tree\).*; retrain$"):
        load_sklearn(tmp_path / "model.skops", "lr", hint="retrain")


def test_forest_with_out_of_range_node_links_is_refused(tmp_path):
    forest = fitted(build_random_forest(n_estimators=2))
    forest.estimators_[1].tree_.children_left[0] = 10**6  # a crafted file could hold this
    save_model(forest, tmp_path / "model.skops")
    with pytest.raises(ModelFileError, match="node links or features out of range"):
        load_sklearn(tmp_path / "model.skops", "rf", hint="retrain")


def test_skops_file_of_another_model_is_refused(tmp_path):
    save_model(fitted(build_logistic_regression()), tmp_path / "model.skops")
    with pytest.raises(ModelFileError,
                       match="holds a LogisticRegression, not a RandomForestClassifier"):
        load_sklearn(tmp_path / "model.skops", "rf", hint="retrain")


def test_corrupt_or_missing_skops_file_is_a_model_file_error(tmp_path):
    path = tmp_path / "model.skops"
    with pytest.raises(ModelFileError, match="no model at"):
        load_sklearn(path, "lr", hint="retrain")
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ModelFileError, match="not a skops model file.*; retrain$"):
        load_sklearn(path, "lr", hint="retrain")
