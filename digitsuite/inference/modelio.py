"""Load saved Keras models with one-line errors for the user's mistakes."""

import shlex
import zipfile
from pathlib import Path

from digitsuite.errors import ModelFileError
from digitsuite.fileio import committed_path

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def train_hint(path):
    """How to get a model at ``path``: the train_cnn.py command that writes it."""
    path = Path(path)
    if path.name == "model.keras":
        return f"train one with: python train_cnn.py --out-dir {shlex.quote(str(path.parent))}"
    return "train one with: python train_cnn.py (it writes runs/cnn/model.keras)"


def check_model_file(path, hint=None):
    """What :func:`load_keras_model` checks before it imports Keras: the
    file is there and is a model archive. Returns the file to load; raises
    ModelFileError, so a script can refuse a wrong ``--model`` at once."""
    path = Path(path)
    hint = hint or train_hint(path)
    # A run stopped while moving its files into place: read its new model
    # where it lies; loading never writes.
    source = committed_path(path)
    if not source.exists():
        raise ModelFileError(f"no model at {path}; {hint}")
    if not source.is_file():
        if path.suffix.lower() in MODEL_SUFFIXES:  # a folder where the file should be
            raise ModelFileError(f"{path} is a folder, not a model file; move it away and "
                                 f"{hint}")
        inside = next((path / name for name in ("model.keras", "model.h5")
                       if (path / name).is_file()), None)
        raise ModelFileError(f"{path} is a folder, not a model file; " + (
            f"give the file inside it, {inside}" if inside else
            f"give a .keras model file, or {hint}"))
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelFileError(f"{path} is not a Keras model file (expected a .keras file); "
                             f"give the model.keras a training script wrote, or {hint}")
    if path.suffix == ".keras" and not zipfile.is_zipfile(source):
        raise ModelFileError(f"{path} is not a .keras model (not a zip archive), so it is "
                             f"corrupt or another kind of file; {hint}")
    return source


def load_keras_model(path, hint=None, expect_input_shape=None):
    """Load a ``.keras`` (or ``.h5``) model in safe mode, uncompiled.

    ``hint`` ends the message when there is no model at ``path``;
    ``expect_input_shape`` (without the batch axis, e.g. ``(28, 28, 1)``) is
    checked against the model's input. Raises ModelFileError for a missing
    file, a file Keras cannot load (or that needs unsafe deserialisation),
    and a model with a different input shape.
    """
    path = Path(path)
    hint = hint or train_hint(path)
    source = check_model_file(path, hint)
    from digitsuite.backend import keras

    try:
        # compile=False: inference needs no optimizer state, and a model saved
        # with a custom loss still loads.
        model = keras.models.load_model(source, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, OSError, zip and JSON errors alike
        reason = " ".join(str(exc).split()) or type(exc).__name__
        reason = reason if len(reason) <= 400 else reason[:400] + "..."
        raise ModelFileError(
            f"{path} is not a Keras model file Keras can load ({reason}); give a "
            f"model.keras saved by this suite, or {hint}") from exc
    if expect_input_shape is not None:
        if not _shape_fits(model.input_shape, expect_input_shape):
            raise ModelFileError(
                f"{path} takes inputs of shape {model.input_shape}, but this script "
                f"feeds (batch, {', '.join(map(str, expect_input_shape))}); give a model "
                f"with that input, or {hint}")
    return model


def _shape_fits(input_shape, expected):
    """True for one input of shape ``(None, *expected)``; None dims match any size."""
    if not isinstance(input_shape, tuple) or len(input_shape) != len(expected) + 1:
        return False
    return all(dim is None or dim == want for dim, want in zip(input_shape[1:], expected))


def drop_training_state(path):
    """Rewrite the ``.keras`` model at ``path`` without its optimizer state:
    a third of the size (the weights alone), all that reading with it needs."""
    from digitsuite.backend import keras
    from digitsuite.fileio import atomic_path

    model = load_keras_model(path)
    with atomic_path(path) as tmp:
        keras.models.Model.save(model, tmp)
