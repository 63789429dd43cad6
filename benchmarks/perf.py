"""The measurements behind ``benchmarks/bench.py``: the suite against plain Keras.

Everything runs in one process on the same data, except the memory figure,
which needs a process of its own:

- **race**: the seed CNN trained the plain way (``model.compile("adam")``,
  ``model.fit(x, y, batch_size=128)`` on float32 numpy arrays) and through
  the suite's training path (:mod:`digitsuite.training.loop`'s seeded pipeline,
  augmentation and schedule, with the recipe of :data:`RECIPES`), one epoch
  of each in turn so that both see the same machine load. Test accuracy is
  checked a few times per epoch with the clock stopped, which gives seconds
  per epoch and seconds to the target accuracy for both. Each side trains
  until it has reached the target or hit a cap (:class:`Caps`); a side
  stopped by a cap gives a bound on the time-to-target ratio, not a value;
- **inference**: ``model.predict`` with its defaults against
  the suite's frozen LiteRT path (:func:`digitsuite.inference.predict.freeze`,
  ``precision="auto"`` calibrated on training images), in turns, median of
  repeats, with both sides' test accuracy;
- **the machine's limit**: TensorFlow's float32 and bfloat16 matrix-product
  GFLOP/s on this machine, against which each side's training GFLOP/s (the
  model's forward and backward arithmetic, :func:`training_flops_per_image`)
  is given as a share;
- **memory**: peak resident memory of ``train_cnn.py`` training one epoch in
  a child process;
- **baselines**: fit time of the suite's logistic regression and random
  forest (their builders and features) against scikit-learn's defaults.

Functions return dicts; :func:`summarize` turns them into the ratios. The
result also records the machine and the load it ran under (:func:`load_snapshot`,
:func:`other_processes_load`): on a shared machine the figures mean little
without it.
"""

import contextlib
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from digitsuite.data.datasets import to_model_input
from digitsuite.markdown import table

ROOT = Path(__file__).resolve().parent.parent

# Test accuracy both ways of training race to: for digits, the seed's CNN
# figure (99.1 %).
TARGET_ACCURACY = {"mnist": 0.991, "fashion_mnist": 0.90}
# --quick trains on 12,000 images, from which neither side gets to 99.1 %
# within a few minutes; a target both can reach keeps the ratio a number.
QUICK_TARGET_ACCURACY = {"mnist": 0.985, "fashion_mnist": 0.88}

# The suite's side: train_cnn.py with these flags. For digits that is the
# default command (augmentation included), the job users run; its
# warm-up + cosine schedule spans all its epochs even when the race stops
# it early, so its first epochs are exactly the default run's. Clothes keep
# a short recipe without augmentation.
RECIPES = {
    "mnist": {"epochs": 24, "batch_size": 128, "learning_rate": 3e-3, "dropout": 0.5,
              "augment": "auto", "label_smoothing": 0.0, "ema_steps": 1000},
    "fashion_mnist": {"epochs": 4, "batch_size": 128, "learning_rate": 4e-3, "dropout": 0.25,
                      "augment": "none", "label_smoothing": 0.0},
}


def recipe_command(dataset, recipe, data_dir=None):
    """The ``train_cnn.py`` command that trains ``recipe`` on its own."""
    words = ["python", "train_cnn.py", "--dataset", dataset]
    if data_dir is not None:
        words += ["--data-dir", str(data_dir)]
    for key, value in recipe.items():
        words += [f"--{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float)
                  else str(value)]
    return " ".join(words)


@dataclasses.dataclass(frozen=True)
class Caps:
    """When a side of the race stops: once it has reached the target after at
    least ``min_epochs`` (the epoch-time median needs a few), or at
    ``max_epochs``, or once ``max_seconds`` of training (None: no limit) are
    spent, whichever comes first. The suite never trains past its recipe's
    schedule."""

    min_epochs: int
    max_epochs: int
    max_seconds: float = None

    def describe(self):
        limit = f"{self.max_epochs} epoch{'s' if self.max_epochs > 1 else ''}" + (
            f" or {self.max_seconds:g} s of training" if self.max_seconds else "")
        return (f"each side trains until it reaches the target (at least {self.min_epochs} "
                f"epoch{'s' if self.min_epochs > 1 else ''}) or hits a cap: {limit}")


# Per mode: full runs give the plain reference room to get there; quick and
# dry runs are bounded in minutes and seconds.
CAPS = {"full": Caps(min_epochs=3, max_epochs=15, max_seconds=1800.0),
        "quick": Caps(min_epochs=3, max_epochs=12, max_seconds=240.0),
        "dry-run": Caps(min_epochs=1, max_epochs=1)}


def stop_reason(checks, epochs_run, seconds, target, caps):
    """Why a side of the race stops after ``epochs_run`` epochs and ``seconds``
    of training: "target", "epoch cap", "time cap", or None to go on."""
    if epochs_run >= caps.min_epochs and _first_reaching(checks, target):
        return "target"
    if epochs_run >= caps.max_epochs:
        return "epoch cap"
    if caps.max_seconds is not None and seconds >= caps.max_seconds:
        return "time cap"
    return None


# The goals: (direction, bound) per summary figure. An accuracy gain
# is the suite's test accuracy minus scikit-learn's defaults'.
GOALS = {
    "epoch_time_ratio": ("<=", 0.6),
    "time_to_target_ratio": ("<=", 0.3),
    "inference_speedup": (">=", 3.0),
    "inference_accuracy_change_points": ("<=", 0.05),
    "peak_rss_mb": ("<=", 1536.0),
    "lr_fit_time_ratio": ("<=", 1.5),
    "rf_fit_time_ratio": ("<=", 1.5),
    "lr_accuracy_gain": (">", 0.0),
    "rf_accuracy_gain": (">", 0.0),
}


# Where the suite trains in native bfloat16, its epoch must take at most
# half of plain float32 Keras' (issue 27).
BF16_EPOCH_GOAL = ("<=", 0.5)


def goals_for(suite_precision):
    """:data:`GOALS`, with the epoch-time goal of a suite training in ``suite_precision``."""
    return {**GOALS, **({"epoch_time_ratio": BF16_EPOCH_GOAL}
                        if suite_precision == "bfloat16" else {})}


def goal_met(value, op, bound, relation="="):
    """True or False if ``value`` meets ``op bound``; None when unknown.

    ``relation`` says what ``value`` is: "=" the figure itself, "<=" an upper
    bound (the figure is at most ``value``), ">=" a lower bound.
    """
    if value is None:
        return None
    meets = {"<=": value <= bound, ">=": value >= bound, ">": value > bound}[op]
    if relation == "=":
        return meets
    # A bound settles the goal only when it lies on the goal's side (an upper
    # bound under a "<=" goal) or the wrong side of it (a lower bound over it).
    same_side = (relation == "<=") == (op == "<=")
    if same_side:
        return True if meets else None
    return False if not meets else None

REFERENCE_BATCH = 128


@contextlib.contextmanager
def op_determinism(enabled):
    """Run the block with TensorFlow's op determinism on or off, then restore it.

    The suite's scripts turn it on (:func:`digitsuite.training.loop.set_seed`);
    a plain script does not, so each side is measured as it would run.
    """
    from tensorflow.python.framework import config

    before = config.is_op_determinism_enabled()
    (config.enable_op_determinism if enabled else config.disable_op_determinism)()
    try:
        yield
    finally:
        (config.enable_op_determinism if before else config.disable_op_determinism)()


def _test_accuracy(model, test):
    from digitsuite.inference.predict import predict_proba

    return float(np.mean(predict_proba(model, test[0]).argmax(axis=1) == test[1]))


def _make_clock(test, checks_per_epoch, steps):
    """A Keras callback timing training with test-accuracy checks left out."""
    from digitsuite.backend import keras

    every = max(1, steps // checks_per_epoch)

    class Clock(keras.callbacks.Callback):
        """Seconds of training so far (``seconds``) and every check made
        (``checks``: epoch reached, seconds, test accuracy)."""

        def __init__(self):
            super().__init__()
            self.seconds, self.checks, self.epoch_seconds = 0.0, [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.epoch_start, self.next_check = epoch, self.seconds, every
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            # Keras calls this once per call into TensorFlow, with the index
            # of the call's last step (past the end for a short last call).
            done = min(batch + 1, steps)
            if done >= self.next_check or done == steps:
                while self.next_check <= done:
                    self.next_check += every
                self.seconds += time.perf_counter() - self.started
                self.checks.append({"epoch": round(self.epoch + done / steps, 3),
                                    "seconds": self.seconds,
                                    "test_accuracy": _test_accuracy(self.model, test)})
                self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # Keras' validation pass (suite side) runs before this: it counts.
            self.seconds += time.perf_counter() - self.started
            self.epoch_seconds.append(self.seconds - self.epoch_start)
            self.started = time.perf_counter()

    return Clock()


def _first_reaching(checks, target):
    return next((c for c in checks if c["test_accuracy"] >= target), None)


def race(dataset, train, val, test, *, recipe, target, caps, checks_per_epoch, seed,
         log=print):
    """Train the plain reference and the suite's path in turns, epoch by epoch.

    The suite trains ``recipe`` (its schedule spans the recipe's epochs, as a
    user's run does); each side goes on until :func:`stop_reason` stops it
    under ``caps``. Returns per-side epoch times, accuracy checks, the first
    check at or above ``target`` and why the side stopped, and the suite's
    trained model (for the inference figures).
    """
    from digitsuite import precision
    from digitsuite.backend import keras
    from digitsuite.data.augment import policy_for
    from digitsuite.training.loop import compile_for_training, make_eval_dataset, make_train_dataset
    from models import build_cnn

    num_classes = len(dataset.class_names)
    policy = policy_for(recipe["augment"], dataset.name)
    epochs, batch_size = recipe["epochs"], recipe["batch_size"]

    keras.utils.set_random_seed(seed)
    with op_determinism(False):
        reference = build_cnn(num_classes=num_classes)
        reference.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x_plain = to_model_input(train[0])  # (n, 28, 28, 1)
    reference_clock = _make_clock(test, checks_per_epoch,
                                  -(-len(x_plain) // REFERENCE_BATCH))

    keras.utils.set_random_seed(seed)
    with op_determinism(True), precision.policy(precision.choose("auto")["precision"]):
        suite = build_cnn(num_classes=num_classes, dropout=recipe["dropout"])
        train_ds, steps, set_epoch = make_train_dataset(*train, batch_size, seed, policy,
                                                        num_classes)
        # No weight average here (the recipe's --ema-steps): Keras writes the
        # average into the weights at the end of every fit call, and the race
        # calls fit once per epoch. The average costs one update per step.
        compile_for_training(suite, recipe["learning_rate"], steps, epochs,
                             recipe["label_smoothing"])
        val_ds = make_eval_dataset(*val, num_classes)
    suite_clock = _make_clock(test, checks_per_epoch, steps)

    def train_reference(epoch):
        with op_determinism(False):
            reference.fit(x_plain, train[1], batch_size=REFERENCE_BATCH, epochs=epoch + 1,
                          initial_epoch=epoch, verbose=0, callbacks=[reference_clock])

    def train_suite(epoch):
        with op_determinism(True):
            suite.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch, validation_data=val_ds,
                      verbose=0, shuffle=False, callbacks=[set_epoch, suite_clock])

    # The suite cannot train past its schedule's end.
    side_caps = {"reference": caps,
                 "suite": dataclasses.replace(caps, max_epochs=min(caps.max_epochs, epochs))}
    turns = {"reference": (reference_clock, train_reference),
             "suite": (suite_clock, train_suite)}
    stopped = {name: None for name in turns}
    while not all(stopped.values()):
        for name, (clock, train_one) in turns.items():
            if stopped[name]:
                continue
            done = len(clock.epoch_seconds)
            train_one(done)
            stopped[name] = stop_reason(clock.checks, done + 1, clock.seconds, target,
                                        side_caps[name])
            log(f"  {name} epoch {done + 1}: {clock.epoch_seconds[-1]:.1f} s, test accuracy "
                f"{clock.checks[-1]['test_accuracy']:.2%}"
                + (f"; stops ({stopped[name]})" if stopped[name] else ""))

    sides = {}
    for name, clock, n_epochs_images in (("reference", reference_clock, len(x_plain)),
                                         ("suite", suite_clock, len(train[0]))):
        sides[name] = {
            "epoch_seconds": clock.epoch_seconds,
            "checks": clock.checks,
            "target_reached_at": _first_reaching(clock.checks, target),
            "stopped_by": stopped[name],
            "caps": dataclasses.asdict(side_caps[name]),
            "final_test_accuracy": clock.checks[-1]["test_accuracy"],
            "images_per_epoch": n_epochs_images,
        }
    return sides, suite


def steady_epoch_seconds(epoch_seconds):
    """Median seconds per epoch, leaving out the first epoch (graph tracing)
    when there are later ones."""
    return statistics.median(epoch_seconds[1:] or epoch_seconds)


def inference(model, test, repeats, calibration):
    """Images/s and test accuracy of ``model.predict`` (defaults) and of the
    suite's frozen prediction path (:func:`digitsuite.inference.predict.freeze`
    with ``precision="auto"``, calibrated on ``calibration``, training
    images) on the ``test`` pair, timed in turns; medians of ``repeats``. The
    one-off cost of freezing is reported apart (``freeze_seconds``)."""
    from digitsuite.inference.predict import freeze

    images, labels = test
    x_plain = to_model_input(images)
    frozen = freeze(model, precision="auto", calibration=calibration)
    ways = {"reference": lambda: model.predict(x_plain, verbose=0),
            "suite": lambda: frozen(images)}
    seconds = {name: [] for name in ways}
    accuracy = {name: float(np.mean(way().argmax(1) == labels))  # also the warm-up
                for name, way in ways.items()}
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            seconds[name].append(time.perf_counter() - start)
    result = {name: {"seconds": s, "images_per_second": len(images) / statistics.median(s),
                     "test_accuracy": accuracy[name]}
              for name, s in seconds.items()}
    result["suite"].update(engine=frozen.engine, freeze_seconds=frozen.freeze_seconds,
                           precision=frozen.precision, precision_reason=frozen.precision_reason)
    return result


def matmul_gflops(dtype, sizes=(512, 1024, 2048), seconds=1.0):
    """The best GFLOP/s TensorFlow's matrix product reaches here in ``dtype``
    ("float32" or "bfloat16") over square sizes ``sizes``, each timed for
    about ``seconds``: the limit a training step's arithmetic can approach."""
    from digitsuite.backend import tf

    best = {}
    for n in sizes:
        a = tf.cast(tf.random.stateless_normal([n, n], seed=[1, n]), dtype)
        b = tf.cast(tf.random.stateless_normal([n, n], seed=[2, n]), dtype)
        product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1],
                                                                 tf.float32)))
        product(a, b).numpy()  # trace
        calls, start = 0, time.perf_counter()
        fastest = float("inf")
        while time.perf_counter() - start < seconds or calls < 3:
            tick = time.perf_counter()
            product(a, b).numpy()
            fastest = min(fastest, time.perf_counter() - tick)
            calls += 1
        best[n] = 2 * n ** 3 / fastest / 1e9
    return {"gflops": max(best.values()), "by_size": best}


def forward_flops_per_image(model):
    """Multiply-adds of ``model``'s convolutions and dense layers for one
    image, counted as two FLOPs each (biases and activations left out)."""
    from digitsuite.backend import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            outputs = int(np.prod(layer.output.shape[1:]))
            fan_in = int(np.prod(layer.kernel.shape[:-1]))
            flops += 2 * outputs * fan_in
    return flops


def training_flops_per_image(model):
    """A training step's arithmetic per image: the forward pass and the
    backward pass's two products (input and weight gradients), 3x forward."""
    return 3 * forward_flops_per_image(model)


# Runs a command and prints its exit code and peak RSS (KiB) as JSON. It is
# a process of its own because Linux carries a process' high-water mark
# over fork and exec: a child forked straight from this (large) process
# would report this process' memory as its own peak.
_RSS_LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"returncode": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}))
"""


def child_peak_rss_mb(argv, cwd=ROOT):
    """Run ``argv`` (its standard output discarded) in a fresh process started
    by a small launcher; return ``(exit code, peak RSS in MB)`` of that process."""
    import json

    launched = subprocess.run([sys.executable, "-c", _RSS_LAUNCHER, *map(str, argv)], cwd=cwd,
                              stdout=subprocess.PIPE, text=True, check=True)
    report = json.loads(launched.stdout.strip().splitlines()[-1])
    return report["returncode"], report["maxrss_kb"] / 1024  # ru_maxrss is KiB on Linux


def peak_rss(dataset, data_dir, dry_run, out_dir):
    """Peak resident memory (MB) of ``train_cnn.py`` training one epoch on
    every training image (``--dry-run``: the smoke subset)."""
    argv = [sys.executable, str(ROOT / "train_cnn.py"), "--dataset", dataset, "--epochs", "1",
            "--out-dir", str(out_dir)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if dry_run:
        argv.append("--dry-run")
    start = time.perf_counter()
    returncode, peak_mb = child_peak_rss_mb(argv)
    seconds = time.perf_counter() - start
    if returncode:
        raise subprocess.CalledProcessError(returncode, argv)
    return {"peak_rss_mb": peak_mb, "command": " ".join(argv[1:]), "seconds": seconds}


def baselines(train, val, test, seed, dataset="mnist", log=print):
    """Fit time and test accuracy of the suite's logistic regression and
    random forest (builders, default features) and scikit-learn's defaults."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from digitsuite.data.features import features_for, make_features
    from digitsuite.training.baselines import fit_sklearn
    from models import build_logistic_regression, build_random_forest

    features = features_for("auto", dataset)  # baselines.py's default --features
    results = {}
    for name, suite, default in (
            ("lr", build_logistic_regression(seed=seed), LogisticRegression()),
            ("rf", build_random_forest(seed=seed), RandomForestClassifier())):
        log(f"  {name}: the suite's builder on '{features}' features, then "
            "scikit-learn's defaults on pixels ...")
        fitted = fit_sklearn(suite, train, val, features, log=lambda line: None)
        suite_acc = suite.score(make_features(test[0], features), test[1])
        start = time.perf_counter()
        with _quiet_convergence_warnings():
            default.fit(make_features(train[0], "pixels"), train[1])
        default_seconds = time.perf_counter() - start
        default_acc = default.score(make_features(test[0], "pixels"), test[1])
        results[name] = {
            "suite": {"fit_seconds": fitted["train_seconds"], "test_accuracy": float(suite_acc),
                      "estimator": repr(suite), "features": features},
            "default": {"fit_seconds": default_seconds, "test_accuracy": float(default_acc),
                        "estimator": repr(default), "features": "pixels"},
            "fit_time_ratio": fitted["train_seconds"] / default_seconds,
        }
    return results


@contextlib.contextmanager
def _quiet_convergence_warnings():
    """scikit-learn's default LR stops at 100 iterations and warns: expected here."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# The flags that decide how fast the arithmetic runs: shown in the tables.
VECTOR_FLAGS = ("avx", "amx", "fma", "f16c")


def machine_text(info):
    """The machine of :func:`machine`'s ``info`` in a report's words: the
    CPU, its cores and its vector flags, beside every timing."""
    flags = " ".join(info["cpu_vector_flags"]) or "none found"
    return f"{info['cpu']}, {info['cores']} cores (vector flags: {flags})"


def machine():
    """What the figures were measured on."""
    import sklearn

    from digitsuite import precision
    from digitsuite.backend import keras, tf

    cpu, flags = precision.cpu_info()
    if cpu == "unknown":
        cpu = platform.processor() or cpu
    memory_kb = next((int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")), 0)
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1),
        "cpu_flags": sorted(flags),
        "cpu_vector_flags": sorted(f for f in flags if f.startswith(VECTOR_FLAGS)),
        "precision": precision.choose("auto"),
        "gpus": len(tf.config.list_physical_devices("GPU")), "platform": platform.platform(),
        "python": platform.python_version(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def _process_cpu_ticks():
    """CPU ticks (user + system) so far of every process, by pid, with its
    nice value and command line; processes that vanish meanwhile are skipped."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        # The command name in parentheses may hold spaces: split after it.
        fields = text[text.rindex(")") + 2:].split()
        argv = cmdline.decode(errors="replace").split("\0")
        # "python train.py ...", not the interpreter's full path.
        command = " ".join([Path(argv[0]).name, *argv[1:]]).strip()
        found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12]), int(fields[16]),
                                        command or text[text.index("(") + 1:text.rindex(")")])
    return found


def busy_processes(seconds=1.0, min_cores=0.1):
    """Processes other than this one using at least ``min_cores`` of a core
    over ``seconds``: pid, nice value, cores used and command (cut short)."""
    own = os.getpid()
    before = _process_cpu_ticks()
    time.sleep(seconds)
    after = _process_cpu_ticks()
    tick = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (ticks, nice, command) in after.items():
        if pid == own or pid not in before:
            continue
        cores = (ticks - before[pid][0]) / tick / seconds
        if cores >= min_cores:
            busy.append({"pid": pid, "nice": nice, "cores": round(cores, 2),
                         "command": command[:100]})
    return sorted(busy, key=lambda p: -p["cores"])


def load_snapshot():
    """The machine's load now: load averages over 1, 5 and 15 minutes and the
    processes other than this one that are busy."""
    try:
        return {"time": _utc_now(), "load_average": [round(v, 2) for v in os.getloadavg()],
                "busy_processes": busy_processes()}
    except (OSError, ValueError, IndexError):  # not Linux, or /proc unreadable
        return {"time": _utc_now(), "load_average": None, "busy_processes": None}


def _utc_now():
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def cpu_counters():
    """(CPU seconds every process spent since boot, CPU seconds this process and
    its waited-for children spent, wall clock): :func:`other_processes_load`
    compares two of these."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        # user nice system idle iowait irq softirq steal: all but idle and iowait
        busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4))
        machine_seconds = busy / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        machine_seconds = None
    own = os.times()
    return machine_seconds, own.user + own.system + own.children_user + own.children_system, \
        time.perf_counter()


def other_processes_load(start, end):
    """Cores that processes other than this one (and its children) kept busy
    on average between two :func:`cpu_counters` readings; None off Linux."""
    if start[0] is None or end[0] is None:
        return None
    return max(0.0, ((end[0] - start[0]) - (end[1] - start[1])) / (end[2] - start[2]))


def _ratio(a, b):
    return a / b if a is not None and b else None


def time_to_target(ref, suite):
    """The suite's time to the target over the reference's, and what that
    number is: ``(ratio, relation)``, relation "=" when both got there, "<="
    (an upper bound) when only the suite did, the reference's time being more
    than all its training, ">=" when only the reference did; ``(None, None)``
    when neither did."""
    ref_hit, suite_hit = ref["target_reached_at"], suite["target_reached_at"]
    if ref_hit and suite_hit:
        return _ratio(suite_hit["seconds"], ref_hit["seconds"]), "="
    if suite_hit:
        return _ratio(suite_hit["seconds"], ref["checks"][-1]["seconds"]), "<="
    if ref_hit:
        return _ratio(suite["checks"][-1]["seconds"], ref_hit["seconds"]), ">="
    return None, None


def summarize(sides, infer, memory, trees, compute):
    """The headline figures, computed from the measurements, with the goals.
    ``compute``: the training FLOPs per image, each side's precision and the
    machine's matrix-product GFLOP/s per precision."""
    ref, suite = sides["reference"], sides["suite"]
    ref_epoch = steady_epoch_seconds(ref["epoch_seconds"])
    suite_epoch = steady_epoch_seconds(suite["epoch_seconds"])
    flops, limits = compute["training_flops_per_image"], compute["matmul_gflops"]
    ref_precision, suite_precision = compute["reference_precision"], compute["suite_precision"]
    ref_gflops = ref["images_per_epoch"] / ref_epoch * flops / 1e9
    suite_gflops = suite["images_per_epoch"] / suite_epoch * flops / 1e9
    ref_hit, suite_hit = ref["target_reached_at"], suite["target_reached_at"]
    ratio, relation = time_to_target(ref, suite)
    summary = {
        "reference_epoch_seconds": ref_epoch,
        "suite_epoch_seconds": suite_epoch,
        "epoch_time_ratio": suite_epoch / ref_epoch,
        "reference_train_images_per_second": ref["images_per_epoch"] / ref_epoch,
        "suite_train_images_per_second": suite["images_per_epoch"] / suite_epoch,
        "reference_precision": ref_precision,
        "suite_precision": suite_precision,
        "training_flops_per_image": flops,
        "matmul_gflops": {name: limit["gflops"] for name, limit in limits.items()},
        "reference_train_gflops": ref_gflops,
        "suite_train_gflops": suite_gflops,
        "reference_share_of_limit": ref_gflops / limits[ref_precision]["gflops"],
        "suite_share_of_limit": suite_gflops / limits[suite_precision]["gflops"],
        "reference_seconds_to_target": ref_hit and ref_hit["seconds"],
        "suite_seconds_to_target": suite_hit and suite_hit["seconds"],
        "reference_epochs_to_target": ref_hit and ref_hit["epoch"],
        "suite_epochs_to_target": suite_hit and suite_hit["epoch"],
        "time_to_target_ratio": ratio,
        # "=": the ratio itself; "<=" / ">=": a bound, one side having hit its cap.
        "time_to_target_relation": relation,
        "reference_epochs_run": len(ref["epoch_seconds"]),
        "suite_epochs_run": len(suite["epoch_seconds"]),
        "reference_training_seconds": ref["checks"][-1]["seconds"],
        "suite_training_seconds": suite["checks"][-1]["seconds"],
        "reference_inference_images_per_second": infer["reference"]["images_per_second"],
        "suite_inference_images_per_second": infer["suite"]["images_per_second"],
        "inference_speedup": (infer["suite"]["images_per_second"]
                              / infer["reference"]["images_per_second"]),
        "suite_inference_engine": infer["suite"].get("engine"),
        "suite_inference_precision": infer["suite"].get("precision"),
        "reference_inference_test_accuracy": infer["reference"]["test_accuracy"],
        "suite_inference_test_accuracy": infer["suite"]["test_accuracy"],
        # Rounded: one test image in 2,000 is 0.05 points, and the float
        # difference of the two accuracies is a hair over it.
        "inference_accuracy_change_points": round(100 * abs(
            infer["suite"]["test_accuracy"] - infer["reference"]["test_accuracy"]), 6),
        "freeze_seconds": infer["suite"].get("freeze_seconds"),
        "peak_rss_mb": memory["peak_rss_mb"],
    }
    for name in ("lr", "rf"):
        summary[f"{name}_fit_time_ratio"] = trees[name]["fit_time_ratio"]
        summary[f"{name}_accuracy_gain"] = (trees[name]["suite"]["test_accuracy"]
                                           - trees[name]["default"]["test_accuracy"])
    goals = goals_for(suite_precision)
    summary["goals"] = {key: list(goal) for key, goal in goals.items()}
    summary["goals_met"] = {
        key: goal_met(summary[key], op, bound,
                      relation if key == "time_to_target_ratio" else "=")
        for key, (op, bound) in goals.items()}
    return summary


def _fmt(value, spec, unit=""):
    return "not reached" if value is None else f"{value:{spec}}{unit}"


def run_all(dataset, train, val, test, baseline_train, *, recipe, target, caps,
            checks_per_epoch, repeats, seed, data_dir, small_rss_run, scratch_dir, log=print):
    """Every measurement of the benchmark, in turn, on one machine: the
    training race (under ``caps``), prediction speed, peak memory of a
    ``train_cnn.py`` epoch (in a child process working in ``scratch_dir``) and
    the scikit-learn baselines (fitted on ``baseline_train``), with the
    machine's load before and after and that of other processes throughout.
    Returns the result record, headline figures first."""
    import datetime
    import tempfile

    from digitsuite import precision

    machine_info = machine()
    load = {"before": load_snapshot()}
    counters = cpu_counters()
    log(f"load average {load['before']['load_average']}; busy processes: "
        f"{_busy_text(load['before']['busy_processes'])}")
    log(f"CPU {machine_info['cpu']} ({' '.join(machine_info['cpu_vector_flags'])}); the "
        f"suite trains in {machine_info['precision']['precision']} "
        f"({machine_info['precision']['reason']})")
    limits = {name: matmul_gflops(name) for name in ("float32", "bfloat16")}
    log("matrix products: " + ", ".join(f"{name} {limit['gflops']:,.0f} GFLOP/s"
                                        for name, limit in limits.items()))
    log(f"race: plain model.fit and the suite's training path, in turns; {caps.describe()}")
    sides, suite_model = race(
        dataset, train, val, test, recipe=recipe, target=target, caps=caps,
        checks_per_epoch=checks_per_epoch, seed=seed, log=log)
    log("inference: model.predict against the frozen LiteRT predictor")
    # As train_cnn.py saves it: computing in float32, whatever it trained in.
    precision.as_float32(suite_model)
    infer = inference(suite_model, test, repeats, calibration=train[0])
    compute = {"training_flops_per_image": training_flops_per_image(suite_model),
               "reference_precision": "float32",
               "suite_precision": machine_info["precision"]["precision"],
               "matmul_gflops": limits}
    log("memory: one train_cnn.py epoch in a child process")
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix=".rss-run-") as scratch:
        memory = peak_rss(dataset.name, data_dir, small_rss_run, scratch)
    log("baselines: logistic regression and random forest")
    trees = baselines(baseline_train, val, test, seed, dataset.name, log=log)
    load["other_processes_cores"] = other_processes_load(counters, cpu_counters())
    load["after"] = load_snapshot()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "dataset": dataset.name, "data_source": dataset.source,
        "n_train": len(train[0]), "n_val": len(val[0]), "n_test": len(test[0]),
        "n_baseline_train": len(baseline_train[0]), "target_accuracy": target, "seed": seed,
        "suite_recipe": recipe, "suite_command": recipe_command(dataset.name, recipe, data_dir),
        "reference": ("build_cnn(); model.compile('adam', 'sparse_categorical_crossentropy'); "
                      f"model.fit(x_float32, y, batch_size={REFERENCE_BATCH})"),
        "caps": {**dataclasses.asdict(caps), "text": caps.describe()},
        "machine": machine_info, "load": load,
        **summarize(sides, infer, memory, trees, compute),  # headline figures first
        "race": sides, "inference": infer, "memory": memory, "baselines": trees,
        "matmul": limits,
    }


def _busy_text(processes):
    if processes is None:
        return "unknown"
    return "; ".join(f"{p['command'][:80]} (pid {p['pid']}, nice {p['nice']}, "
                     f"{p['cores']:.1f} cores)" for p in processes) or "none"


def load_text(load, cores):
    """The load a run ran under, in a sentence or three."""
    def averages(snapshot):
        values = snapshot["load_average"]
        return "unknown" if values is None else "/".join(f"{v:.1f}" for v in values)

    others = load.get("other_processes_cores")
    return " ".join([
        f"Load average (1/5/15 min) {averages(load['before'])} at the start "
        f"({load['before']['time']}), {averages(load['after'])} at the end "
        f"({load['after']['time']}).",
        "" if others is None else
        f"Other processes kept {others:.2f} of the {cores} cores busy on average "
        "during the run.",
        f"Busy at the start: {_busy_text(load['before']['busy_processes'])}; "
        f"at the end: {_busy_text(load['after']['busy_processes'])}.",
    ]).replace("  ", " ")


def _with_relation(value, relation, spec, unit=""):
    """A figure with its relation: "0.25x" for a value, "<= 0.25x" for a bound."""
    if value is None:
        return "neither side reached the target"
    return ("" if relation in (None, "=") else f"{relation} ") + f"{value:{spec}}{unit}"


def _side_to_target(result, side):
    """Seconds to the target, or how long the side trained without reaching it."""
    race_side = result["race"][side]
    hit = race_side["target_reached_at"]
    if hit:
        return f"{hit['seconds']:.1f}"
    return (f"not reached in {len(race_side['epoch_seconds'])} epochs, "
            f"{race_side['checks'][-1]['seconds']:.1f} s ({race_side['stopped_by']})")


def markdown_table(result):
    """The results as a Markdown section: one table, the caps, the machine and
    its load, the command."""
    s, m = result, result["machine"]
    goal = {key: f"goal {op} {bound:g}" for key, (op, bound) in s["goals"].items()}
    met = {key: {True: ", met", False: ", not met", None: ", not settled"}[value]
           for key, value in s["goals_met"].items()}
    race_sides = result["race"]
    rows = [
        ("seconds per epoch (median)", _fmt(s["reference_epoch_seconds"], ".1f"),
         _fmt(s["suite_epoch_seconds"], ".1f"),
         f"{s['epoch_time_ratio']:.2f}x ({goal['epoch_time_ratio']}"
         f"{met['epoch_time_ratio']})"),
        ("training images/s", _fmt(s["reference_train_images_per_second"], ",.0f"),
         _fmt(s["suite_train_images_per_second"], ",.0f"), ""),
        ("precision of training", s["reference_precision"], s["suite_precision"], ""),
        ("training GFLOP/s (share of this machine's matrix product in that precision)",
         f"{s['reference_train_gflops']:,.0f} ({s['reference_share_of_limit']:.0%} of "
         f"{s['matmul_gflops'][s['reference_precision']]:,.0f})",
         f"{s['suite_train_gflops']:,.0f} ({s['suite_share_of_limit']:.0%} of "
         f"{s['matmul_gflops'][s['suite_precision']]:,.0f})",
         f"{s['training_flops_per_image'] / 1e6:.1f} MFLOP per training image"),
        (f"seconds to {result['target_accuracy']:.1%} test accuracy",
         _side_to_target(result, "reference"), _side_to_target(result, "suite"),
         _with_relation(s["time_to_target_ratio"], s["time_to_target_relation"], ".2f", "x")
         + f" ({goal['time_to_target_ratio']}{met['time_to_target_ratio']})"),
        ("epochs to target", _fmt(s["reference_epochs_to_target"], "g"),
         _fmt(s["suite_epochs_to_target"], "g"), ""),
        ("epochs run (stopped by)",
         f"{s['reference_epochs_run']} ({race_sides['reference']['stopped_by']})",
         f"{s['suite_epochs_run']} ({race_sides['suite']['stopped_by']})", ""),
        ("final test accuracy", f"{race_sides['reference']['final_test_accuracy']:.2%}",
         f"{race_sides['suite']['final_test_accuracy']:.2%}", ""),
        ("inference images/s", _fmt(s["reference_inference_images_per_second"], ",.0f"),
         _fmt(s["suite_inference_images_per_second"], ",.0f"),
         f"{s['inference_speedup']:.2f}x faster ({goal['inference_speedup']}"
         f"{met['inference_speedup']})"),
        ("test accuracy of those predictions",
         f"{s['reference_inference_test_accuracy']:.2%}",
         f"{s['suite_inference_test_accuracy']:.2%} ({s['suite_inference_precision']})",
         f"{s['inference_accuracy_change_points']:.2f} points apart "
         f"({goal['inference_accuracy_change_points']}"
         f"{met['inference_accuracy_change_points']})"),
        ("one-off cost of freezing the model for prediction (s)", "",
         _fmt(s.get("freeze_seconds"), ".1f")
         + (f" ({s['suite_inference_engine']})" if s.get("suite_inference_engine") else ""),
         result["inference"]["suite"].get("precision_reason", "")),
        ("peak RSS of a train_cnn.py epoch (MB)", "", f"{s['peak_rss_mb']:,.0f}",
         f"{goal['peak_rss_mb']}{met['peak_rss_mb']}"),
    ]
    for name, label in (("lr", "logistic regression"), ("rf", "random forest")):
        b = result["baselines"][name]
        rows.append((f"{label} fit seconds (test accuracy)",
                     f"{b['default']['fit_seconds']:.1f} ({b['default']['test_accuracy']:.2%})",
                     f"{b['suite']['fit_seconds']:.1f} ({b['suite']['test_accuracy']:.2%})",
                     f"{b['fit_time_ratio']:.2f}x ({goal[name + '_fit_time_ratio']}"
                     f"{met[name + '_fit_time_ratio']}), accuracy "
                     f"{s[name + '_accuracy_gain'] * 100:+.2f} points"
                     f"{met[name + '_accuracy_gain']}"))
    lines = [
        f"### {result['dataset']}: suite vs. plain Keras ({result['date']})",
        "",
        f"{result['n_train']:,} training / {result['n_test']:,} test images "
        f"({result['data_source']}); suite: `{result['suite_command']}`; plain: "
        f"`{result['reference']}`; baselines fitted on {result['n_baseline_train']:,} images.",
        "",
        *table(["figure", "plain Keras / scikit-learn defaults", "suite", "suite vs. plain"],
               rows),
        "",
        f"Race: {result['caps']['text']}; a side stopped by a cap gives a bound (<= or >=) "
        "on the time-to-target ratio instead of its value.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"{'no GPU' if not m['gpus'] else str(m['gpus']) + ' GPU(s)'}; TensorFlow "
        f"{m['tensorflow']}, Keras {m['keras']}, scikit-learn {m['scikit-learn']}. "
        f"CPU vector flags: {' '.join(m['cpu_vector_flags']) or 'none found'}. "
        f"Matrix products: " + ", ".join(
            f"{name} {value:,.0f} GFLOP/s" for name, value in s["matmul_gflops"].items())
        + f". The suite trains in {m['precision']['precision']}: "
        f"{m['precision']['reason']}.",
        "",
        load_text(result["load"], m["cores"]),
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    return "\n".join(lines)
