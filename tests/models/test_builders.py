"""Model builders (models/): the seed CNN's exact summary, the dense net, sklearn estimators."""

import numpy as np
import pytest

from models import build_cnn, build_dense, build_logistic_regression, build_random_forest

SEED_CNN = [  # (name, type, output shape, parameters) from the seed's summary
    ("conv1", "Conv2D", (None, 26, 26, 64), 640),
    ("pool1", "MaxPooling2D", (None, 13, 13, 64), 0),
    ("conv2", "Conv2D", (None, 11, 11, 64), 36_928),
    ("pool2", "MaxPooling2D", (None, 5, 5, 64), 0),
    ("conv3", "Conv2D", (None, 3, 3, 32), 18_464),
    ("flatten", "Flatten", (None, 288), 0),
    ("dense1", "Dense", (None, 512), 147_968),
    ("dropout", "Dropout", (None, 512), 0),
    ("dense2", "Dense", (None, 64), 32_832),
    ("predictions", "Dense", (None, 10), 650),
]


def test_cnn_matches_the_seed_summary_layer_by_layer():
    model = build_cnn()
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    got = [(layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())
           for layer in layers]
    assert got == SEED_CNN
    assert model.count_params() == 237_482
    assert model.get_layer("predictions").activation.__name__ == "softmax"
    assert all(model.get_layer(n).activation.__name__ == "relu"
               for n in ("conv1", "conv2", "conv3", "dense1", "dense2"))


def test_builders_return_uncompiled_models():
    for model in (build_cnn(), build_dense()):
        assert not model.compiled
        assert getattr(model, "optimizer", None) is None


def test_dense_model_shapes_and_output_is_a_distribution():
    model = build_dense()
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["flatten", "dense1", "dropout", "dense2", "predictions"]
    assert model.get_layer("flatten").output.shape == (None, 784)
    assert model.count_params() == 784 * 512 + 512 + 512 * 64 + 64 + 64 * 10 + 10
    out = np.asarray(model(np.random.default_rng(0).random((3, 28, 28, 1), np.float32)))
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_cnn_accepts_other_class_counts():
    assert build_cnn(num_classes=3).output_shape == (None, 3)


@pytest.mark.parametrize("builder", [build_logistic_regression, build_random_forest])
def test_sklearn_builders_are_unfitted_and_seeded(builder):
    est = builder(seed=7)
    assert est.random_state == 7
    assert not hasattr(est, "classes_")
