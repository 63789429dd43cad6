"""The four saved runs side by side on one test set: load them, predict,
compare, and write the comparison's files (what ``evaluate.py`` does)."""

from digitsuite.errors import DigitsuiteError, ModelFileError
from digitsuite.evaluation import comparison as cmp
from digitsuite.fileio import output_set, save_figure, write_json, write_text
from digitsuite.inference.runs import (
    MODELS,
    count_parameters,
    load_run,
    missing_models,
    model_path,
    train_command,
)

FIGURES = ("comparison.png", "confusions.png", "mistakes.png")


def missing_message(runs_dir, data_argv=()):
    """One line per model missing from ``runs_dir``, with the command that creates it."""
    return {name: f"no {model_path(runs_dir, name)}; create it with: "
                  f"{train_command(name, runs_dir, data_argv)}"
            for name in missing_models(runs_dir)}


def nothing_to_compare(runs_dir, data_argv=()):
    """The error for a runs folder that holds none of the models: each one
    with the command that creates it."""
    held = "does not exist, so it holds" if not runs_dir.exists() else "holds"
    return DigitsuiteError("\n".join(
        [f"{runs_dir} {held} none of the 4 models; create them with these commands, or "
         "rerun with --train-missing:"]
        + [f"  {name}: {reason}" for name, reason in
           missing_message(runs_dir, data_argv).items()]))


def load_runs(runs_dir, dataset, data_argv=(), log=print):
    """Load every run in ``runs_dir`` that can be compared on ``dataset``'s
    test set: returns ``(runs, missing, broken)``, the last two mapping each
    model that is absent, or present but unusable (a corrupt, unsafe or
    foreign file; trained on another dataset), to a one-line reason with
    the command that fixes it. Runs trained on another copy of the data are
    noted through ``log``. Raises one error naming every problem when no run
    can be used."""
    missing = missing_message(runs_dir, data_argv)
    runs, broken = {}, {}
    for name in MODELS:
        if name in missing:
            continue
        try:
            run = load_run(runs_dir, name, len(dataset.class_names), data_argv)
        except ModelFileError as exc:
            broken[name] = str(exc)
            continue
        trained_on = (run.config.get("dataset"), run.config.get("data_source"))
        if trained_on[0] != dataset.name:
            broken[name] = (f"{runs_dir / name} was trained on {trained_on[0]}, but the test "
                            f"set is {dataset.name}; pass --dataset {trained_on[0]} or "
                            "retrain it")
            continue
        if trained_on[1] != dataset.source:
            log(f"note: {name} was trained on {trained_on[1]}, the test set comes from "
                f"{dataset.source}; make sure the two do not overlap")
        runs[name] = run
    if not runs and not broken:
        raise nothing_to_compare(runs_dir, data_argv)
    if not runs:
        raise ModelFileError("\n".join(
            [f"none of the 4 models in {runs_dir} can be used:"]
            + [f"  {name}: {reason}" for name, reason in {**broken, **missing}.items()]))
    return runs, missing, broken


def evaluate_runs(runs, runs_dir, dataset, x_test, y_test, timing_repeats=3, log=print,
                  precision="float32", calibration=None):
    """Predict the test set with every run and compare them: returns
    ``(comparison dict, probabilities per model)``.

    ``precision`` is the Keras models' arithmetic ("float32", "int8" or
    "auto", see :func:`digitsuite.inference.predict.freeze`); the last two
    set the int8 ranges on ``calibration``, training images."""
    probas, details = {}, {}
    for name, run in runs.items():
        if run.features is None:
            run.precision, run.calibration = precision, calibration
        log(f"{name}: predicting {len(x_test):,} test images ...")
        probas[name] = run.predict_proba(x_test)
        params, params_kind = count_parameters(run.model)
        details[name] = {
            "title": run.title, "model_file": str(model_path(runs_dir, name)),
            "params": params, "params_kind": params_kind,
            "train_seconds": run.metrics.get("train_seconds"),
            "images_per_second": run.images_per_second(x_test, timing_repeats),
            "engine": run.engine,
        }
        details[name]["precision"], details[name]["precision_reason"] = run.arithmetic
    predictions = {name: proba.argmax(axis=1) for name, proba in probas.items()}
    # The seed measured MNIST only.
    reference = cmp.REFERENCE_ACCURACY if dataset.name == "mnist" else {}
    result = cmp.compare(y_test, predictions, details, reference)
    result.update(dataset=dataset.name, data_source=dataset.source, runs_dir=str(runs_dir))
    return result, probas


def write_comparison(out_dir, result, probas, runs, dataset, x_test, y_test):
    """Write comparison.json, comparison.md and the three figures, as one set
    (:func:`digitsuite.fileio.output_set`)."""
    with output_set(out_dir):
        _write_comparison(out_dir, result, probas, runs, dataset, x_test, y_test)


def _write_comparison(out_dir, result, probas, runs, dataset, x_test, y_test):
    predictions = {name: proba.argmax(axis=1) for name, proba in probas.items()}
    save_figure(cmp.plot_accuracy(result), out_dir / FIGURES[0], dpi=110)
    save_figure(cmp.plot_confusions(y_test, predictions, {n: r.title for n, r in runs.items()},
                                    dataset.class_names), out_dir / FIGURES[1], dpi=110)
    # The CNN's mistakes, or those of the last (strongest) model there is.
    shown = "cnn" if "cnn" in runs else list(runs)[-1]
    save_figure(cmp.plot_mistakes(x_test, y_test, probas[shown], dataset.class_names,
                                  runs[shown].title), out_dir / FIGURES[2], dpi=110)
    header = (f"{dataset.summary()}; models from {result['runs_dir']}/. The seed's figures "
              "are from its own table, not measured on this test set.")
    write_json(out_dir / "comparison.json", result)
    write_text(out_dir / "comparison.md", cmp.markdown_report(result, header, list(FIGURES)))
