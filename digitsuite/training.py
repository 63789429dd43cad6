"""Training and prediction for the Keras models (CNN and dense network).

The recipe: a seeded input pipeline that gathers each batch from the uint8
images kept in memory and augments the whole batch at once; Adam with a
linear warm-up and cosine decay of the learning rate; and the epoch with the
best validation accuracy kept at the end.
"""

import math
import time

import numpy as np

from digitsuite.augment import augment_batch
from digitsuite.backend import keras, tf


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow, and make TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_train_dataset(images, labels, batch_size, seed, policy, epochs, initial_epoch=0):
    """Batches for epochs ``initial_epoch .. epochs-1``: ``(float images, labels)``.

    Epoch ``e`` is shuffled and augmented with seeds derived from
    ``(seed, e)`` only, so a run resumed at epoch ``e`` sees exactly the
    batches an uninterrupted run would have seen.
    """
    n = len(images)
    steps = math.ceil(n / batch_size)
    images = tf.constant(images[..., None])  # (n, 28, 28, 1) uint8, kept small
    labels = tf.constant(labels)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate().map(
            lambda step, idx: (epoch, step, idx))

    def load(epoch, step, idx):
        x = tf.cast(tf.gather(images, idx), tf.float32) / 255.0
        if policy is not None:
            batch_seed = tf.stack([tf.cast(seed, tf.int32),
                                   tf.cast(epoch * steps + step, tf.int32)])
            x = augment_batch(x, batch_seed, policy)
        return x, tf.gather(labels, idx)

    ds = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=True).prefetch(tf.data.AUTOTUNE), steps


def make_eval_dataset(images, labels, batch_size=1024):
    x = (images.astype(np.float32) / 255.0)[..., None]
    return tf.data.Dataset.from_tensor_slices((x, labels)).batch(batch_size).cache()


def compile_for_training(model, learning_rate, steps_per_epoch, epochs, warmup_epochs=1):
    """Adam, linear warm-up to ``learning_rate`` then cosine decay to zero."""
    total = max(1, steps_per_epoch * epochs)
    warmup = min(total // 2, steps_per_epoch * warmup_epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10 if warmup else learning_rate,
        decay_steps=total - warmup,
        warmup_target=learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class KeepBestWeights(keras.callbacks.Callback):
    """Remember the weights of the epoch with the best validation accuracy
    (ties go to the later epoch) and restore them when training ends."""

    def __init__(self, monitor="val_accuracy"):
        super().__init__()
        self.monitor = monitor
        self.best = -np.inf
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value >= self.best:
            self.best, self.best_epoch = value, epoch + 1
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def fit(model, train, val, *, epochs, batch_size, learning_rate, seed, policy,
        callbacks=(), verbose=1):
    """Compile and train ``model``; return a dict with history and timings.

    ``train`` and ``val`` are ``(uint8 images, int labels)`` pairs.
    """
    ds, steps = make_train_dataset(*train, batch_size, seed, policy, epochs)
    compile_for_training(model, learning_rate, steps, epochs)
    best = KeepBestWeights()
    start = time.perf_counter()
    history = model.fit(
        ds, epochs=epochs, steps_per_epoch=steps,
        validation_data=make_eval_dataset(*val),
        callbacks=[best, *callbacks], verbose=verbose, shuffle=False,
    )
    seconds = time.perf_counter() - start
    return {
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "epochs_run": len(history.epoch),
        "best_epoch": best.best_epoch,
        "best_val_accuracy": float(best.best) if best.best_epoch else None,
        "train_seconds": seconds,
    }


def predict_proba(model, images, batch_size=1024):
    """Class probabilities (n, classes) for uint8 images (n, 28, 28)."""
    outputs = []
    for start in range(0, len(images), batch_size):
        chunk = (images[start:start + batch_size].astype(np.float32) / 255.0)[..., None]
        outputs.append(np.asarray(model(chunk, training=False)))
    return np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]))
