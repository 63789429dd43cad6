"""scikit-learn baselines. They take flattened pixels scaled to 0-1."""

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression


def build_logistic_regression(seed=0, C=1.0, max_iter=200):
    """Multinomial logistic regression on 784 pixel features (unfitted)."""
    return LogisticRegression(C=C, max_iter=max_iter, random_state=seed)


def build_random_forest(seed=0, n_estimators=300, n_jobs=-1):
    """A random forest of ``n_estimators`` fully grown trees (unfitted)."""
    return RandomForestClassifier(
        n_estimators=n_estimators, n_jobs=n_jobs, random_state=seed)
