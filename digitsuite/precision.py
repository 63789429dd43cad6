"""Which arithmetic the Keras models compute in: float32, or bfloat16 with
float32 variables (Keras' ``mixed_bfloat16`` policy).

``--precision auto`` (every training script's default) picks bfloat16 only
where the hardware does it natively and it is measured faster here:

1. the device must do bfloat16 natively: a GPU of compute capability 8.0 or
   later, or a CPU whose flags include ``amx_bf16`` or ``avx512_bf16``.
   Without them TensorFlow emulates bfloat16, far slower than float32;
2. a short probe (well under a second) times the seed CNN's heaviest work,
   conv2 and the first dense layer forward and backward on one batch, in
   both precisions; bfloat16 is kept only if it beats float32 by
   :data:`PROBE_MARGIN`, so ``auto`` never picks the slower path.

``float32`` and ``bfloat16`` force one. :func:`choose` returns the decision
with its reason, recorded in each run's ``config.json``; :func:`policy`
applies it while a model is built and trained. Saved models are always
float32 (:func:`digitsuite.training.run`), so a file trained in bfloat16
loads and predicts the same on any machine.
"""

import contextlib
import functools
import time
from pathlib import Path

PRECISIONS = ("auto", "float32", "bfloat16")
# Keras dtype policy per precision: bfloat16 computes with float32 variables,
# so the optimizer's updates and the saved weights keep full precision.
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
# bfloat16 must be at least this much faster than float32 in the probe: a
# tie under a noisy load should keep the exact path.
PROBE_MARGIN = 0.9

# Prediction's arithmetic (digitsuite.inference.predict.freeze): LiteRT's CPU
# kernels have no bfloat16, so the reduced precision there is int8. "auto"
# keeps the int8 snapshot only if its top class agrees with float32's on at
# least INT8_AGREEMENT of CHECK_IMAGES training images that calibration did
# not use (CALIBRATION_IMAGES set the activations' ranges).
FROZEN_PRECISIONS = ("auto", "float32", "int8")
INT8_AGREEMENT = 0.998
CALIBRATION_IMAGES = 512
CHECK_IMAGES = 2048


def cpu_info(path=Path("/proc/cpuinfo")):
    """``(model name, set of flags)`` of this machine's CPU; ``("unknown",
    set())`` where /proc/cpuinfo is missing (not Linux)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return "unknown", set()
    model = next((line.split(":", 1)[1].strip() for line in lines
                  if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].split() for line in lines
                  if line.startswith(("flags", "Features"))), [])
    return model, set(flags)


def native_bf16(gpus=None, cpu=None):
    """``(True/False, why)``: whether the device the models run on does
    bfloat16 natively. ``gpus``: [(name, compute capability)] (default: the
    visible GPUs); ``cpu``: :func:`cpu_info`'s result (default: this CPU's)."""
    if gpus is None:
        gpus = _visible_gpus()
    if gpus:
        name, capability = gpus[0]
        if capability is not None and tuple(capability) >= (8, 0):
            return True, f"GPU {name} (compute capability {capability[0]}.{capability[1]})"
        return False, f"GPU {name} has no native bfloat16 (compute capability below 8.0)"
    model, flags = cpu if cpu is not None else cpu_info()
    found = [flag for flag in NATIVE_BF16_FLAGS if flag in flags]
    if found:
        return True, f"CPU {model} has {' and '.join(found)}"
    return False, f"CPU {model} has no native bfloat16 (no {' or '.join(NATIVE_BF16_FLAGS)})"


def _visible_gpus():
    from digitsuite.backend import tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        found.append((details.get("device_name", device.name),
                      details.get("compute_capability")))
    return found


def probe(repeats=5, calls=4):
    """Seconds per call of one training-like step, in float32 and in bfloat16:
    conv2 of the seed CNN (batch 128, 12x12x64 -> 10x10x64) and a 288 -> 512
    dense layer, forward and backward. Best of ``repeats``, the two
    precisions in turns so that both see the same load."""
    from digitsuite.backend import tf

    gen = tf.random.Generator.from_seed(0)
    images = gen.normal([128, 12, 12, 64])
    kernel, weights = gen.normal([3, 3, 64, 64]) * 0.05, gen.normal([288, 512]) * 0.05
    features = gen.normal([128, 288])

    def make(dtype):
        args = [tf.cast(t, dtype) for t in (images, kernel, features, weights)]

        @tf.function(autograph=False)
        def step(x, k, f, w):
            with tf.GradientTape() as tape:
                tape.watch([k, w])
                y = tf.nn.relu(tf.nn.conv2d(x, k, 1, "VALID"))
                z = tf.nn.relu(tf.matmul(f, w))
                loss = tf.reduce_sum(tf.cast(y, tf.float32)) + tf.reduce_sum(
                    tf.cast(z, tf.float32))
            return tape.gradient(loss, [k, w])

        return lambda: [g.numpy() for g in step(*args)]

    steps = {"float32": make(tf.float32), "bfloat16": make(tf.bfloat16)}
    best = {}
    for step in steps.values():
        step()  # trace once
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(calls):
                step()
            best[name] = min(best.get(name, float("inf")),
                             (time.perf_counter() - start) / calls)
    return best


@functools.cache
def choose(requested="auto"):
    """The precision to compute in for ``requested`` ("auto", "float32" or
    "bfloat16"): a dict with ``precision``, ``policy`` (Keras'), ``requested``,
    ``reason`` and, when measured, ``probe_seconds``. Decided once per process."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested != "auto":
        return _decision(requested, requested, f"--precision {requested}")
    native, why = native_bf16()
    if not native:
        return _decision("float32", requested, why)
    seconds = probe()
    speedup = seconds["float32"] / seconds["bfloat16"]
    measured = (f"bfloat16 step {speedup:.2f}x as fast as float32 in the probe")
    if seconds["bfloat16"] <= PROBE_MARGIN * seconds["float32"]:
        return _decision("bfloat16", requested, f"{why}; {measured}", seconds)
    return _decision("float32", requested,
                     f"{why}, but {measured} (needs {1 / PROBE_MARGIN:.2f}x)", seconds)


def _decision(precision, requested, reason, probe_seconds=None):
    decision = {"precision": precision, "policy": POLICIES[precision],
                "requested": requested, "reason": reason}
    if probe_seconds is not None:
        decision["probe_seconds"] = {k: round(v, 6) for k, v in probe_seconds.items()}
    return decision


@contextlib.contextmanager
def policy(precision):
    """Build and train Keras models in ``precision`` ("float32" or
    "bfloat16") inside the block; Keras' global policy is restored after."""
    from digitsuite.backend import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def resumed(model):
    """The decision a stopped run was trained under, read from its ``model``."""
    # The layers' policies, not the model's own: a loaded functional model
    # takes the global policy of the moment, its layers keep what they were
    # saved with (the output layer is float32 in either precision).
    policies = {layer.dtype_policy.name for layer in model.layers}
    precision = "bfloat16" if POLICIES["bfloat16"] in policies else "float32"
    return _decision(precision, precision, "the precision the resumed run started with")


def as_float32(model):
    """Set every layer of a trained ``model`` to compute in float32: its
    variables are float32 already, so its saved file then loads and
    predicts in float32 on any machine, whatever it was trained in."""
    for layer in (model, *model._flatten_layers(include_self=False)):
        layer.dtype_policy = POLICIES["float32"]
    return model
