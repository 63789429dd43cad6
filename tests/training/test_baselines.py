"""Training the baselines (digitsuite.training.baselines): what each kind of
model counts as its parameters."""

from digitsuite.training.baselines import count_parameters
from models import build_dense, build_logistic_regression, build_random_forest
from tests.support import fitted


def test_count_parameters_of_each_kind():
    assert count_parameters(build_dense()) == (435_402, "trainable weights")
    assert count_parameters(fitted(build_logistic_regression())) == (7_850,
                                                                     "trainable weights")
    forest = fitted(build_random_forest(n_estimators=3))
    assert count_parameters(forest) == (
        sum(t.tree_.node_count for t in forest.estimators_), "tree nodes")
