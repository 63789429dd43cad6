"""The four models' saved runs: where each lives, which command creates it,
and how to save, load and feed it images.

A run is a folder ``<runs-dir>/<model>/`` written by ``train_cnn.py`` or
``baselines.py``: the model file, ``config.json`` and ``metrics.json``.
Keras models are ``model.keras``, loaded in safe mode. scikit-learn models
are ``model.skops``: skops' loader builds only the types it is told to
trust, where pickle or joblib would run whatever code the file holds. They
read features, not images; ``config.json`` names which (see
:mod:`digitsuite.data.features`).
"""

import json
import shlex
import statistics
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitsuite.errors import ModelFileError
from digitsuite.fileio import atomic_path, committed_path

MODELS = ("lr", "rf", "dense", "cnn")
TITLES = {"lr": "Logistic regression", "rf": "Random forest", "dense": "Dense network",
          "cnn": "CNN"}
MODEL_FILES = {"lr": "model.skops", "rf": "model.skops", "dense": "model.keras",
               "cnn": "model.keras"}
IMAGE_SHAPE = (28, 28, 1)
# Types skops must be told to trust, beyond its own safe defaults, to load each
# scikit-learn model this suite saves; a file asking for anything else is refused.
SKOPS_TRUSTED = {"lr": [], "rf": ["sklearn.tree._tree.Tree"]}


DEFAULT_RUNS_DIR = Path("runs")  # where the training scripts write by default
# The reader model shipped in the repository (train_reader.py wrote it).
READER_MODEL = Path(__file__).resolve().parents[2] / "models" / "reader" / "model.keras"


def model_path(runs_dir, name):
    return Path(runs_dir) / name / MODEL_FILES[name]


def train_command(name, runs_dir, data_argv=()):
    """The shell command that creates run ``name`` under ``runs_dir``."""
    if name == "cnn":
        argv = ["python", "train_cnn.py", "--out-dir", str(Path(runs_dir) / "cnn")]
    else:
        argv = ["python", "baselines.py", "--models", name, "--out-dir", str(runs_dir)]
    return shlex.join(argv + list(data_argv))


def missing_models(runs_dir):
    """The models in MODELS with nothing at their model file's place under
    ``runs_dir`` (a folder or a broken file there is no missing model: loading
    it says what is wrong)."""
    return [name for name in MODELS if not model_path(runs_dir, name).exists()]


def save_model(model, path):
    """Write a Keras model (``.keras``) or fitted scikit-learn model
    (``.skops``) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if hasattr(model, "save"):
            model.save(tmp)
        else:
            import skops.io

            skops.io.dump(model, tmp, compression=zipfile.ZIP_DEFLATED)


def load_sklearn(path, name, hint):
    """Load scikit-learn model ``name`` ('lr' or 'rf') saved by :func:`save_model`.

    Only the types in ``SKOPS_TRUSTED[name]`` are trusted. Raises
    ModelFileError, ending with ``hint``, for a missing, corrupt or foreign
    file and for a model of another kind or not fitted on 28x28 digits.
    """
    import skops.io
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model at {path}; {hint}")
    try:
        model = skops.io.load(path, trusted=SKOPS_TRUSTED[name])
    except UntrustedTypesFoundException as exc:
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path))
                           - set(SKOPS_TRUSTED[name]))
        raise ModelFileError(
            f"{path} asks to load types this suite does not trust ({', '.join(untrusted)}); "
            f"it was not saved by baselines.py for '{name}', so it is not loaded; "
            f"{hint}") from exc
    except Exception as exc:  # zipfile.BadZipFile, JSON and skops' own errors alike
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelFileError(
            f"{path} is not a skops model file skops can load ({reason}); {hint}") from exc
    expected = {"lr": LogisticRegression, "rf": RandomForestClassifier}[name]
    if not isinstance(model, expected):
        raise ModelFileError(
            f"{path} holds a {type(model).__name__}, not a {expected.__name__}; {hint}")
    if getattr(model, "n_features_in_", None) != 28 * 28:
        raise ModelFileError(f"{path} is not fitted on 784 pixel features (28x28 digits); "
                             f"{hint}")
    if name == "rf" and not all(_tree_is_sound(tree.tree_, 28 * 28)
                                for tree in getattr(model, "estimators_", [None])):
        raise ModelFileError(f"{path} holds a tree with node links or features out of "
                             f"range, which would crash prediction; {hint}")
    return model


def _tree_is_sound(tree, n_features):
    """True when a fitted tree's arrays are consistent.

    scikit-learn follows a tree's child indices and reads its features
    without bounds checks, so a crafted file could make ``predict`` read
    outside memory or loop forever; skops cannot check this, so it is
    checked here: leaves have no children and feature -2, inner nodes have
    two children after themselves (no cycles) and a real feature.
    """
    try:
        n = tree.node_count
        left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
        feature, value = np.asarray(tree.feature), tree.value
    except AttributeError:
        return False
    if n < 1 or not (len(left) == len(right) == len(feature) == value.shape[0] == n):
        return False
    leaf = left == -1
    inner, nodes = ~leaf, np.arange(n)
    return bool(np.all(right[leaf] == -1) and np.all(feature[leaf] == -2)
                and np.all((left[inner] > nodes[inner]) & (left[inner] < n))
                and np.all((right[inner] > nodes[inner]) & (right[inner] < n))
                and np.all((feature[inner] >= 0) & (feature[inner] < n_features)))


def predict_proba(model, images, features=None):
    """Class probabilities (n, classes) for uint8 images (n, 28, 28).

    Keras models take the images; scikit-learn models take their
    ``features`` (a :data:`digitsuite.data.features.FEATURES` name).
    """
    if features is None:
        from digitsuite.inference.predict import predict_proba as keras_predict_proba

        return keras_predict_proba(model, images)
    from sklearn.ensemble import RandomForestClassifier

    from digitsuite.data.features import make_features

    if isinstance(model, RandomForestClassifier) and len(images) <= FEW_IMAGES:
        return forest_proba(model, make_features(images, features))
    return model.predict_proba(make_features(images, features))


FEW_IMAGES = 32  # up to this many, a forest predicts in the calling thread (forest_proba)


def forest_proba(forest, features):
    """``forest.predict_proba(features)`` computed tree by tree in this thread.

    The same mean of every tree's probabilities that scikit-learn computes
    (each tree's is ``tree_.predict`` cut to the classes, as in
    ``DecisionTreeClassifier.predict_proba``). For a few images (the web
    app's one drawing) this is much faster: scikit-learn dispatches each
    tree as a joblib task, saving and restoring its configuration and
    warning filters, and checks the input again per tree, which costs more
    than the tree walks themselves. The input is checked once, here.
    """
    x = np.ascontiguousarray(features, np.float32)  # what the trees split on
    if x.ndim != 2 or x.shape[1] != forest.n_features_in_:
        raise ValueError(f"expected features of shape (n, {forest.n_features_in_}), "
                         f"got {x.shape}")
    classes = forest.n_classes_
    total = sum(tree.tree_.predict(x)[:, :classes] for tree in forest.estimators_)
    return total / len(forest.estimators_)


@dataclass
class Run:
    """A loaded run: the model, the features it reads, and its saved records."""

    name: str
    model: object
    features: str | None  # None for Keras models, which read images
    config: dict
    metrics: dict
    # How a Keras model's snapshot computes (digitsuite.inference.predict.freeze):
    # "float32", "int8" or "auto", the last two calibrated on these training images.
    precision: str = "float32"
    calibration: object = field(default=None, repr=False)
    _frozen: object = field(default=None, init=False, repr=False)

    @property
    def title(self):
        return TITLES[self.name]

    def predict_proba(self, images):
        """Probabilities for uint8 images (n, 28, 28); a Keras model is frozen
        for LiteRT's fast kernels on first use (:func:`digitsuite.inference.predict.freeze`)."""
        if self.features is not None:
            return predict_proba(self.model, images, self.features)
        return self._frozen_model()(images)

    @property
    def engine(self):
        """What runs the predictions: scikit-learn, LiteRT or TensorFlow."""
        return "scikit-learn" if self.features is not None else self._frozen_model().engine

    @property
    def arithmetic(self):
        """``(precision, why)`` of the predictions: float64 for scikit-learn,
        the frozen snapshot's choice for a Keras model."""
        if self.features is not None:
            return "float64", "scikit-learn"
        frozen = self._frozen_model()
        return frozen.precision, frozen.precision_reason

    def _frozen_model(self):
        if self._frozen is None:
            from digitsuite.inference.predict import freeze

            calibration = None if self.precision == "float32" else self.calibration
            self._frozen = freeze(self.model, precision=self.precision, calibration=calibration)
        return self._frozen

    def images_per_second(self, images, repeats=3):
        """Median prediction throughput over ``repeats`` timed passes over
        ``images``, after a warm-up (tracing or freezing the model happens once)."""
        self.predict_proba(images[:32])
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.predict_proba(images)
            seconds.append(time.perf_counter() - start)
        return len(images) / statistics.median(seconds)


def _read_json(path, hint):
    """The JSON object in ``path`` (a run's config.json or metrics.json);
    ModelFileError, naming ``hint``, for anything else a folder may hold."""
    try:
        data = json.loads(committed_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{path} is missing beside the model; {hint}") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is unreadable ({exc}); {hint}") from exc
    except RecursionError:  # arrays nested past Python's limit: [[[[...
        raise ModelFileError(f"{path} is unreadable (nested too deep); {hint}") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path} is unreadable (not a JSON object); {hint}")
    return data


def load_run(runs_dir, name, num_classes, data_argv=()):
    """Load run ``name`` from ``runs_dir`` for a test set of ``num_classes`` classes.

    ``data_argv`` goes into the command that the error messages suggest.
    Raises ModelFileError, naming that command, for a missing, corrupt or
    unsafe model file, a model that does not take 28x28x1 digits or gives
    another number of classes, and missing or unreadable records.
    """
    from digitsuite.data.features import FEATURES

    path = model_path(runs_dir, name)
    hint = f"recreate it with: {train_command(name, runs_dir, data_argv)}"
    if name in SKOPS_TRUSTED:
        model = load_sklearn(committed_path(path), name, hint)
        outputs = len(model.classes_)
        if not np.array_equal(model.classes_, np.arange(outputs)):
            raise ModelFileError(f"{path} predicts labels {model.classes_.tolist()}, "
                                 f"not 0-{outputs - 1}; {hint}")
    else:
        from digitsuite.inference.modelio import load_keras_model

        model = load_keras_model(path, hint=hint, expect_input_shape=IMAGE_SHAPE)
        outputs = model.output_shape[-1]
    if outputs != num_classes:
        raise ModelFileError(
            f"{path} predicts {outputs} classes but the test set has {num_classes}; {hint}")
    config = _read_json(path.parent / "config.json", hint)
    metrics = _read_json(path.parent / "metrics.json", hint)
    features = config.get("features") if name in SKOPS_TRUSTED else None
    if name in SKOPS_TRUSTED and features not in FEATURES:
        raise ModelFileError(
            f"{path.parent / 'config.json'} does not name the model's input features "
            f"(got {features!r}, expected one of {', '.join(FEATURES)}); {hint}")
    return Run(name=name, model=model, features=features, config=config, metrics=metrics)


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
