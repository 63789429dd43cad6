"""The four saved runs side by side on one test set: load them, predict,
compare, and write the comparison's files (what ``evaluate.py`` does)."""

from digitsuite.errors import DigitsuiteError, ModelFileError
from digitsuite.evaluation import comparison as cmp
from digitsuite.fileio import output_set, save_figure, write_json, write_text
from digitsuite.inference.runs import MODELS, load_run, missing_models, model_path, train_command
from digitsuite.training.baselines import count_parameters

FIGURES = ("comparison.png", "confusions.png", "mistakes.png")


def check_complete(runs_dir, data_argv=()):
    """Raise one error that lists every model missing from ``runs_dir`` with
    the command that creates it."""
    missing = missing_models(runs_dir)
    if missing:
        raise DigitsuiteError("\n".join(
            [f"{runs_dir} lacks {len(missing)} of the 4 models; create them with these "
             "commands, or rerun with --train-missing:"]
            + [f"  {name}: no {model_path(runs_dir, name)}; create it with: "
               f"{train_command(name, runs_dir, data_argv)}" for name in missing]))


def load_runs(runs_dir, dataset, data_argv=(), log=print):
    """Load the four runs for ``dataset``'s test set; refuse runs trained on
    another dataset and note those trained on another copy of it. Every
    model that cannot be loaded is named in one error."""
    runs, bad = {}, []
    for name in MODELS:
        try:
            runs[name] = load_run(runs_dir, name, len(dataset.class_names), data_argv)
        except ModelFileError as exc:
            bad.append((name, exc))
    if len(bad) == 1:
        raise bad[0][1]
    if bad:
        raise ModelFileError("\n".join(
            [f"{len(bad)} of the 4 models in {runs_dir} cannot be used:"]
            + [f"  {name}: {exc}" for name, exc in bad]))
    for run in runs.values():
        trained_on = (run.config.get("dataset"), run.config.get("data_source"))
        if trained_on[0] != dataset.name:
            raise DigitsuiteError(
                f"{runs_dir / run.name} was trained on {trained_on[0]}, but the test set "
                f"is {dataset.name}; pass --dataset {trained_on[0]} or retrain it")
        if trained_on[1] != dataset.source:
            log(f"note: {run.name} was trained on {trained_on[1]}, the test set comes from "
                f"{dataset.source}; make sure the two do not overlap")
    return runs


def evaluate_runs(runs, runs_dir, dataset, x_test, y_test, timing_repeats=3, log=print):
    """Predict the test set with every run and compare them: returns
    ``(comparison dict, probabilities per model)``."""
    probas, details = {}, {}
    for name, run in runs.items():
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
    save_figure(cmp.plot_mistakes(x_test, y_test, probas["cnn"], dataset.class_names,
                                  runs["cnn"].title), out_dir / FIGURES[2], dpi=110)
    header = (f"{dataset.summary()}; models from {result['runs_dir']}/. The seed's figures "
              "are from its own table, not measured on this test set.")
    write_json(out_dir / "comparison.json", result)
    write_text(out_dir / "comparison.md", cmp.markdown_report(result, header, list(FIGURES)))
