"""The measurements behind ``benchmarks/bench.py``: the suite against plain Keras.

Everything runs in one process on the same data, except the memory figure,
which needs a process of its own:

- **race**: the seed CNN trained the plain way (``model.compile("adam")``,
  ``model.fit(x, y, batch_size=128)`` on float32 numpy arrays) and through
  the suite's training path (:mod:`digitsuite.training.loop`'s seeded pipeline,
  augmentation and schedule, with the short recipe of :data:`SHORT_RECIPES`),
  one epoch of each in turn so that both see the same machine load. Test
  accuracy is checked a few times per epoch with the clock stopped, which
  gives seconds per epoch and seconds to the target accuracy for both;
- **inference**: ``model.predict`` with its defaults against
  the suite's frozen LiteRT path (:func:`digitsuite.inference.predict.freeze`),
  in turns, median of repeats;
- **memory**: peak resident memory of ``train_cnn.py`` training one epoch in
  a child process;
- **baselines**: fit time of the suite's logistic regression and random
  forest (their builders and features) against scikit-learn's defaults.

Functions return dicts; :func:`summarize` turns them into the ratios.
"""

import contextlib
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

# Test accuracy both ways of training must reach (the plain reference does).
TARGET_ACCURACY = {"mnist": 0.985, "fashion_mnist": 0.90}

# The suite's recipe for a short time budget: train_cnn.py with these flags
# (its warm-up + cosine schedule spans the given epochs).
SHORT_RECIPES = {
    "mnist": {"epochs": 8, "batch_size": 128, "learning_rate": 3e-3, "dropout": 0.5,
              "augment": "auto", "label_smoothing": 0.0},
    "fashion_mnist": {"epochs": 4, "batch_size": 128, "learning_rate": 4e-3, "dropout": 0.25,
                      "augment": "none", "label_smoothing": 0.0},
}


def recipe_command(dataset, recipe):
    """The ``train_cnn.py`` command that trains ``recipe`` on its own."""
    words = ["python", "train_cnn.py", "--dataset", dataset]
    for key, value in recipe.items():
        words += [f"--{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float)
                  else str(value)]
    return " ".join(words)

# Epochs the plain reference may take to reach the target before the race
# stops it (the bundled MNIST sample is small, so its epochs are cheap).
MAX_REFERENCE_EPOCHS = {"mnist": 20, "fashion_mnist": 10}

# The goals: (direction, bound) per summary figure.
GOALS = {
    "time_to_target_ratio": ("<=", 0.5),
    "epoch_time_ratio": ("<=", 0.7),
    "inference_speedup": (">=", 2.0),
    "peak_rss_mb": ("<=", 1536.0),
}

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


def race(dataset, train, val, test, *, recipe, target, max_reference_epochs,
         checks_per_epoch, seed, log=print):
    """Train the plain reference and the suite's path in turns, epoch by epoch.

    The suite trains its whole ``recipe`` (as a user would); the reference
    trains until it reaches ``target`` test accuracy, for at least two
    epochs and at most ``max_reference_epochs``. Returns per-side epoch
    times, accuracy checks and the first check at or above ``target``, and
    the suite's trained model (for the inference figures).
    """
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
    with op_determinism(True):
        suite = build_cnn(num_classes=num_classes, dropout=recipe["dropout"])
        train_ds, steps, set_epoch = make_train_dataset(*train, batch_size, seed, policy,
                                                        num_classes)
        compile_for_training(suite, recipe["learning_rate"], steps, epochs,
                             recipe["label_smoothing"])
        val_ds = make_eval_dataset(*val, num_classes)
    suite_clock = _make_clock(test, checks_per_epoch, steps)

    for epoch in range(max(epochs, max_reference_epochs)):
        reference_done = epoch >= 2 and _first_reaching(reference_clock.checks, target)
        if epoch < max_reference_epochs and not reference_done:
            with op_determinism(False):
                reference.fit(x_plain, train[1], batch_size=REFERENCE_BATCH,
                              epochs=epoch + 1, initial_epoch=epoch, verbose=0,
                              callbacks=[reference_clock])
            log(f"  reference epoch {epoch + 1}: {reference_clock.epoch_seconds[-1]:.1f} s, "
                f"test accuracy {reference_clock.checks[-1]['test_accuracy']:.2%}")
        if epoch < epochs:
            with op_determinism(True):
                suite.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch,
                          validation_data=val_ds, verbose=0, shuffle=False,
                          callbacks=[set_epoch, suite_clock])
            log(f"  suite epoch {epoch + 1}/{epochs}: {suite_clock.epoch_seconds[-1]:.1f} s, "
                f"test accuracy {suite_clock.checks[-1]['test_accuracy']:.2%}")

    sides = {}
    for name, clock, n_epochs_images in (("reference", reference_clock, len(x_plain)),
                                         ("suite", suite_clock, len(train[0]))):
        reached = _first_reaching(clock.checks, target)
        sides[name] = {
            "epoch_seconds": clock.epoch_seconds,
            "checks": clock.checks,
            "target_reached_at": reached,
            "final_test_accuracy": clock.checks[-1]["test_accuracy"],
            "images_per_epoch": n_epochs_images,
        }
    return sides, suite


def steady_epoch_seconds(epoch_seconds):
    """Median seconds per epoch, leaving out the first epoch (graph tracing)
    when there are later ones."""
    return statistics.median(epoch_seconds[1:] or epoch_seconds)


def inference(model, images, repeats):
    """Images/s of ``model.predict`` (defaults) and of the suite's frozen
    prediction path (:func:`digitsuite.inference.predict.freeze`, as ``evaluate.py``
    uses it) on ``images``, timed in turns; medians of ``repeats``. The
    one-off cost of freezing is reported apart (``freeze_seconds``)."""
    from digitsuite.inference.predict import freeze

    x_plain = to_model_input(images)
    frozen = freeze(model)
    ways = {"reference": lambda: model.predict(x_plain, verbose=0),
            "suite": lambda: frozen(images)}
    seconds = {name: [] for name in ways}
    for way in ways.values():  # warm-up: both set up their graphs once
        way()
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            seconds[name].append(time.perf_counter() - start)
    result = {name: {"seconds": s, "images_per_second": len(images) / statistics.median(s)}
              for name, s in seconds.items()}
    result["suite"].update(engine=frozen.engine, freeze_seconds=frozen.freeze_seconds)
    return result


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


def machine():
    """What the figures were measured on."""
    import sklearn

    from digitsuite.backend import keras, tf

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next((int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")), 0)
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1),
        "gpus": len(tf.config.list_physical_devices("GPU")), "platform": platform.platform(),
        "python": platform.python_version(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "scikit-learn": sklearn.__version__,
        "numpy": np.__version__, "load_average_at_start": os.getloadavg()[0],
    }


def _ratio(a, b):
    return a / b if a is not None and b else None


def summarize(sides, infer, memory, trees):
    """The headline figures, computed from the measurements, with the goals."""
    ref, suite = sides["reference"], sides["suite"]
    ref_epoch = steady_epoch_seconds(ref["epoch_seconds"])
    suite_epoch = steady_epoch_seconds(suite["epoch_seconds"])
    ref_hit, suite_hit = ref["target_reached_at"], suite["target_reached_at"]
    summary = {
        "reference_epoch_seconds": ref_epoch,
        "suite_epoch_seconds": suite_epoch,
        "epoch_time_ratio": suite_epoch / ref_epoch,
        "reference_train_images_per_second": ref["images_per_epoch"] / ref_epoch,
        "suite_train_images_per_second": suite["images_per_epoch"] / suite_epoch,
        "reference_seconds_to_target": ref_hit and ref_hit["seconds"],
        "suite_seconds_to_target": suite_hit and suite_hit["seconds"],
        "reference_epochs_to_target": ref_hit and ref_hit["epoch"],
        "suite_epochs_to_target": suite_hit and suite_hit["epoch"],
        "time_to_target_ratio": _ratio(suite_hit and suite_hit["seconds"],
                                       ref_hit and ref_hit["seconds"]),
        # When the reference never got there: the ratio is below this bound.
        "time_to_target_ratio_below": (
            _ratio(suite_hit["seconds"], ref["checks"][-1]["seconds"])
            if suite_hit and not ref_hit else None),
        "reference_epochs_run": len(ref["epoch_seconds"]),
        "reference_inference_images_per_second": infer["reference"]["images_per_second"],
        "suite_inference_images_per_second": infer["suite"]["images_per_second"],
        "inference_speedup": (infer["suite"]["images_per_second"]
                              / infer["reference"]["images_per_second"]),
        "suite_inference_engine": infer["suite"].get("engine"),
        "freeze_seconds": infer["suite"].get("freeze_seconds"),
        "peak_rss_mb": memory["peak_rss_mb"],
        "lr_fit_time_ratio": trees["lr"]["fit_time_ratio"],
        "rf_fit_time_ratio": trees["rf"]["fit_time_ratio"],
    }
    summary["goals_met"] = {
        key: None if summary[key] is None else
        (summary[key] <= bound if op == "<=" else summary[key] >= bound)
        for key, (op, bound) in GOALS.items()}
    if summary["time_to_target_ratio_below"] is not None:
        summary["goals_met"]["time_to_target_ratio"] = (
            summary["time_to_target_ratio_below"] <= GOALS["time_to_target_ratio"][1])
    return summary


def _fmt(value, spec, unit=""):
    return "not reached" if value is None else f"{value:{spec}}{unit}"


def run_all(dataset, train, val, test, baseline_train, *, recipe, target,
            max_reference_epochs, checks_per_epoch, repeats, seed, data_dir, small_rss_run,
            scratch_dir, log=print):
    """Every measurement of the benchmark, in turn, on one machine: the
    training race, prediction speed, peak memory of a ``train_cnn.py`` epoch
    (in a child process working in ``scratch_dir``) and the scikit-learn
    baselines (fitted on ``baseline_train``). Returns the result record,
    headline figures first."""
    import datetime
    import tempfile

    machine_info = machine()
    log("race: plain model.fit and the suite's training path, in turns")
    sides, suite_model = race(
        dataset, train, val, test, recipe=recipe, target=target,
        max_reference_epochs=max_reference_epochs, checks_per_epoch=checks_per_epoch,
        seed=seed, log=log)
    log("inference: model.predict against the frozen LiteRT predictor")
    infer = inference(suite_model, test[0], repeats)
    log("memory: one train_cnn.py epoch in a child process")
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix=".rss-run-") as scratch:
        memory = peak_rss(dataset.name, data_dir, small_rss_run, scratch)
    log("baselines: logistic regression and random forest")
    trees = baselines(baseline_train, val, test, seed, dataset.name, log=log)
    machine_info["load_average_at_end"] = os.getloadavg()[0]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "dataset": dataset.name, "data_source": dataset.source,
        "n_train": len(train[0]), "n_val": len(val[0]), "n_test": len(test[0]),
        "n_baseline_train": len(baseline_train[0]), "target_accuracy": target, "seed": seed,
        "suite_recipe": recipe, "suite_command": recipe_command(dataset.name, recipe),
        "reference": ("build_cnn(); model.compile('adam', 'sparse_categorical_crossentropy'); "
                      f"model.fit(x_float32, y, batch_size={REFERENCE_BATCH})"),
        "machine": machine_info,
        **summarize(sides, infer, memory, trees),  # headline figures first
        "race": sides, "inference": infer, "memory": memory, "baselines": trees,
    }


def markdown_table(result):
    """The results as a Markdown section: one table, the machine, the command."""
    s, m = result, result["machine"]
    goal = {key: f"{op} {bound:g}" for key, (op, bound) in GOALS.items()}
    rows = [
        ("seconds per epoch (median)", _fmt(s["reference_epoch_seconds"], ".1f"),
         _fmt(s["suite_epoch_seconds"], ".1f"),
         f"{s['epoch_time_ratio']:.2f}x (goal {goal['epoch_time_ratio']})"),
        ("training images/s", _fmt(s["reference_train_images_per_second"], ",.0f"),
         _fmt(s["suite_train_images_per_second"], ",.0f"), ""),
        (f"seconds to {result['target_accuracy']:.1%} test accuracy",
         _fmt(s["reference_seconds_to_target"], ".1f")
         + ("" if s["reference_seconds_to_target"] is not None
            else f" in {s['reference_epochs_run']} epochs"),
         _fmt(s["suite_seconds_to_target"], ".1f"),
         (f"< {s['time_to_target_ratio_below']:.2f}x"
          if s["time_to_target_ratio_below"] is not None
          else _fmt(s["time_to_target_ratio"], ".2f", "x"))
         + f" (goal {goal['time_to_target_ratio']})"),
        ("epochs to target", _fmt(s["reference_epochs_to_target"], "g"),
         _fmt(s["suite_epochs_to_target"], "g"), ""),
        ("final test accuracy", f"{result['race']['reference']['final_test_accuracy']:.2%}",
         f"{result['race']['suite']['final_test_accuracy']:.2%}", ""),
        ("inference images/s", _fmt(s["reference_inference_images_per_second"], ",.0f"),
         _fmt(s["suite_inference_images_per_second"], ",.0f"),
         f"{s['inference_speedup']:.2f}x faster (goal {goal['inference_speedup']})"),
        ("one-off cost of freezing the model for prediction (s)", "",
         _fmt(s.get("freeze_seconds"), ".1f")
         + (f" ({s['suite_inference_engine']})" if s.get("suite_inference_engine") else ""), ""),
        ("peak RSS, one training epoch (MB)", "", f"{s['peak_rss_mb']:,.0f}",
         f"goal {goal['peak_rss_mb']}"),
    ]
    for name, label in (("lr", "logistic regression"), ("rf", "random forest")):
        b = result["baselines"][name]
        rows.append((f"{label} fit seconds (test accuracy)",
                     f"{b['default']['fit_seconds']:.1f} ({b['default']['test_accuracy']:.2%})",
                     f"{b['suite']['fit_seconds']:.1f} ({b['suite']['test_accuracy']:.2%})",
                     f"{b['fit_time_ratio']:.2f}x"))
    lines = [
        f"### {result['dataset']}: suite vs. plain Keras ({result['date']})",
        "",
        f"{result['n_train']:,} training / {result['n_test']:,} test images "
        f"({result['data_source']}); suite recipe: `{result['suite_command']}`.",
        "",
        *table(["figure", "plain Keras / scikit-learn defaults", "suite", "suite vs. plain"],
               rows),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"{'no GPU' if not m['gpus'] else str(m['gpus']) + ' GPU(s)'}; TensorFlow "
        f"{m['tensorflow']}, Keras {m['keras']}, scikit-learn {m['scikit-learn']}; "
        f"load average {m['load_average_at_start']:.1f} at the start, "
        f"{m['load_average_at_end']:.1f} at the end.",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    return "\n".join(lines)
