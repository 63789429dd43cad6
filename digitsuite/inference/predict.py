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

All functions take uint8 (or 0-255 float) images shaped (n, 28, 28) and
return class probabilities (n, classes).
"""

import os
import tempfile
import time

import numpy as np

from digitsuite.backend import quiet_stderr, tf
from digitsuite.inference.forward import seed_cnn_forward


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
    if dtype.name not in cache:
        spec = tf.TensorSpec([None, *model.input_shape[1:-1]], tf.as_dtype(dtype))
        forward = seed_cnn_forward(model) or model

        @tf.function(input_signature=[spec], autograph=False)  # plain ops, no control flow
        def predict(images):
            x = tf.cast(images, tf.float32)[..., None] / 255.0  # (n, 28, 28, 1)
            return forward(x, training=False)

        cache[dtype.name] = predict
    return cache[dtype.name]


class FrozenPredictor:
    """A snapshot of a Keras model's weights, run by LiteRT (see :func:`freeze`).

    Call it with images (n, 28, 28) for probabilities (n, classes).
    ``engine`` says what runs it ("litert-xnnpack" or "tensorflow") and
    ``freeze_seconds`` what the conversion cost.
    """

    def __init__(self, model, batch_size=256, threads=None):
        self.batch_size = batch_size
        self.classes = model.output_shape[-1]
        start = time.perf_counter()
        self._interpreter = _litert_interpreter(model, threads)
        if self._interpreter is None:
            self.engine = "tensorflow"
            self._fallback = model
        else:
            self.engine = "litert-xnnpack"
            self._input = self._interpreter.get_input_details()[0]["index"]
            self._output = self._interpreter.get_output_details()[0]["index"]
            self._size = None
        self.freeze_seconds = time.perf_counter() - start

    def __call__(self, images):
        images = _as_input(images)
        if self._interpreter is None:
            return predict_proba(self._fallback, images)
        if images.dtype != np.uint8:  # the converted graph takes uint8 pixels
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
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


def freeze(model, batch_size=256, threads=None):
    """A :class:`FrozenPredictor` of ``model``'s current weights.

    Later training does not reach the snapshot: freeze again after it.
    ``threads``: LiteRT's threads (default: the CPUs this process may use).
    """
    return FrozenPredictor(model, batch_size=batch_size, threads=threads)


def _usable_cpus():
    if hasattr(os, "sched_getaffinity"):  # Linux: honours taskset and cgroups' cpusets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _litert_interpreter(model, threads):
    """``model`` with its pixel scaling as a LiteRT interpreter taking uint8
    (n, 28, 28), or None when LiteRT is missing or conversion fails."""
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
            flatbuffer = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
            interpreter = Interpreter(model_content=flatbuffer,
                                      num_threads=threads or _usable_cpus())
    except Exception:  # noqa: BLE001 - any converter failure: the TensorFlow path still works
        return None
    return interpreter
