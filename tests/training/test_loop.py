"""The training loop (digitsuite.training.loop): seeded batches, steps per
call, the learning-rate schedule, label smoothing, and an interrupted fit
resumed from its checkpoint."""

import numpy as np
import pytest

from digitsuite.backend import keras
from digitsuite.data.augment import POLICIES
from digitsuite.data.datasets import load_dataset, stratified_split
from digitsuite.inference.predict import predict_proba
from digitsuite.training import loop as training
from digitsuite.training.loop import (
    compile_for_training,
    label_smoothing_for,
    make_train_dataset,
    set_seed,
    warmup_steps,
)
from models import build_cnn
from tests.support import SAMPLE_DIR


def epoch_batches(ds, set_epoch, epoch):
    set_epoch.on_epoch_begin(epoch)  # what model.fit does as each epoch begins
    return [(np.asarray(x), np.asarray(y)) for x, y in ds]


def test_train_batches_are_a_seeded_shuffle_of_every_image_each_epoch():
    images = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(10)
    ds, steps, set_epoch = make_train_dataset(images, labels, 4, seed=5, policy=None,
                                              num_classes=12)
    assert steps == 3 and int(ds.cardinality()) == 3
    epoch1, epoch2 = (epoch_batches(ds, set_epoch, e) for e in (0, 1))
    assert len(epoch1) == len(epoch2) == 3
    onehot1 = np.concatenate([y for _, y in epoch1])
    assert onehot1.shape == (10, 12) and set(onehot1.ravel()) == {0.0, 1.0}
    labels1 = onehot1.argmax(axis=1)
    labels2 = np.concatenate([y for _, y in epoch2]).argmax(axis=1)
    assert sorted(labels1) == list(range(10)) and sorted(labels2) == list(range(10))
    assert list(labels1) != list(labels2)
    x0, y0 = epoch1[0]
    np.testing.assert_allclose(x0[:, 0, 0, 0], y0.argmax(axis=1) / 255.0, rtol=1e-6)
    # A fresh pipeline (a resumed run) at epoch 1 gives exactly the second epoch.
    resumed, _, resumed_epoch = make_train_dataset(images, labels, 4, seed=5, policy=None,
                                                   num_classes=12)
    for (x, y), (x2, y2) in zip(epoch_batches(resumed, resumed_epoch, 1), epoch2):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)


def test_several_steps_per_call_stop_exactly_at_each_epochs_end():
    """Ten steps per epoch, eight per call: two epochs take exactly twenty
    steps and end where one step per call ends."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (160, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 160)
    weights = []
    for steps_per_execution in (1, 8):
        set_seed(0)
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        ds, steps, set_epoch = make_train_dataset(images, labels, 16, seed=0, policy=None,
                                                  num_classes=10)
        compile_for_training(model, 1e-2, steps, epochs=2,
                             steps_per_execution=steps_per_execution)
        model.fit(ds, epochs=2, verbose=0, callbacks=[set_epoch], shuffle=False)
        assert steps == 10 and int(model.optimizer.iterations) == 20
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_learning_rate_warms_up_then_decays_to_zero():
    # A long run warms up for one epoch, a short one for 5 % of its steps.
    assert warmup_steps(steps_per_epoch=10, epochs=40) == 10
    assert warmup_steps(steps_per_epoch=100, epochs=4) == 20
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    compile_for_training(model, 1e-2, steps_per_epoch=10, epochs=40)
    lr = model.optimizer.learning_rate_schedule if hasattr(
        model.optimizer, "learning_rate_schedule") else model.optimizer._learning_rate
    values = [float(lr(step)) for step in (0, 10, 200, 400)]
    assert values[0] < values[1]
    np.testing.assert_allclose(values[1], 1e-2, rtol=1e-5)
    assert values[2] < values[1] and values[3] < 1e-4


def test_label_smoothing_trains_towards_spread_targets():
    """With smoothing e, the loss is cross-entropy against targets of
    1 - e + e/k for the true class and e/k for each other class."""
    images = np.zeros((8, 28, 28), np.uint8)
    labels = np.array([0, 0, 0, 0, 0, 1, 2, 3])
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    ds, steps, _ = make_train_dataset(images, labels, 8, seed=0, policy=None, num_classes=4)
    compile_for_training(model, 1e-3, steps, epochs=1, label_smoothing=0.2)
    # All-zero images: the net predicts softmax(bias), the same for every image.
    model.layers[-1].bias.assign(np.log([0.4, 0.3, 0.2, 0.1]))
    loss = model.evaluate(ds, verbose=0, return_dict=True)["loss"]
    p = np.array([0.4, 0.3, 0.2, 0.1])
    targets = np.full((8, 4), 0.2 / 4) + 0.8 * np.eye(4)[labels]
    np.testing.assert_allclose(loss, -(targets * np.log(p)).sum(axis=1).mean(), rtol=1e-5)
    plain = -np.log(p[labels]).mean()
    assert abs(loss - plain) > 0.05  # smoothing changes what the net is trained towards


def test_label_smoothing_auto_is_the_datasets_own():
    assert label_smoothing_for("auto", "fashion_mnist") == 0.1
    assert label_smoothing_for("auto", "mnist") == 0.0
    assert label_smoothing_for(0.05, "mnist") == 0.05


# --------------------------------------------------------------------------
# Resuming from a checkpoint


class StopMidEpoch(keras.callbacks.Callback):
    """Simulate Ctrl-C in the middle of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Keras calls this after each call's few steps, before the epoch ends.
        if self.current == self.epoch:
            raise KeyboardInterrupt


def whole_and_resumed(train, val, settings, folder):
    """The same seeded run twice: whole, and stopped in its second epoch then
    resumed from ``folder``'s checkpoint. Returns (whole model, its result,
    resumed model, its result, the checkpoint state it resumed from)."""
    training.set_seed(4)
    whole = build_cnn()
    expected = training.fit(whole, train, val, **settings)
    training.set_seed(4)
    with pytest.raises(KeyboardInterrupt):
        training.fit(build_cnn(), train, val, checkpoint_dir=folder,
                     callbacks=[StopMidEpoch(2)], **settings)
    model, state = training.load_checkpoint(folder)
    result = training.fit(model, train, val, checkpoint_dir=folder, resume_state=state,
                          **settings)
    return whole, expected, model, result, state


@pytest.mark.slow
def test_resumed_training_ends_with_the_same_weights(tmp_path):
    ds = load_dataset("mnist", SAMPLE_DIR)
    train, val = stratified_split(ds.x_train[:400], ds.y_train[:400], 0.25, seed=0)
    settings = dict(epochs=3, batch_size=64, learning_rate=2e-3, seed=4,
                    policy=POLICIES["mnist"], verbose=0)

    whole, expected, model, result, state = whole_and_resumed(train, val, settings, tmp_path)
    assert state["epochs_done"] == 2
    for a, b in zip(whole.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert result["history"] == expected["history"]
    assert result["best_epoch"] == expected["best_epoch"]


def test_ema_momentum_averages_over_at_most_a_tenth_of_the_run():
    assert training.ema_momentum(1000, 16_880) == pytest.approx(0.999)
    assert training.ema_momentum(1000, 2_000) == pytest.approx(1 - 1 / 200)
    assert training.ema_momentum(1000, 15) is None  # a smoke run keeps its own weights
    assert training.ema_momentum(0, 16_880) is None


def ema_settings():
    ds = load_dataset("mnist", SAMPLE_DIR)
    train, val = stratified_split(ds.x_train[:400], ds.y_train[:400], 0.25, seed=0)
    # 19 steps per epoch, 57 in all: an average over 5 steps.
    return train, val, dict(epochs=3, batch_size=16, learning_rate=2e-3, seed=4,
                            policy=POLICIES["mnist"], ema_steps=50, verbose=0)


def test_with_ema_the_kept_model_scores_what_validation_reported():
    train, val, settings = ema_settings()
    training.set_seed(4)
    model = build_cnn()
    result = training.fit(model, train, val, **settings)
    assert training.uses_ema(model)
    accuracy = np.mean(predict_proba(model, val[0]).argmax(1) == val[1])
    assert accuracy == pytest.approx(result["best_val_accuracy"])


def test_resumed_training_with_ema_ends_with_the_same_weights(tmp_path):
    train, val, settings = ema_settings()
    whole, expected, model, result, state = whole_and_resumed(train, val, settings, tmp_path)
    assert training.uses_ema(model)
    for a, b in zip(whole.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert result["history"] == expected["history"]
