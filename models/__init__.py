"""Model builders shared by every script: one function per model.

Keras builders return *uncompiled* functional models with named layers;
scikit-learn builders return unfitted estimators.
"""

from models.classical import build_logistic_regression, build_random_forest
from models.cnn import build_cnn
from models.dense import build_dense

__all__ = [
    "build_cnn",
    "build_dense",
    "build_logistic_regression",
    "build_random_forest",
]
