"""The one path from prepared data to a saved, reported model.

``train_cnn.py`` and ``baselines.py`` (all three of its models) call it with
explicit settings: train, predict the test split once, then write the model
beside its ``config.json``, ``metrics.json``, ``report.md`` and plots. Keras
models train through :func:`digitsuite.training.loop.fit` with a checkpoint
every epoch; scikit-learn models through
:func:`digitsuite.training.baselines.fit_sklearn`.
"""

import contextlib
import shutil
import sys
from dataclasses import dataclass

from digitsuite import precision as precisions
from digitsuite.backend import tf
from digitsuite.data.augment import policy_for
from digitsuite.errors import DigitsuiteError, Interrupted
from digitsuite.evaluation.reporting import (
    RUN_REPORT_FILES,
    classification_metrics,
    run_config,
    write_run_report,
)
from digitsuite.fileio import DiskFull, output_set, prepare_out_dir
from digitsuite.inference.runs import (
    MODEL_FILES,
    TITLES,
    count_parameters,
    predict_proba,
    save_model,
)
from digitsuite.training.baselines import fit_sklearn
from digitsuite.training.loop import (
    CHECKPOINT_STATE,
    fit,
    label_smoothing_for,
    load_checkpoint,
    set_seed,
)
from digitsuite.training.nondigits import count_nondigits
from digitsuite.training.tensorboard import callbacks as tensorboard_callbacks

CHECKPOINT_DIR = "checkpoint"


@dataclass
class Resume:
    """A stopped Keras run to continue: its model and saved state."""

    model: object
    state: dict

    @property
    def settings(self):
        """The settings the stopped run was started with."""
        return self.state["args"]


def resume_from(out_dir, strategy=None):
    """The stopped run whose checkpoint is in ``out_dir`` (its variables are
    created under ``strategy``'s scope when one is given)."""
    with _scope(strategy):
        return Resume(*load_checkpoint(out_dir / CHECKPOINT_DIR))


def _scope(strategy):
    """``strategy``'s scope, where variables live on every replica; none without one."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def train_keras(name, build, *, splits, out_dir, settings, epochs, batch_size, learning_rate,
                dropout, seed, augment, label_smoothing, ema_steps=0, resume=None,
                strategy=None, resume_command, title=None, tensorboard=None,
                precision="auto"):
    """Build (or resume) Keras model ``name`` with ``build`` and train it; write its run.

    ``splits`` is :func:`digitsuite.data.datasets.load_splits`' result;
    ``settings`` (JSON-ready) are recorded in ``config.json`` and in every
    checkpoint, so ``--resume`` can restore them. ``augment`` and
    ``label_smoothing`` may be ``'auto'``: the dataset's own. Ctrl-C stops
    after the last checkpoint with ``resume_command`` in the message.
    With ``tensorboard`` (a folder) the run is logged there for TensorBoard,
    with the feature maps of the first test digit (:mod:`digitsuite.training.tensorboard`).
    ``precision`` ("auto", "float32" or "bfloat16") is what the model computes
    in while it trains (:func:`digitsuite.precision.choose`; a resumed run
    keeps its own); the saved model is float32 either way.
    Returns the run's metrics.
    """
    dataset, train, val, (x_test, _) = splits
    policy = policy_for(augment, dataset.name)
    label_smoothing = label_smoothing_for(label_smoothing, dataset.name)
    settings = {**settings, "label_smoothing": label_smoothing}
    checkpoints = prepare_out_dir(out_dir, run_files(name)) / CHECKPOINT_DIR
    set_seed(seed)
    callbacks = [] if tensorboard is None else tensorboard_callbacks(tensorboard, x_test[0])
    arithmetic = (precisions.resumed(resume.model) if resume is not None
                  else precisions.choose(precision))
    print(f"precision: {arithmetic['precision']} ({arithmetic['reason']})")
    try:
        with _scope(strategy), precisions.policy(arithmetic["precision"]):
            model = (resume.model if resume is not None
                     else build(num_classes=len(dataset.class_names), dropout=dropout))
            result = fit(model, train, val, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, seed=seed, policy=policy,
                         label_smoothing=label_smoothing, ema_steps=ema_steps,
                         checkpoint_dir=checkpoints,
                         resume_state=resume.state if resume is not None else None,
                         run_args=settings, callbacks=callbacks,
                         verbose=1 if sys.stdout.isatty() else 2)
        precisions.as_float32(model)
        result["val_accuracy"] = result.pop("best_val_accuracy")
        # The checkpoint stays until the run's files are all in place.
        metrics = write_run(name, model, splits=splits, out_dir=out_dir, settings=settings,
                            result=result, title=title, effective_epochs=epochs,
                            augmentation=policy.as_dict(), precision_used=arithmetic)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; completed epochs are saved in {checkpoints}; "
                          f"continue with: {resume_command}") from None
    except (tf.errors.UnavailableError, tf.errors.AbortedError) as exc:
        # MultiWorkerMirroredStrategy: a peer stopped sending heartbeats, so
        # every collective step fails; training cannot go on without it.
        reason = next((line for line in str(exc).splitlines() if "unhealthy" in line),
                      type(exc).__name__)
        raise DigitsuiteError(f"another worker stopped ({reason.strip()}); completed epochs "
                              f"are saved in {checkpoints}; start every worker again with: "
                              f"{resume_command}") from exc
    except DiskFull as exc:
        if (checkpoints / CHECKPOINT_STATE).is_file():
            raise DiskFull(f"{exc}; completed epochs are kept in {checkpoints}: continue "
                           f"with {resume_command} when there is room") from exc
        # No epoch was saved whole: nothing here could be resumed from.
        shutil.rmtree(checkpoints, ignore_errors=True)
        raise
    # state.json first: a run killed while the folder goes is one with nothing to resume.
    (checkpoints / CHECKPOINT_STATE).unlink()
    shutil.rmtree(checkpoints)
    return metrics


def train_sklearn(name, estimator, *, splits, out_dir, settings, seed, features, log=print):
    """Fit scikit-learn model ``name`` (``estimator``, unfitted) on the
    ``features`` of the training images; write its run and return its metrics."""
    _, train, val, _ = splits
    prepare_out_dir(out_dir, run_files(name))  # a bad --out-dir stops the run before a long fit
    set_seed(seed)
    result = fit_sklearn(estimator, train, val, features, log=log)
    estimator_params = {k: v for k, v in estimator.get_params().items()
                        if v is None or isinstance(v, (int, float, str, bool))}
    return write_run(name, estimator, splits=splits, out_dir=out_dir, settings=settings,
                     result=result, features=features, estimator_params=estimator_params)


def run_files(name):
    """The files :func:`write_run` writes for model ``name``."""
    return (MODEL_FILES[name], *RUN_REPORT_FILES)


def write_run(name, model, *, splits, out_dir, settings, result, features=None, title=None,
              **config_extra):
    """Predict the test split once and write the run: the model file,
    ``config.json``, ``metrics.json``, ``report.md`` and plots, as one set
    (:func:`digitsuite.fileio.output_set`). Returns the metrics."""
    dataset, train, val, (x_test, y_test) = splits
    proba = predict_proba(model, x_test, features)
    params, params_kind = count_parameters(model)
    metrics = classification_metrics(y_test, proba, dataset.class_names)
    metrics.update(model=name, params=params, params_kind=params_kind,
                   **{k: v for k, v in result.items() if k != "history"})
    if features is not None:
        config_extra["features"] = features
    # Non-digits drawn for training (train_reader.py) are not images of the
    # dataset: counted apart, so that "n of its n_train_total" stays true.
    nondigits = count_nondigits(train[1])
    if nondigits:
        config_extra["n_nondigits"] = nondigits
    config = run_config(settings, dataset, model=name, n_train=len(train[0]) - nondigits,
                        n_val=len(val[0]), **config_extra)
    with output_set(out_dir):
        save_model(model, out_dir / MODEL_FILES[name])
        write_run_report(out_dir, title or TITLES[name], config, metrics, y_test, proba,
                         dataset.class_names, history=result.get("history"))
    return metrics
