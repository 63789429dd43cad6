"""Fitting the scikit-learn baselines.

Logistic regression and the random forest learn from pixel features
(:mod:`digitsuite.data.features`, deskewed by default); the dense network
trains through the CNN's own loop (:mod:`digitsuite.training.run`).
"""

import time

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
