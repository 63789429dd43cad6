"""Prediction (digitsuite.inference.predict): the live TensorFlow path and the
frozen LiteRT snapshot."""

import sys

import numpy as np
import pytest

from digitsuite.backend import keras
from digitsuite.inference.predict import freeze, predict_proba
from models import build_cnn


@pytest.fixture
def cnn():
    keras.utils.set_random_seed(3)
    return build_cnn(num_classes=10)


def random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def direct(model, images):
    return np.asarray(model((np.asarray(images) / 255.0).astype(np.float32)[..., None]))


def test_predict_proba_batches_match_a_single_call(cnn):
    images = random_images(25)
    np.testing.assert_allclose(predict_proba(cnn, images, batch_size=7), direct(cnn, images),
                               rtol=1e-5, atol=1e-6)
    assert predict_proba(cnn, images[:0]).shape == (0, 10)
    # The compiled graph reads the variables: it follows weights set later.
    cnn.set_weights([w * 0.5 + 0.01 for w in cnn.get_weights()])
    np.testing.assert_allclose(predict_proba(cnn, images), direct(cnn, images),
                               rtol=1e-5, atol=1e-6)


def test_frozen_predictor_matches_the_model_in_any_batch_split(cnn):
    frozen = freeze(cnn, batch_size=8)
    assert frozen.engine == "litert-xnnpack"
    images = random_images(21)  # two full batches and a part batch
    expected = direct(cnn, images)
    np.testing.assert_allclose(frozen(images), expected, atol=1e-5)
    np.testing.assert_allclose(frozen(images[:3]), expected[:3], atol=1e-5)
    np.testing.assert_allclose(frozen(images.astype(np.float32)), expected, atol=1e-5)
    assert frozen(images[:0]).shape == (0, 10)


def test_frozen_predictor_keeps_the_weights_it_was_frozen_with(cnn):
    images = random_images(6)
    before = direct(cnn, images)
    frozen = freeze(cnn)
    cnn.set_weights([w * 0.5 for w in cnn.get_weights()])
    np.testing.assert_allclose(frozen(images), before, atol=1e-5)
    np.testing.assert_allclose(freeze(cnn)(images), direct(cnn, images), atol=1e-5)


def test_frozen_predictor_falls_back_to_tensorflow_without_litert(cnn, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    frozen = freeze(cnn)
    assert frozen.engine == "tensorflow"
    images = random_images(5)
    np.testing.assert_allclose(frozen(images), direct(cnn, images), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def trained_cnn_and_digits():
    """A seed CNN trained briefly on the sample, and held-out digits."""
    from digitsuite.data.datasets import load_idx_folder
    from tests.support import SAMPLE_DIR

    data = load_idx_folder(SAMPLE_DIR)
    keras.utils.set_random_seed(0)
    model = build_cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data["x_train"][:2000, ..., None] / 255.0, data["y_train"][:2000], epochs=1,
              batch_size=64, verbose=0)
    return model, data["x_train"][2000:2512], data["x_test"][:500]


def test_int8_snapshot_reads_digits_as_float32_does(trained_cnn_and_digits):
    model, calibration, digits = trained_cnn_and_digits
    exact = freeze(model)
    int8 = freeze(model, precision="int8", calibration=calibration)
    assert (exact.precision, int8.precision) == ("float32", "int8")
    agree = np.mean(exact(digits).argmax(1) == int8(digits).argmax(1))
    assert agree >= 0.98, agree
    np.testing.assert_allclose(int8(digits).sum(1), 1, atol=0.02)  # still probabilities


def test_auto_snapshot_says_what_it_chose_and_why(trained_cnn_and_digits):
    model, calibration, digits = trained_cnn_and_digits
    frozen = freeze(model, precision="auto", calibration=calibration)
    assert frozen.precision in ("float32", "int8")
    assert "as fast as float32" in frozen.precision_reason
    assert "of 512 training images" in frozen.precision_reason  # fewer than 512 + 2,048
    assert frozen(digits).shape == (500, 10)
    # Without calibration images "auto" stays exact.
    assert freeze(model, precision="auto").precision == "float32"


def test_int8_needs_calibration_and_precision_must_be_known(cnn):
    with pytest.raises(ValueError, match="calibration"):
        freeze(cnn, precision="int8")
    with pytest.raises(ValueError, match="bfloat16"):
        freeze(cnn, precision="bfloat16")
