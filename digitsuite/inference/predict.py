"""Prediction with a Keras model: the live path and the frozen fast path.

- :func:`predict_proba` reads the model's variables as it runs, so it
  always sees the current weights (use it during and right after
  training). It runs one compiled TensorFlow graph per model that also
  scales the pixels, in batches of 256: no per-batch Python work as in
  ``model.predict``. The seed CNN runs its equivalent, cheaper forward pass
  (:func:`digitsuite.inference.forward.seed_cnn_forward`), faster than the
  model's own layers.
- :func:`freeze` snapshots a trained model for repeated prediction (what
  ``evaluate.py`` and the benchmark use): that same graph, with its pixel
  scaling, converted once to a LiteRT flatbuffer and run by LiteRT's
  XNNPACK CPU kernels in batches of 256, faster again than the live path.
  Converting is a one-off cost, so it pays off for large or repeated
  predictions. docs/performance.md gives the measured speeds.
  Without the ``ai-edge-litert`` package (it has no Windows wheels) or if
  conversion fails, the snapshot falls back to :func:`predict_proba`.
  ``precision="int8"`` quantises the snapshot's weights and activations to
  8-bit integers, their ranges calibrated on a few hundred of the model's
  training images: XNNPACK's integer kernels are faster again. ``"auto"``
  takes the int8 snapshot only where it is measured faster than float32
  on the calibration images and gives their float32 answers back
  (:data:`INT8_AGREEMENT`); LiteRT's CPU kernels have no bfloat16.

All functions take uint8 (or 0-255 float) images shaped (n, 28, 28) and
return class probabilities (n, classes).
"""

import os
import tempfile
import time

import numpy as np

from digitsuite.backend import quiet_stderr, tf
from digitsuite.inference.forward import seed_cnn_forward

# The prediction precisions live with the training ones (digitsuite.precision),
# where a script's --help reads them without starting TensorFlow.
from digitsuite.precision import (
    CALIBRATION_IMAGES,
    CHECK_IMAGES,
    FROZEN_PRECISIONS,
    INT8_AGREEMENT,
)


def predict_proba(model, images, batch_size=256):
    """Class probabilities (n, classes) of ``model`` for images (n, 28, 28).

    Batches of 256 were the fastest through TensorFlow on a 2-core CPU of
    the sizes tried (docs/performance.md).
    """
    images = _as_input(images)
    predict = _compiled_predict(model, images.dtype)
    outputs = [predict(images[start:start + batch_size]).numpy()
               for start in range(0, len(images), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]),
                                                            np.float32)


def _as_input(images):
    images = np.asarray(images)
    return images if images.dtype == np.uint8 else images.astype(np.float32)


def _as_uint8(images):
    return images if images.dtype == np.uint8 else np.clip(np.rint(images), 0, 255).astype(
        np.uint8)


def _compiled_predict(model, dtype):
    """A ``tf.function`` from (n, 28, 28) images of ``dtype`` in 0-255 to the
    model's outputs in inference mode; any batch size, one trace. Cached on
    ``model`` per input dtype.

    The seed CNN runs the equivalent, cheaper forward pass of
    :func:`digitsuite.inference.forward.seed_cnn_forward` (same weights, same
    outputs to float rounding): its conv1 block as four small matrix
    products, and only the part of conv2 that pool2 reads.
    """
    cache = model.__dict__.setdefault("_digitsuite_predict", {})
    # Per compute dtype too: a model trained in bfloat16 computes in float32
    # once it is done (digitsuite.precision.as_float32).
    key = f"{dtype.name}:{model.compute_dtype}"
    if key not in cache:
        spec = tf.TensorSpec([None, *model.input_shape[1:-1]], tf.as_dtype(dtype))
        forward = seed_cnn_forward(model) or model

        @tf.function(input_signature=[spec], autograph=False)  # plain ops, no control flow
        def predict(images):
            x = tf.cast(images, tf.float32)[..., None] / 255.0  # (n, 28, 28, 1)
            return forward(x, training=False)

        cache[key] = predict
    return cache[key]


class FrozenPredictor:
    """A snapshot of a Keras model's weights, run by LiteRT (see :func:`freeze`).

    Call it with images (n, 28, 28) for probabilities (n, classes).
    ``engine`` says what runs it ("litert-xnnpack" or "tensorflow"),
    ``precision`` in what arithmetic ("float32" or "int8") and why
    (``precision_reason``), and ``freeze_seconds`` what the conversion cost.
    """

    def __init__(self, model, batch_size=256, threads=None, precision="float32",
                 calibration=None):
        if precision not in FROZEN_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(FROZEN_PRECISIONS)}, "
                             f"got {precision!r}")
        if precision == "int8" and calibration is None:
            raise ValueError("an int8 snapshot needs calibration images")
        self.batch_size = batch_size
        self.classes = model.output_shape[-1]
        if calibration is not None:
            calibration = _as_uint8(_as_input(calibration))
        start = time.perf_counter()
        self._interpreter = _litert_interpreter(model, threads)
        self.precision, self.precision_reason = "float32", "exact"
        if self._interpreter is None:
            self.engine = "tensorflow"
            self._fallback = model
        else:
            self.engine = "litert-xnnpack"
            self._use(self._interpreter)
            if precision != "float32" and calibration is not None:
                self._quantise(model, threads, calibration, force=precision == "int8")
        self.freeze_seconds = time.perf_counter() - start

    def _use(self, interpreter):
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]["index"]
        self._output = interpreter.get_output_details()[0]["index"]
        self._size = None

    def _quantise(self, model, threads, calibration, force):
        """Switch to the int8 snapshot, calibrated on the first of the
        ``calibration`` images, when forced, or when it is faster than float32
        on the next ones and agrees with it there (``precision="auto"``)."""
        int8 = _litert_interpreter(model, threads, calibration=calibration[:CALIBRATION_IMAGES])
        if int8 is None:
            self.precision_reason = "int8 conversion failed"
            return
        if force:
            self._use(int8)
            self.precision, self.precision_reason = "int8", "asked for"
            return
        check = calibration[CALIBRATION_IMAGES:CALIBRATION_IMAGES + CHECK_IMAGES]
        if len(check) == 0:  # too few images to keep some apart: check on the same ones
            check = calibration
        exact, exact_seconds = self._timed(check)
        float32 = self._interpreter
        self._use(int8)
        quantised, int8_seconds = self._timed(check)
        agreement = float(np.mean(exact.argmax(1) == quantised.argmax(1)))
        measured = (f"int8 {exact_seconds / int8_seconds:.2f}x as fast as float32, "
                    f"same top class on {agreement:.2%} of {len(check)} training images")
        if int8_seconds < exact_seconds and agreement >= INT8_AGREEMENT:
            self.precision, self.precision_reason = "int8", measured
        else:
            self._use(float32)
            self.precision_reason = f"float32 kept: {measured}"

    def _timed(self, images, repeats=3):
        """Probabilities for ``images`` and the best seconds of ``repeats`` passes."""
        result = self(images)  # allocates the tensors for this size
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            self(images)
            best = min(best, time.perf_counter() - start)
        return result, best

    def __call__(self, images):
        images = _as_input(images)
        if self._interpreter is None:
            return predict_proba(self._fallback, images)
        images = _as_uint8(images)  # the converted graph takes uint8 pixels
        outputs = [self._run(images[start:start + self.batch_size])
                   for start in range(0, len(images), self.batch_size)]
        return np.concatenate(outputs) if outputs else np.zeros((0, self.classes), np.float32)

    def _run(self, chunk):
        if len(chunk) != self._size:  # reshape the graph for this batch size
            self._interpreter.resize_tensor_input(self._input, list(chunk.shape))
            with quiet_stderr():  # XNNPACK announces itself on stderr
                self._interpreter.allocate_tensors()
            self._size = len(chunk)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(chunk))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


def freeze(model, batch_size=256, threads=None, precision="float32", calibration=None):
    """A :class:`FrozenPredictor` of ``model``'s current weights.

    Later training does not reach the snapshot: freeze again after it.
    ``threads``: LiteRT's threads (default: the CPUs this process may use).
    ``precision``: "float32" (exact), "int8" or "auto" (int8 where it is
    faster and agrees, see the module's docstring); both need
    ``calibration``, uint8 images (n, 28, 28) from the model's training data.
    """
    return FrozenPredictor(model, batch_size=batch_size, threads=threads,
                           precision=precision, calibration=calibration)


def _usable_cpus():
    if hasattr(os, "sched_getaffinity"):  # Linux: honours taskset and cgroups' cpusets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _litert_interpreter(model, threads, calibration=None):
    """``model`` with its pixel scaling as a LiteRT interpreter taking uint8
    (n, 28, 28), or None when LiteRT is missing or conversion fails. With
    ``calibration`` images, weights and activations are quantised to int8
    (the input and output stay uint8 and float32)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    function = _compiled_predict(model, np.dtype(np.uint8))
    holder = tf.Module()  # what the SavedModel keeps: the weights and the function
    holder.weights = [variable.value for variable in model.variables]
    holder.predict = function
    try:
        with tempfile.TemporaryDirectory(prefix="digitsuite-litert-") as folder, quiet_stderr():
            tf.saved_model.save(holder, folder, signatures=function.get_concrete_function())
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            if calibration is not None:
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = lambda: (
                    [np.ascontiguousarray(calibration[i:i + 1])]
                    for i in range(len(calibration)))
            flatbuffer = converter.convert()
            interpreter = Interpreter(model_content=flatbuffer,
                                      num_threads=threads or _usable_cpus())
    except Exception:  # noqa: BLE001 - any converter failure: the TensorFlow path still works
        return None
    return interpreter
