"""scikit-learn baselines. They take flattened pixels scaled to 0-1
(deskewed by default: see ``digitsuite.data.features``)."""

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression


def build_logistic_regression(seed=0, C=0.1, max_iter=500):
    """Multinomial logistic regression on 784 pixel features (unfitted).

    C was chosen on full MNIST's validation split (docs/baselines.md): the
    stronger regularisation reads as well as C=1 and lets L-BFGS converge
    in about as many iterations as scikit-learn's default stops at, so it
    costs little more time and never warns; ``max_iter`` is headroom.
    """
    return LogisticRegression(C=C, max_iter=max_iter, random_state=seed)


def build_random_forest(seed=0, n_estimators=150, n_jobs=-1, criterion="gini"):
    """A random forest of ``n_estimators`` fully grown trees (unfitted), on
    every core.

    On full MNIST's validation split, 100-200 trees and Gini or entropy
    splits read within a few digits of each other (docs/baselines.md); 150
    Gini trees on every core keep the fit near scikit-learn's default time.
    """
    return RandomForestClassifier(
        n_estimators=n_estimators, n_jobs=n_jobs, criterion=criterion, random_state=seed)
