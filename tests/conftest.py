"""Fixtures shared across the suite: a fresh Keras session per test, the
bundled sample, one tiny trained CNN per session and the small CNN the
reader tests read with. Helpers live in tests/support.py."""

import pytest

from digitsuite.backend import keras
from digitsuite.data.datasets import load_idx_folder
from tests.support import SAMPLE_DIR, run_script


@pytest.fixture(autouse=True)
def _clear_keras_session():
    keras.backend.clear_session()
    yield


@pytest.fixture
def sample_dir():
    """The bundled real-MNIST sample (8,000 train / 2,000 test)."""
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample():
    """The bundled sample's arrays: x_train, y_train, x_test, y_test."""
    return load_idx_folder(SAMPLE_DIR)


@pytest.fixture(scope="session")
def sample_test_set(sample):
    return sample["x_test"], sample["y_test"]


@pytest.fixture(scope="session")
def trained_cnn_dir(tmp_path_factory):
    """One ``train_cnn.py --dry-run`` run on the sample data, shared by tests."""
    out = tmp_path_factory.mktemp("cnn")
    run_script("train_cnn", ["--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", out])
    return out


@pytest.fixture(scope="session")
def seed_model(trained_cnn_dir):
    """The .keras file of that run: the seed CNN, trained a little."""
    return trained_cnn_dir / "model.keras"


@pytest.fixture(scope="session")
def reader_model(tmp_path_factory, sample):
    """A small CNN trained for 3 epochs on 4,000 of the sample's training
    digits (~97 % on its test split, ~15 s); returns its .keras path."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    model.fit(sample["x_train"][:4000, ..., None] / 255.0, sample["y_train"][:4000],
              epochs=3, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("reader") / "model.keras"
    model.save(path)
    return path
