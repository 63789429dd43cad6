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
