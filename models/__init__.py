"""Model builders shared by every script: one function per model.

Keras builders return *uncompiled* functional models with named layers;
scikit-learn builders return unfitted estimators.

The builders are imported on first use, so that a script's ``--help`` (or
a scikit-learn-only run) does not wait for TensorFlow to start.
"""

import importlib

_HOMES = {
    "build_cnn": "models.cnn",
    "build_dense": "models.dense",
    "build_logistic_regression": "models.classical",
    "build_random_forest": "models.classical",
}

__all__ = list(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__():
    return sorted([*globals(), *__all__])
