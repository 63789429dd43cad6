"""The seed CNN's fast forward pass (digitsuite.inference.forward) and training
step (digitsuite.training.trainstep) compute what Keras' own do."""

import numpy as np
import pytest

from digitsuite.backend import keras, tf
from digitsuite.data.datasets import load_dataset
from digitsuite.inference.forward import seed_cnn_forward
from digitsuite.training.loop import compile_for_training, make_train_dataset
from models import build_cnn, build_dense
from tests.support import SAMPLE_DIR


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("mnist", SAMPLE_DIR)
    return data.x_train[:256], data.y_train[:256].astype(np.int64)


def as_input(images):
    return tf.constant((images.astype(np.float32) / 255.0)[..., None])


def trained_a_little(seed=3):
    """A seed CNN whose weights are not the initial ones, with positive and
    negative conv1 biases, so ReLU and ties in the pools are exercised."""
    keras.utils.set_random_seed(seed)
    model = build_cnn()
    rng = np.random.default_rng(seed)
    for var in model.trainable_variables:
        if "bias" in var.path:
            var.assign(rng.normal(0, 0.1, var.shape).astype(np.float32))
    return model


def test_forward_matches_the_model_on_real_digits(digits):
    model = trained_a_little()
    forward = seed_cnn_forward(model)
    x = as_input(digits[0])
    np.testing.assert_allclose(np.asarray(forward(x, training=False)),
                               np.asarray(model(x, training=False)), atol=1e-6)


def test_gradients_match_keras_for_every_weight(digits):
    model = trained_a_little()
    forward = seed_cnn_forward(model)
    x, y = as_input(digits[0][:64]), tf.constant(digits[1][:64])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def grads(predict):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, predict(x, training=False))
        return tape.gradient(loss, model.trainable_variables)

    for var, fast, keras_grad in zip(model.trainable_variables, grads(forward), grads(model)):
        keras_grad = np.asarray(keras_grad)
        assert np.abs(keras_grad).max() > 0, var.path
        np.testing.assert_allclose(np.asarray(fast), keras_grad,
                                   atol=1e-5 * np.abs(keras_grad).max(), err_msg=var.path)


@pytest.mark.slow
def test_fit_with_the_fast_step_follows_keras_step(digits):
    """Same seed, same batches, same dropout masks: a few epochs through
    model.fit end with the same losses and nearly the same weights."""
    results = []
    for fast in (True, False):
        keras.utils.set_random_seed(0)
        model = build_cnn()
        compile_for_training(model, 1e-3, steps_per_epoch=4, epochs=3, fast_step=fast)
        assert ("train_step" in vars(model)) == fast  # which step fit will take
        ds, _, set_epoch = make_train_dataset(*digits, 64, seed=0, policy=None,
                                              num_classes=10)
        history = model.fit(ds, epochs=3, verbose=0, callbacks=[set_epoch], shuffle=False)
        results.append((history.history, model.get_weights()))
    (fast_hist, fast_w), (keras_hist, keras_w) = results
    assert set(fast_hist) == set(keras_hist) == {"loss", "accuracy"}
    np.testing.assert_allclose(fast_hist["loss"], keras_hist["loss"], rtol=1e-3)
    assert fast_hist["loss"][-1] < fast_hist["loss"][0]
    for a, b in zip(fast_w, keras_w):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_only_the_seed_cnn_layout_gets_the_fast_step():
    assert seed_cnn_forward(build_cnn()) is not None
    assert seed_cnn_forward(build_cnn(num_classes=3)) is not None
    assert seed_cnn_forward(build_dense()) is None
    assert seed_cnn_forward(build_cnn(input_shape=(28, 28, 3))) is None

    dense = build_dense()
    compile_for_training(dense, 1e-3, steps_per_epoch=1, epochs=1)
    assert "train_step" not in vars(dense)  # Keras' own step

    # A look-alike whose conv1 pads the image is a different model.
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv3")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(512, activation="relu", name="dense1")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    x = keras.layers.Dense(64, activation="relu", name="dense2")(x)
    out = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    assert seed_cnn_forward(keras.Model(inputs, out)) is None
