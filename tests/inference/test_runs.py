"""Saved scikit-learn models (digitsuite.inference.runs): safe, checked skops
files that load back to the same predictions."""

import numpy as np
import pytest

from digitsuite.errors import ModelFileError
from digitsuite.inference.runs import count_parameters, load_run, load_sklearn, save_model
from models import build_dense, build_logistic_regression, build_random_forest
from tests.support import fitted


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


def test_count_parameters_of_each_kind():
    assert count_parameters(build_dense()) == (435_402, "trainable weights")
    assert count_parameters(fitted(build_logistic_regression())) == (7_850,
                                                                     "trainable weights")
    forest = fitted(build_random_forest(n_estimators=3))
    assert count_parameters(forest) == (
        sum(t.tree_.node_count for t in forest.estimators_), "tree nodes")


@pytest.mark.parametrize("file,content,why", [
    ("config.json", "[" * 100_000 + "]" * 100_000, "nested too deep"),
    ("config.json", "[]", "not a JSON object"),
    ("metrics.json", '"text"', "not a JSON object"),
    ("metrics.json", "{", "Expecting property name"),
])
def test_a_runs_records_that_are_no_json_object_are_one_model_file_error(tmp_path, file,
                                                                        content, why):
    # A runs folder someone sent: the records beside a sound model.
    folder = tmp_path / "lr"
    folder.mkdir()
    save_model(fitted(build_logistic_regression()), folder / "model.skops")
    (folder / "config.json").write_text('{"features": "pixels"}')
    (folder / "metrics.json").write_text('{"test_accuracy": 0.9}')
    assert load_run(tmp_path, "lr", 10).features == "pixels"
    (folder / file).write_text(content)
    with pytest.raises(ModelFileError, match=f"{file} is unreadable .{why}.*; recreate it with"):
        load_run(tmp_path, "lr", 10)
