"""The models the app answers with, loaded once when it starts.

The CNN (``--model``) is looked into layer by layer through one
:class:`digitsuite.visual.layerviz.Analyser`; the three other models
(logistic regression, random forest, dense net) come from ``--runs-dir``
through :func:`digitsuite.inference.runs.load_run`. Pages are read with the
reader model shipped in ``models/reader/`` (the CNN when it cannot be
loaded), as ``read_digits.py`` reads them. A model that is missing
or cannot be loaded is left out with a one-line reason (for a missing one,
the command that trains it); the app serves whatever is there. On a fresh
checkout, with no CNN trained yet, the shipped reader (the seed CNN's
architecture) stands in for it, labelled as such, so drawing answers at once.
"""

import shlex
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitsuite.data.datasets import to_model_input
from digitsuite.errors import ModelFileError
from digitsuite.inference import runs

OTHERS = ("lr", "rf", "dense")  # answer side by side with the CNN


@dataclass
class Slot:
    """One of the four models: loaded (``run`` or, for the CNN, ``model``)
    or not (``problem`` says why and what to do)."""

    name: str
    path: Path
    run: object = None
    model: object = None
    problem: str | None = None
    accuracy: float | None = None
    stand_in: str | None = None  # why another model answers in its place, and how to train it

    @property
    def title(self):
        return runs.TITLES[self.name] + (" (shipped reader)" if self.stand_in else "")

    @property
    def available(self):
        return self.problem is None


class Session:
    """The loaded models. Thread-safe: requests may call it concurrently."""

    def __init__(self, runs_dir=runs.DEFAULT_RUNS_DIR, model=None, reader=runs.READER_MODEL):
        self.runs_dir = Path(runs_dir)
        cnn_path = Path(model) if model else runs.model_path(self.runs_dir, "cnn")
        self.slots = {name: Slot(name, runs.model_path(self.runs_dir, name))
                      for name in OTHERS}
        self.slots["cnn"] = Slot("cnn", cnn_path)
        self.analyser = None
        # The reader that reads pages: the shipped model with its partner and
        # calibration; its first model stands in for a CNN not trained yet.
        self.reader_ensemble = self._load_reader(reader)
        self.reader = self.reader_ensemble.models[0] if self.reader_ensemble else None
        # LiteRT interpreters are not thread-safe; one lock per frozen model.
        self._locks = {name: threading.Lock() for name in OTHERS}
        for slot in self.slots.values():
            try:
                self._load(slot)
            except ModelFileError as exc:
                slot.problem = str(exc)
        cnn = self.slots["cnn"]
        if not cnn.path.is_file() and self.reader is not None:
            cnn.stand_in = (f"no CNN trained yet (no {cnn.path}), so the reader shipped in "
                            f"models/reader/ answers; train your own with: "
                            f"{runs.train_command('cnn', self.runs_dir)}")
            cnn.path, cnn.model, cnn.problem = Path(reader), self.reader, None
            cnn.accuracy = _test_accuracy(Path(reader).parent / "metrics.json")
        if cnn.available:
            from digitsuite.visual.layerviz import Analyser  # imports TensorFlow

            self.analyser = Analyser(cnn.model)
            self.analyser(np.zeros((28, 28), np.float32))  # trace the graph now, not per request
        for name in OTHERS:
            if self.slots[name].available:  # freeze Keras models for LiteRT now
                self.predict(name, np.zeros((1, 28, 28), np.uint8))

    def _load(self, slot):
        command = runs.train_command(slot.name, self.runs_dir)
        if not slot.path.is_file():
            slot.problem = f"not trained yet (no {slot.path}); train it with: {command}"
            return
        if slot.name == "cnn":
            from digitsuite.inference.modelio import load_keras_model
            from digitsuite.reading.reader import check_classifier

            slot.model = load_keras_model(slot.path, hint=f"train one with: {command}",
                                          expect_input_shape=runs.IMAGE_SHAPE)
            check_classifier(slot.model, slot.path)
            slot.accuracy = _test_accuracy(slot.path.parent / "metrics.json")
        else:
            slot.run = runs.load_run(self.runs_dir, slot.name, num_classes=10)
            slot.accuracy = slot.run.metrics.get("test_accuracy")

    @staticmethod
    def _load_reader(path):
        """The shipped reader (an Ensemble: its models and calibration), or
        None when it cannot be loaded."""
        from digitsuite.reading.confidence import load_reader

        try:
            return load_reader(path)
        except ModelFileError:
            return None

    def baselines_command(self):
        """The one command that trains the three models answering beside the CNN."""
        argv = ["python", "baselines.py"]
        if self.runs_dir != runs.DEFAULT_RUNS_DIR:
            argv += ["--out-dir", str(self.runs_dir)]
        return shlex.join(argv)

    @property
    def page_reader(self):
        """What pages are read with: the calibrated reader, else the CNN (or None)."""
        return self.reader_ensemble if self.reader_ensemble is not None else self.cnn

    @property
    def cnn(self):
        """The CNN's Keras model, or None."""
        return self.slots["cnn"].model

    def predict(self, name, pixels):
        """Probabilities (n, 10) of ``name`` (one of OTHERS) for uint8 images (n, 28, 28)."""
        with self._locks[name]:
            return np.asarray(self.slots[name].run.predict_proba(pixels), np.float64)

    def analyse(self, pixels):
        """The CNN's :class:`~digitsuite.visual.layerviz.Analyser` result for
        uint8 pixels (28, 28): what ``visualize_layers.py`` computes."""
        return self.analyser(to_model_input(pixels[None])[0, ..., 0])

    def summary(self):
        """One line per model: loaded (with its test accuracy) or why not."""
        lines = []
        for name in runs.MODELS:
            slot = self.slots[name]
            if slot.available:
                accuracy = f", test accuracy {slot.accuracy:.2%}" if slot.accuracy else ""
                stand_in = f"; {slot.stand_in}" if slot.stand_in else ""
                lines.append(f"{slot.title}: {slot.path}{accuracy}{stand_in}")
            else:
                lines.append(f"{slot.title}: {slot.problem}")
        return lines


def _test_accuracy(path):
    """The test accuracy in a run's metrics.json, or None when it has none."""
    import json

    try:
        return float(json.loads(Path(path).read_text(encoding="utf-8"))["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
