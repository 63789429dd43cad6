"""Compare models on one test set: accuracy with confidence intervals, error
reductions, McNemar's test for each pair, the Markdown table and the plots.

Functions compute and return dicts, text or figures; ``evaluate.py`` writes
them.
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import binomtest

from digitsuite.evaluation.reporting import draw_confusion
from digitsuite.markdown import table

CONFIDENCE = 0.95
ALPHA = 0.05
# The seed's table of test accuracies (its own run, not this suite's test set).
REFERENCE_ACCURACY = {"lr": 0.92, "rf": 0.968, "dense": 0.979, "cnn": 0.991}


def accuracy_interval(correct, n, confidence=CONFIDENCE):
    """Wilson score interval ``(low, high)`` for ``correct`` successes in ``n``.

    Unlike the normal approximation it stays inside 0-1 and keeps its
    coverage for accuracies near 100 %.
    """
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def error_reduction(error_from, error_to):
    """Share of the errors removed going from ``error_from`` to ``error_to``:
    ``1 - error_to / error_from`` (negative when errors grow; None when
    ``error_from`` is 0)."""
    if error_from == 0:
        return None
    return 1.0 - error_to / error_from


def mcnemar(correct_a, correct_b):
    """Exact McNemar test of two models' per-image correctness (bool arrays).

    Only the images exactly one model gets right carry information; under
    "equally accurate" each of those is a fair coin's toss, so the two-sided
    p-value is a binomial test of their split.
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_first_correct": only_a, "only_second_correct": only_b, "p_value": float(p)}


def holm(p_values):
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    p = np.asarray(p_values, float)
    order = np.argsort(p)
    scaled = np.minimum(1.0, p[order] * (len(p) - np.arange(len(p))))
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()


def compare(y_true, predictions, details, reference=REFERENCE_ACCURACY):
    """The comparison of several models' test predictions.

    ``predictions``: model name -> predicted labels for ``y_true``, in table
    order. ``details``: model name -> extra fields to carry (title,
    parameters, timings). ``reference``: model name -> the seed's accuracy
    (pass ``{}`` for a dataset the seed did not measure). Returns a
    JSON-ready dict with ``models`` (per model: accuracy, Wilson interval,
    errors, error reduction relative to every other model, the seed's
    figures) and ``mcnemar`` (every pair).
    """
    y_true = np.asarray(y_true)
    n = len(y_true)
    correct = {name: np.asarray(pred) == y_true for name, pred in predictions.items()}
    models = {}
    for name, right in correct.items():
        k = int(right.sum())
        low, high = accuracy_interval(k, n)
        models[name] = {
            **details.get(name, {}),
            "test_accuracy": k / n,
            "accuracy_ci95": [low, high],
            "test_error": 1.0 - k / n,
            "error_ci95": [1.0 - high, 1.0 - low],
            "n_errors": n - k,
            "reference_accuracy": reference.get(name),
        }
    for name, row in models.items():
        others = [other for other in models if other != name]
        row["error_reduction"] = {
            other: error_reduction(models[other]["test_error"], row["test_error"])
            for other in others}
        row["reference_error_reduction"] = {
            other: error_reduction(1 - reference[other], 1 - reference[name])
            for other in others if name in reference and other in reference}
    pairs = [dict(models=[a, b], **mcnemar(correct[a], correct[b]))
             for a, b in itertools.combinations(correct, 2)]
    for pair, adjusted in zip(pairs, holm([p["p_value"] for p in pairs])):
        pair["p_holm"] = adjusted
        pair["significant"] = adjusted < ALPHA
    return {"n_test": n, "confidence": CONFIDENCE, "models": models, "mcnemar": pairs}


# --------------------------------------------------------------------------
# Text


def _pct(value, digits=2):
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _p_value(p):
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _engine(row):
    """What predicted, and in what arithmetic when it is not the model's own
    float32 or when float32 was kept for a reason (``--precision auto``
    measured int8 and found it slower or unlike float32); runs evaluated
    before precision was recorded have neither."""
    engine = row.get("engine", "n/a")
    reason = row.get("precision_reason") or ""
    if row.get("precision") not in (None, "float32", "float64") or reason.startswith("float32"):
        engine += f" in {row['precision']} ({reason})"
    return engine


def markdown_tables(comparison):
    """The comparison as Markdown tables (what ``evaluate.py`` prints)."""
    models = comparison["models"]
    n = comparison["n_test"]
    # A smoke test's figures come from tiny models: said first, in print and file.
    dry = (["**Dry run** (`--dry-run`): models trained for one epoch on a few hundred "
            "images and tested on a few hundred more; the figures below check that the "
            "comparison runs, not how the models compare.", ""]
           if comparison.get("dry_run") else [])
    lines = [
        *dry,
        f"Test set: {n:,} images. Accuracy with its {100 * comparison['confidence']:.0f} % "
        "Wilson interval; training time from each run's metrics.json; inference "
        "includes feature extraction (deskewing for LR and RF); engines: "
        + ", ".join(f"{row['title']} {_engine(row)}" for row in models.values())
        + ".",
        "",
    ]
    rows = []
    for row in models.values():
        low, high = row["accuracy_ci95"]
        train = row.get("train_seconds")
        rows.append([
            row["title"], f"{row['params']:,} {row['params_kind']}",
            f"{_pct(row['test_accuracy'])} ({_pct(low, 1)[:-2]}–{_pct(high, 1)})",
            f"{_pct(row['test_error'])} ({row['n_errors']:,} of {n:,})",
            _pct(row["reference_accuracy"], 1), "n/a" if train is None else f"{train:,.1f} s",
            f"{row['images_per_second']:,.0f} images/s"])
    lines += table(["model", "parameters", "test accuracy (95 % CI)", "error rate",
                    "seed's accuracy", "training time", "inference"], rows,
                   ["left"] + ["right"] * 6)
    names = list(models)
    lines += [
        "",
        "Error reduction: the share of the column model's test errors that the row "
        "model avoids (negative: it makes more); the seed's figure in brackets.",
        "",
    ]
    rows = []
    for name in names:
        row = models[name]
        cells = []
        for other in names:
            if other == name:
                cells.append("—")
                continue
            cell = _pct(row["error_reduction"][other], 0)
            seed = row["reference_error_reduction"].get(other)
            cells.append(cell if seed is None else f"{cell} ({_pct(seed, 0)})")
        rows.append([row["title"], *cells])
    lines += table(["model", *[f"vs {models[m]['title']}" for m in names]], rows,
                   ["left"] + ["right"] * len(names))
    lines += [
        "",
        f"McNemar's exact test for each pair (Holm-adjusted for {len(comparison['mcnemar'])} "
        f"comparisons; meaningful: adjusted p < {ALPHA}).",
        "",
    ]
    rows = [[f"{models[a]['title']} vs {models[b]['title']}", pair["only_first_correct"],
             pair["only_second_correct"], _p_value(pair["p_value"]), _p_value(pair["p_holm"]),
             "yes" if pair["significant"] else "no"]
            for pair in comparison["mcnemar"] for a, b in [pair["models"]]]
    lines += table(["pair", "only first right", "only second right", "p", "adjusted p",
                    "meaningful"], rows, ["left"] + ["right"] * 4 + ["left"])
    return "\n".join(lines)


def markdown_report(comparison, header, images):
    """``comparison.md``: a header paragraph, the tables, the models left out
    (``comparison["not_compared"]``: name -> reason) and the figures."""
    left_out = comparison.get("not_compared") or {}
    missing = (["## Not compared", "", *[f"- **{name}**: {reason}"
                                         for name, reason in left_out.items()], ""]
               if left_out else [])
    return "\n".join(["# Model comparison", "", header, "", markdown_tables(comparison),
                      "", *missing, *[f"![{name}]({name})" for name in images], ""])


# --------------------------------------------------------------------------
# Figures


def plot_accuracy(comparison):
    """Bars of test accuracy and error rate with their 95 % intervals, and the
    seed's figures as markers."""
    rows = list(comparison["models"].values())
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    for ax, key, label in ((axes[0], "accuracy", "test accuracy (%)"),
                           (axes[1], "error", "test error (%)")):
        value = np.array([100 * r[f"test_{key}"] for r in rows])
        ci = np.array([[100 * v for v in r[f"{key}_ci95"]] for r in rows])
        ax.bar(x, value, color="tab:blue", alpha=0.8, yerr=[value - ci[:, 0], ci[:, 1] - value],
               capsize=5, label="measured, with 95 % interval")
        ref = [np.nan if r["reference_accuracy"] is None
               else 100 * (r["reference_accuracy"] if key == "accuracy"
                           else 1 - r["reference_accuracy"]) for r in rows]
        ax.plot(x, ref, "D", color="tab:orange", label="seed's figure")
        ax.set_xticks(x, [r["title"].replace(" ", "\n", 1) + f"\n{v:.2f} %"
                          for r, v in zip(rows, value)])
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    # The accuracy axis starts low enough for every interval and seed figure.
    low = min([100 * r["accuracy_ci95"][0] for r in rows]
              + [100 * r["reference_accuracy"] for r in rows
                 if r["reference_accuracy"] is not None])
    axes[0].set_ylim(max(0.0, np.floor(low - 1)), 100.5)
    axes[1].set_ylim(0, None)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=2, fontsize=8)
    fig.suptitle(f"{comparison['n_test']:,} test images")
    return fig


def plot_confusions(y_true, predictions, titles, class_names):
    """The models' confusion matrices side by side, titled with their accuracy
    (``predictions``: name -> labels)."""
    fig, axes = plt.subplots(1, len(predictions), figsize=(4.6 * len(predictions), 5),
                             layout="constrained")
    for ax, (name, pred) in zip(np.atleast_1d(axes), predictions.items()):
        draw_confusion(ax, y_true, pred, class_names,
                       f"{titles[name]}: {np.mean(np.asarray(pred) == y_true):.2%}")
    return fig


def plot_mistakes(images, y_true, proba, class_names, title, limit=40, columns=8):
    """A grid of the test images a model gets wrong, most confident first,
    each labelled with its true and predicted class."""
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    wrong = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:limit]
    rows = max(1, -(-len(wrong) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.75 * rows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"true {class_names[y_true[i]]}\npred {class_names[pred[i]]} "
                     f"({proba[i, pred[i]]:.0%})", fontsize=8)
    if not len(wrong):
        axes[0, 0].text(0, 0.5, "no mistakes on this test set", fontsize=12)
    fig.suptitle(f"{title}: {len(wrong)} of {int(np.sum(pred != y_true))} mistakes, "
                 "most confident first")
    fig.tight_layout()
    return fig
