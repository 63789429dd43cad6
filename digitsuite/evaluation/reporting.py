"""Metrics, reports and plots shared by every model.

Functions here compute and return dicts or figures; ``write_run_report``
is the one place that writes a run's ``config.json``, ``metrics.json``,
``report.md``, ``confusion.png`` and (for Keras models) ``history.png``.
"""

import datetime
import platform
import re
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    classification_report,
    precision_recall_fscore_support,
)

from digitsuite.data.datasets import PROJECT_ROOT
from digitsuite.fileio import save_figure, write_json, write_text
from digitsuite.markdown import table


def classification_metrics(y_true, proba, class_names):
    """Accuracy, log loss and per-class precision/recall/F1 from probabilities."""
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    y_pred = proba.argmax(axis=1)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y_true)), y_true], eps, 1.0))))
    labels = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    accuracy = float(np.mean(y_pred == y_true))
    return {
        "test_accuracy": accuracy,
        "test_error": 1.0 - accuracy,
        "test_loss": loss,
        "n_test": int(len(y_true)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        },
    }


def environment():
    """Versions that affect results, for config.json."""
    import sklearn

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
    }
    if "keras" in sys.modules:
        import keras
        import tensorflow as tf

        info.update(keras=keras.__version__, tensorflow=tf.__version__)
    return info


def run_config(settings, dataset, **extra):
    """Every effective setting (a dict) plus data source and environment."""
    config = {k: (str(v) if v is not None and not isinstance(v, (int, float, str, bool, list))
                  else v) for k, v in settings.items()}
    config.update(
        dataset=dataset.name,
        data_source=dataset.source,
        n_train_total=int(len(dataset.x_train)),
        n_test=int(len(dataset.x_test)),
        created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        environment=environment(),
        **extra,
    )
    return config


def draw_confusion(ax, y_true, y_pred, class_names, title):
    """Draw the confusion matrix of ``y_pred`` against ``y_true`` on ``ax``."""
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=np.arange(len(class_names)), display_labels=class_names,
        ax=ax, colorbar=False, cmap="Blues",
        xticks_rotation=45 if max(len(name) for name in class_names) > 2 else 0)
    ax.set_title(title)


def plot_confusion(y_true, y_pred, class_names, title):
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    draw_confusion(ax, y_true, y_pred, class_names, title)
    fig.tight_layout()
    return fig


def plot_history(history, title, label_smoothing=0.0):
    """Loss and accuracy per epoch, train and validation. With label
    smoothing the loss is the one trained on, against smoothed targets."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, key in zip(axes, ("loss", "accuracy")):
        if key in history:
            ax.plot(epochs, history[key], "o-", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "o-", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"loss (targets smoothed by {label_smoothing:g})"
                      if key == "loss" and label_smoothing else key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def markdown_report(title, config, metrics, y_true, y_pred, class_names, images):
    drawn = (f" and {config['n_nondigits']:,} drawn non-digits"
             if config.get("n_nondigits") else "")
    used = (f"{config['n_train']:,} of its {config['n_train_total']:,} training images{drawn} "
            f"for training, {config['n_val']:,} for validation"
            if "n_train" in config and "n_val" in config
            else f"{config['n_train_total']:,} training images")
    dry_run = " (dry run: small subsets, one epoch)" if config.get("dry_run") else ""
    lines = [
        f"# {title}{dry_run}",
        "",
        f"Data: {config['dataset']} from {config['data_source']} ({used}; "
        f"{metrics['n_test']:,} test images).",
        "",
    ]
    figures = [
        ["test accuracy", f"{metrics['test_accuracy']:.2%}"],
        ["test error", f"{metrics['test_error']:.2%} "
         f"({round(metrics['test_error'] * metrics['n_test'])} of {metrics['n_test']:,})"],
        ["test loss", f"{metrics['test_loss']:.4f}"],
    ]
    for key, label in (("params", "parameters"), ("epochs_run", "epochs run"),
                       ("best_epoch", "epoch kept (best validation accuracy)"),
                       ("train_seconds", "training time (s)")):
        if metrics.get(key) is not None:
            value = metrics[key]
            figures.append([label, f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"])
    lines += table(["figure", "value"], figures)
    lines += [
        "",
        "## Per-class report (test set)",
        "",
        "```",
        classification_report(y_true, y_pred, labels=np.arange(len(class_names)),
                              target_names=class_names, digits=4, zero_division=0).rstrip(),
        "```",
        "",
        "## Settings",
        "",
    ]
    lines += table(["setting", "value"],
                   [[k, v] for k, v in config.items() if k != "environment"])
    lines += [""] + [f"![{name}]({name})" for name in images] + [""]
    return "\n".join(lines)


# What write_run_report writes (history.png for a run with a training history).
RUN_REPORT_FILES = ("config.json", "metrics.json", "report.md", "confusion.png", "history.png")


def write_run_report(out_dir, title, config, metrics, y_true, proba_or_pred, class_names,
                     history=None):
    """Write config.json, metrics.json, report.md, confusion.png (+ history.png)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(proba_or_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    images = ["confusion.png"]
    save_figure(plot_confusion(y_true, y_pred, class_names, f"{title}: test confusion matrix"),
                out_dir / "confusion.png", dpi=110)
    if history:
        save_figure(plot_history(history, f"{title}: training history",
                                 config.get("label_smoothing", 0.0)),
                    out_dir / "history.png", dpi=110)
        images.insert(0, "history.png")
    write_json(out_dir / "config.json", config)
    write_json(out_dir / "metrics.json", metrics)
    write_text(out_dir / "report.md",
               markdown_report(title, config, metrics, y_true, y_pred, class_names, images))


# A path in running text: absolute or climbing out (../), at least two parts,
# not inside a URL or another word.
_MACHINE_PATH = re.compile(r"(?<![\w:/.])(?:/|\.\./)[^\s'\"`|]*/([^/\s'\"`|]+)")


def portable_text(text, root=PROJECT_ROOT):
    """``text`` without this machine's paths: paths inside the project
    relative to it, any other absolute or ``../`` path cut to its last part
    (``/data/mnist-full`` -> ``mnist-full``)."""
    text = text.replace(f"{Path(root).resolve()}/", "")
    return _MACHINE_PATH.sub(r"\1", text)


def ships_with_project(out_dir, root=PROJECT_ROOT):
    """Whether ``out_dir`` lies in the project's own ``models/`` folder, whose
    runs are committed and so must not record this machine's paths."""
    return Path(out_dir).resolve().is_relative_to((Path(root) / "models").resolve())


def make_run_portable(out_dir, files=("config.json", "report.md"), root=PROJECT_ROOT):
    """Rewrite a run's ``files`` under ``out_dir`` with :func:`portable_text`,
    for a run that ships with the project."""
    out_dir = Path(out_dir)
    for name in files:
        write_text(out_dir / name, portable_text((out_dir / name).read_text(encoding="utf-8"),
                                                 root))
