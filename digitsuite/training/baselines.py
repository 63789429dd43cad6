"""The three baselines beside the CNN: fitting them and counting their
parameters.

Logistic regression and the random forest learn from pixel features
(:mod:`digitsuite.data.features`, deskewed by default); the dense network trains
through the CNN's own pipeline (:func:`digitsuite.training.loop.fit`) with the
same augmentation. :mod:`digitsuite.inference.runs` saves and loads them.
"""

import sys
import time

import numpy as np

from digitsuite.data.features import make_features


def fit_sklearn(estimator, train, val, features, log=print):
    """Fit ``estimator`` on the ``features`` of the training images.

    ``train`` and ``val`` are ``(uint8 images, labels)`` pairs. Returns
    ``train_seconds`` (features and fit), ``feature_seconds`` and
    ``val_accuracy``; ``log`` gets a line before each slow step.
    """
    start = time.perf_counter()
    log(f"  computing '{features}' features of {len(train[0]):,} training images ...")
    x_train = make_features(train[0], features)
    feature_seconds = time.perf_counter() - start
    log(f"  fitting {type(estimator).__name__} on {x_train.shape[0]:,} x "
        f"{x_train.shape[1]} features ...")
    estimator.fit(x_train, train[1])
    train_seconds = time.perf_counter() - start
    val_accuracy = float(estimator.score(make_features(val[0], features), val[1]))
    return {"train_seconds": train_seconds, "feature_seconds": feature_seconds,
            "val_accuracy": val_accuracy}


def train_baseline(name, args, train, val, num_classes, policy, log=print,
                   checkpoint_dir=None, resume=None):
    """Build and fit baseline ``name`` ('lr', 'rf' or 'dense') with ``args``' settings.

    The dense network checkpoints every epoch into ``checkpoint_dir`` and,
    given ``resume`` (the ``(model, state)`` of
    :func:`digitsuite.training.loop.load_checkpoint`), continues that run.
    Returns ``(model, result)``: the fitted model and a dict with
    ``train_seconds``, ``val_accuracy`` and, for the dense network, the
    training ``history``, ``epochs_run`` and ``best_epoch``.
    """
    from models import build_dense, build_logistic_regression, build_random_forest

    if name == "dense":
        from digitsuite.cli import saved_args
        from digitsuite.training.loop import fit

        model, state = resume or (build_dense(num_classes=num_classes, dropout=args.dropout),
                                  None)
        result = fit(model, train, val, epochs=1 if args.dry_run else args.epochs,
                     batch_size=args.batch_size, learning_rate=args.learning_rate,
                     seed=args.seed, policy=policy, label_smoothing=args.label_smoothing,
                     checkpoint_dir=checkpoint_dir,
                     resume_state=state, run_args=saved_args(args),
                     verbose=1 if sys.stdout.isatty() else 2)
        result["val_accuracy"] = result.pop("best_val_accuracy")
        return model, result
    estimator = (build_logistic_regression(seed=args.seed, C=args.lr_c) if name == "lr"
                 else build_random_forest(seed=args.seed, n_estimators=args.rf_trees))
    return estimator, fit_sklearn(estimator, train, val, args.features, log=log)


def count_parameters(model):
    """What the model learned, as ``(count, kind)``.

    Keras models and logistic regression: trainable weights; a random forest:
    tree nodes (each holds a split or a leaf's class counts).
    """
    if hasattr(model, "trainable_weights"):
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights), "trainable weights"
    if hasattr(model, "estimators_"):
        return sum(int(tree.tree_.node_count) for tree in model.estimators_), "tree nodes"
    return int(model.coef_.size + model.intercept_.size), "trainable weights"
