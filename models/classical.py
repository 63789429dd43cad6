"""scikit-learn baselines. They take flattened pixels scaled to 0-1
(deskewed by default: see ``digitsuite.data.features``)."""

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression


def build_logistic_regression(seed=0, C=1.0, max_iter=500):
    """Multinomial logistic regression on 784 pixel features (unfitted).

    ``max_iter`` leaves L-BFGS room to converge on the full 60,000 images;
    the bundled sample needs far fewer iterations (docs/training-recipe.md).
    """
    return LogisticRegression(C=C, max_iter=max_iter, random_state=seed)


def build_random_forest(seed=0, n_estimators=300, n_jobs=-1, criterion="entropy"):
    """A random forest of ``n_estimators`` fully grown trees (unfitted).

    Entropy splits beat Gini ones on the sample's validation split, and
    more than 300 trees did not help (docs/training-recipe.md).
    """
    return RandomForestClassifier(
        n_estimators=n_estimators, n_jobs=n_jobs, criterion=criterion, random_state=seed)
