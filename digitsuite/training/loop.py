"""Training for the Keras models (CNN and dense network), with checkpoints.

The recipe: a seeded input pipeline that gathers each batch from the uint8
images kept in memory and augments the whole batch at once; Adam with a
linear warm-up and cosine decay of the learning rate; cross-entropy against
one-hot labels, smoothed where the dataset gains from it; optionally a
moving average of the weights, which is what validation sees; and the epoch
with the best validation accuracy kept at the end. The seed CNN takes an
equivalent, cheaper step than Keras' own (:mod:`digitsuite.training.trainstep`), and
``fit`` runs eight steps per call into TensorFlow.
"""

import json
import math
import time
from pathlib import Path

import numpy as np

from digitsuite.backend import keras, tf
from digitsuite.data.augment import augment_batch
from digitsuite.data.datasets import to_model_input
from digitsuite.errors import DigitsuiteError
from digitsuite.fileio import DiskFull, atomic_path, write_json
from digitsuite.training import trainstep

# Label smoothing per dataset (``--label-smoothing auto``). Clothes gain from
# it on validation; digits lost a few test images with it, so they train
# without it. docs/fashion-mnist-recipes.md has the runs.
LABEL_SMOOTHING = {"mnist": 0.0, "fashion_mnist": 0.1}


def label_smoothing_for(setting, dataset):
    """The smoothing a script's ``--label-smoothing`` flag asks for on ``dataset``."""
    return LABEL_SMOOTHING.get(dataset, 0.0) if setting == "auto" else float(setting)


# Training steps run per call into TensorFlow (Keras' steps_per_execution).
# Each call costs Python and dispatch time on top of the step itself; eight
# steps per call save most of that while the progress bar still moves often.
# docs/performance.md gives the measured gain.
STEPS_PER_EXECUTION = 8



def ema_momentum(ema_steps, total_steps):
    """Keras' ``ema_momentum`` for an average over about ``ema_steps`` steps
    (at most a tenth of ``total_steps``); None for no average."""
    horizon = min(ema_steps, total_steps // 10)
    return 1.0 - 1.0 / horizon if horizon >= 2 else None


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow, and make TF ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_train_dataset(images, labels, batch_size, seed, policy, num_classes):
    """One epoch of batches ``(float images, one-hot labels)``: returns
    ``(dataset, steps per epoch, callback)``.

    Epoch ``e`` is shuffled and augmented with seeds derived from
    ``(seed, e)`` only, so a run resumed at epoch ``e`` sees exactly the
    batches an uninterrupted run would have seen. The dataset reads ``e``
    from a variable that ``callback`` (pass it to ``model.fit``) sets as
    each epoch begins. Ending with the epoch, rather than running on through
    every epoch, lets ``fit`` run several steps per call and still stop
    exactly at the epoch's last batch.
    """
    n = len(images)
    steps = math.ceil(n / batch_size)
    images = tf.constant(images[..., None])  # (n, 28, 28, 1) uint8, kept small
    has_nondigits = bool((labels < 0).any())
    labels = tf.constant(labels)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_epoch")

    def epoch_batches(_):
        e = epoch.read_value()
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate().map(
            lambda step, idx: (e, step, idx))

    def load(e, step, idx):
        x = tf.cast(tf.gather(images, idx), tf.float32) / 255.0
        if policy is not None:
            batch_seed = tf.stack([tf.cast(seed, tf.int32),
                                   tf.cast(e * steps + step, tf.int32)])
            x = augment_batch(x, batch_seed, policy)
        y = tf.one_hot(tf.gather(labels, idx), num_classes)
        if has_nondigits:
            # A negative label (a non-digit) one-hot encodes to zeros: its
            # target is the even spread over all classes instead.
            y = tf.where(tf.reduce_sum(y, -1, keepdims=True) > 0, y, 1.0 / num_classes)
        return x, y

    # One thread prepares batches beside training, two ahead. A parallel map
    # would gain nothing here: under op determinism, tf.data turns it back
    # into a sequential one (with a log line) because the pipeline reads a
    # variable. docs/performance.md compares it with the earlier two-thread map.
    ds = tf.data.Dataset.range(1).flat_map(epoch_batches).map(load).prefetch(2)
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    # tf.data's autotuner is off: with it on, a model fitted again in the
    # same process (the benchmark's interleaved epochs, one fit per epoch)
    # fell now and then into a state where a whole epoch ran slowly on one
    # core (docs/performance.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options), steps, _SetEpoch(epoch)


class _SetEpoch(keras.callbacks.Callback):
    """Tells :func:`make_train_dataset`'s dataset which epoch ``fit`` is in."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


def make_eval_dataset(images, labels, num_classes, batch_size=1024):
    """Batches ``(float images, one-hot labels)`` for validation."""
    x = to_model_input(images)  # (n, 28, 28, 1)
    y = np.eye(num_classes, dtype=np.float32)[labels]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()


def warmup_steps(steps_per_epoch, epochs):
    """Steps of linear warm-up: one epoch, but at most 5 % of the run, so a
    short run spends its few steps near the peak rate."""
    return min(steps_per_epoch, steps_per_epoch * epochs // 20)


def compile_for_training(model, learning_rate, steps_per_epoch, epochs, label_smoothing=0.0,
                         fast_step=True, steps_per_execution=STEPS_PER_EXECUTION, ema_steps=0):
    """Adam, linear warm-up to ``learning_rate`` then cosine decay to zero;
    cross-entropy against one-hot labels smoothed by ``label_smoothing``
    (each wrong class gets ``label_smoothing / classes`` of the target).
    With ``ema_steps`` the optimizer also keeps a moving average of the
    weights (:func:`ema_momentum`), which :func:`fit` validates and keeps.

    With ``fast_step`` the seed CNN trains through :mod:`digitsuite.training.trainstep`
    (same gradients, fewer operations); other models keep Keras' step.
    Train on datasets that end with each epoch (:func:`make_train_dataset`):
    Keras runs ``steps_per_execution`` steps per call until the data ends.
    """
    total = max(1, steps_per_epoch * epochs)
    warmup = warmup_steps(steps_per_epoch, epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 10 if warmup else learning_rate,
        decay_steps=total - warmup,
        warmup_target=learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    momentum = ema_momentum(ema_steps, total)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, use_ema=momentum is not None,
                                        ema_momentum=momentum or 0.99),
        # Keras' own loss class, so model.keras loads anywhere without digitsuite.
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
        steps_per_execution=steps_per_call(model, steps_per_execution),
    )
    if fast_step:
        trainstep.install(model)
    return model


def steps_per_call(model, wanted):
    """``wanted`` steps per call on one replica, one step on several: under
    MirroredStrategy, Keras 3.15 fails with more ("You must feed a value for
    placeholder tensor 'while/...'"), even for a model of one Dense layer."""
    return wanted if model.distribute_strategy.num_replicas_in_sync == 1 else 1


def uses_ema(model):
    """True when ``model``'s optimizer keeps a moving average of its weights."""
    return bool(getattr(model.optimizer, "use_ema", False))


def averaged_weights(model):
    """``model.get_weights()``, with the optimizer's moving average in place
    of each trainable weight when it keeps one."""
    optimizer = model.optimizer
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not uses_ema(model) or not averages:
        return model.get_weights()
    by_path = {v.path: a for v, a in zip(optimizer._trainable_variables, averages)}
    return [(by_path[w.path] if w.path in by_path else w).numpy() for w in model.weights]


class KeepBestWeights(keras.callbacks.Callback):
    """Remember the weights of the epoch with the best validation accuracy
    (ties go to the later epoch) and restore them when training ends. With a
    moving average of the weights, validation sees the average
    (``keras.callbacks.SwapEMAWeights``) and the average is what is kept."""

    def __init__(self, monitor="val_accuracy", best=-np.inf, best_epoch=None,
                 best_weights=None):
        super().__init__()
        self.monitor = monitor
        self.best = best
        self.best_epoch = best_epoch
        self.best_weights = best_weights

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value >= self.best:
            self.best, self.best_epoch = value, epoch + 1
            self.best_weights = averaged_weights(self.model)

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch, save what an exact resume needs into ``folder``.

    ``epochNNN.keras`` (weights and optimizer state), ``epochNNN.rng.npz``
    (the dropout seed generators' state, which ``model.save`` does not keep),
    the best weights so far, and last ``state.json``, which names those files:
    a run killed at any moment leaves a complete earlier checkpoint.
    """

    def __init__(self, folder, best, history, seconds, run_args):
        super().__init__()
        self.folder, self.best, self.history, self.seconds = Path(folder), best, history, seconds
        self.run_args = run_args
        if self.folder.is_symlink():  # its housekeeping removes files: stay in the out-dir
            raise DigitsuiteError(f"{self.folder} is a symbolic link, not a checkpoint "
                                  "folder; delete it or choose another --out-dir")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        done = epoch + 1
        files = {"model": f"epoch{done:03d}.keras", "rng": f"epoch{done:03d}.rng.npz",
                 "best": f"best-epoch{self.best.best_epoch:03d}.npz"
                 if self.best.best_epoch else None}
        try:
            with atomic_path(self.folder / files["model"]) as tmp:
                self.model.save(tmp)
            _save_arrays(self.folder / files["rng"], rng_state(self.model))
            if files["best"] and not (self.folder / files["best"]).exists():
                _save_arrays(self.folder / files["best"], self.best.best_weights)
            write_json(self.folder / CHECKPOINT_STATE, {
                "epochs_done": done, "files": files, "history": self.history,
                "best_epoch": self.best.best_epoch,
                "best_val_accuracy": float(self.best.best) if self.best.best_epoch else None,
                "train_seconds": self.seconds + time.perf_counter() - self.started,
                "args": self.run_args,
            })
        except DiskFull:
            # This epoch's files without a state.json naming them cannot be
            # resumed from; they would only keep the disk full.
            self.drop_unused()
            raise
        self.drop_unused()

    def drop_unused(self):
        """Remove every checkpoint file that state.json does not name."""
        try:
            named = json.loads((self.folder / CHECKPOINT_STATE).read_text())["files"]
        except (OSError, ValueError, KeyError):
            named = {}
        keep = {CHECKPOINT_STATE, *[f for f in named.values() if f]}
        for path in self.folder.iterdir():
            if path.name not in keep and not path.name.startswith("."):
                path.unlink()


CHECKPOINT_STATE = "state.json"


def rng_state(model):
    """The model's random seed-generator states (dropout masks come from these)."""
    return [v.numpy() for v in model.non_trainable_variables if "seed_generator" in v.path]


def _save_arrays(path, arrays):
    with atomic_path(path) as tmp:
        np.savez(tmp, *arrays)


def _load_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def load_checkpoint(folder):
    """Load the last checkpoint in ``folder``: returns ``(compiled model, state)``."""
    folder = Path(folder)
    state_path = folder / CHECKPOINT_STATE
    if not state_path.is_file():
        raise DigitsuiteError(
            f"nothing to resume: no checkpoint in {folder}; run without --resume to start")
    try:
        state = json.loads(state_path.read_text())
        files = state["files"]
        model = keras.models.load_model(folder / files["model"], safe_mode=True)
        if not isinstance(model.loss, keras.losses.CategoricalCrossentropy):
            raise DigitsuiteError(
                f"checkpoint in {folder} was written by an older digitsuite (sparse "
                "labels) and cannot be continued; delete that folder and train without "
                "--resume")
        model.steps_per_execution = steps_per_call(model, model.steps_per_execution)
        trainstep.install(model)
        seed_vars = [v for v in model.non_trainable_variables if "seed_generator" in v.path]
        for var, value in zip(seed_vars, _load_arrays(folder / files["rng"])):
            var.assign(value)
        state["best_weights"] = (_load_arrays(folder / files["best"])
                                 if files.get("best") else None)
    except (OSError, ValueError, KeyError) as exc:
        raise DigitsuiteError(
            f"checkpoint in {folder} is unreadable ({exc}); delete that folder and "
            "train without --resume") from exc
    return model, state


def fit(model, train, val, *, epochs, batch_size, learning_rate, seed, policy,
        label_smoothing=0.0, ema_steps=0, checkpoint_dir=None, resume_state=None,
        run_args=None, callbacks=(), verbose=1):
    """Compile and train ``model``; return a dict with history and timings.

    ``train`` and ``val`` are ``(uint8 images, int labels)`` pairs. With
    ``checkpoint_dir`` every epoch is checkpointed there; ``resume_state``
    (from :func:`load_checkpoint`, with its model passed as ``model``)
    continues such a run so that it ends exactly as an uninterrupted one;
    ``run_args`` (JSON-ready settings) are stored with each checkpoint.
    """
    state = resume_state or {}
    initial_epoch = state.get("epochs_done", 0)
    num_classes = model.output_shape[-1]
    ds, steps, set_epoch = make_train_dataset(*train, batch_size, seed, policy, num_classes)
    if not resume_state:
        compile_for_training(model, learning_rate, steps, epochs, label_smoothing,
                             ema_steps=ema_steps)
    best = KeepBestWeights(best=state.get("best_val_accuracy") or -np.inf,
                           best_epoch=state.get("best_epoch"),
                           best_weights=state.get("best_weights"))
    history = {k: list(v) for k, v in state.get("history", {}).items()}
    earlier_seconds = state.get("train_seconds", 0.0)
    # The average is swapped in for each validation pass only: the steps
    # and the checkpoints keep the weights being trained.
    swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=False)] if uses_ema(model) else []
    callbacks = [set_epoch, *swap, best, *callbacks]
    if checkpoint_dir is not None:
        callbacks.append(EpochCheckpoint(checkpoint_dir, best, history, earlier_seconds,
                                         run_args or {}))
    start = time.perf_counter()
    fitted = model.fit(
        ds, epochs=epochs, initial_epoch=initial_epoch,
        validation_data=make_eval_dataset(*val, num_classes),
        callbacks=callbacks, verbose=verbose, shuffle=False,
    )
    seconds = earlier_seconds + time.perf_counter() - start
    if checkpoint_dir is None:
        history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
    return {
        "history": history,
        "epochs_run": len(next(iter(history.values()), [])),
        "best_epoch": best.best_epoch,
        "best_val_accuracy": float(best.best) if best.best_epoch else None,
        "train_seconds": seconds,
    }
