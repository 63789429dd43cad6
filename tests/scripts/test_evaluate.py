"""evaluate.py end to end in --dry-run (training the missing baselines), the
table checked against the saved models, and the errors for missing or
broken models."""

import json
import shutil
from pathlib import Path

import pytest

from digitsuite.backend import keras
from digitsuite.cli import DRY_RUN_TEST
from digitsuite.data.datasets import load_dataset, stratified_subset
from digitsuite.data.features import make_features
from digitsuite.evaluation.comparison import REFERENCE_ACCURACY
from digitsuite.inference.predict import predict_proba
from tests.support import SAMPLE_DIR, read_json, run_script

MODELS = ("lr", "rf", "dense", "cnn")
OUTPUTS = ["comparison.md", "comparison.json", "comparison.png", "confusions.png",
           "mistakes.png"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, trained_cnn_dir):
    """A runs folder holding only the dry-run CNN, evaluated with
    ``--train-missing`` (which trains the three baselines in dry-run)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    shutil.copytree(trained_cnn_dir, runs_dir / "cnn")
    out = runs_dir / "comparison"
    run_script("evaluate", ["--dry-run", "--train-missing", "--timing-repeats", 1,
                            "--data-dir", SAMPLE_DIR, "--runs-dir", runs_dir, "--out-dir", out])
    return runs_dir, out


def evaluate_argv(runs_dir, out):
    return ["--dry-run", "--timing-repeats", 1, "--data-dir", SAMPLE_DIR,
            "--runs-dir", runs_dir, "--out-dir", out]


def saved_model_predictions(runs_dir):
    """Each saved model's predicted labels on the dry-run test set, loaded
    directly with skops / Keras rather than through the suite's loader."""
    import skops.io

    ds = load_dataset("mnist", SAMPLE_DIR)
    x_test, y_test = stratified_subset(ds.x_test, ds.y_test, DRY_RUN_TEST, seed=0)
    predictions = {}
    for name in MODELS:
        if name in ("lr", "rf"):
            model = skops.io.load(runs_dir / name / "model.skops",
                                  trusted=["sklearn.tree._tree.Tree"])
            features = read_json(runs_dir / name / "config.json")["features"]
            predictions[name] = model.predict(make_features(x_test, features))
        else:
            model = keras.models.load_model(runs_dir / name / "model.keras", safe_mode=True)
            predictions[name] = predict_proba(model, x_test).argmax(1)
    return predictions, y_test


def test_writes_every_output_and_trains_only_what_was_missing(evaluated, trained_cnn_dir):
    runs_dir, out = evaluated
    for name in OUTPUTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in ("comparison.png", "confusions.png", "mistakes.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    for name in ("lr", "rf", "dense"):
        assert (runs_dir / name / "metrics.json").is_file()
    # The CNN that was there is used as it is, not retrained.
    assert ((runs_dir / "cnn" / "model.keras").read_bytes()
            == (trained_cnn_dir / "model.keras").read_bytes())
    assert not list(out.glob(".*tmp*"))


def test_table_agrees_with_the_saved_models_predictions(evaluated):
    runs_dir, out = evaluated
    result = read_json(out / "comparison.json")
    predictions, y_test = saved_model_predictions(runs_dir)
    assert list(result["models"]) == list(MODELS) and result["n_test"] == len(y_test)
    correct = {name: pred == y_test for name, pred in predictions.items()}
    for name, row in result["models"].items():
        assert row["test_accuracy"] == pytest.approx(correct[name].mean())
        assert row["n_errors"] == int((~correct[name]).sum())
        assert row["test_error"] == pytest.approx(1 - correct[name].mean())
        low, high = row["accuracy_ci95"]
        assert low <= row["test_accuracy"] <= high
        assert row["error_ci95"] == pytest.approx([1 - high, 1 - low])
        metrics = read_json(runs_dir / name / "metrics.json")
        assert row["train_seconds"] == metrics["train_seconds"]
        assert row["params"] == metrics["params"]
        assert row["images_per_second"] > 0
        assert row["engine"] == ("scikit-learn" if name in ("lr", "rf") else "litert-xnnpack")
        # By default the Keras models predict in their own float32 arithmetic.
        assert row["precision"] == ("float64" if name in ("lr", "rf") else "float32")
        assert row["reference_accuracy"] == REFERENCE_ACCURACY[name]
    cnn, dense = result["models"]["cnn"], result["models"]["dense"]
    if dense["n_errors"]:
        assert cnn["error_reduction"]["dense"] == pytest.approx(
            1 - cnn["n_errors"] / dense["n_errors"])
    for pair in result["mcnemar"]:
        a, b = pair["models"]
        assert pair["only_first_correct"] == int((correct[a] & ~correct[b]).sum())
        assert pair["only_second_correct"] == int((~correct[a] & correct[b]).sum())
    assert len(result["mcnemar"]) == 6


def test_markdown_and_printed_table_show_the_measured_figures(evaluated, capsys, tmp_path):
    runs_dir, out = evaluated
    capsys.readouterr()
    again = run_script("evaluate", evaluate_argv(runs_dir, tmp_path))
    printed = capsys.readouterr().out
    report = (out / "comparison.md").read_text()
    for row in again["models"].values():
        line = next(line for line in printed.splitlines()
                    if line.startswith(f"| {row['title']} | {row['params']:,}"))
        assert f"{100 * row['test_accuracy']:.2f} %" in line
        assert f"({row['n_errors']:,} of {DRY_RUN_TEST})" in line
        # Rerun on the same models and test set: the same row up to the timing column.
        assert line.rsplit("|", 2)[0] in report
    assert "McNemar" in printed and "| Dense network vs CNN |" in printed
    # A smoke test's tiny models are not a comparison: both say so first.
    for text in (printed, report):
        assert "**Dry run** (`--dry-run`)" in text.split("Test set:")[0]
    assert "![mistakes.png](mistakes.png)" in report


def test_the_precision_asked_for_reaches_the_keras_models_and_the_report(evaluated, tmp_path):
    """How well int8 reads is tests/inference/test_predict.py's; here: the
    flag reaches the Keras models' snapshots, is recorded, and leaves the
    scikit-learn models alone."""
    runs_dir, out = evaluated
    exact = read_json(out / "comparison.json")["models"]
    quantised = run_script("evaluate", [*evaluate_argv(runs_dir, tmp_path),
                                        "--precision", "int8"])["models"]
    for name in ("dense", "cnn"):
        assert quantised[name]["precision"] == "int8", quantised[name]
        assert quantised[name]["precision_reason"] == "asked for"
    for name in ("lr", "rf"):
        assert quantised[name]["precision"] == "float64"
        assert quantised[name]["test_accuracy"] == exact[name]["test_accuracy"]
    report = (tmp_path / "comparison.md").read_text()
    assert "CNN litert-xnnpack in int8 (asked for)" in report


COMMANDS = {
    "lr": "python baselines.py --models lr --out-dir {runs}",
    "rf": "python baselines.py --models rf --out-dir {runs}",
    "dense": "python baselines.py --models dense --out-dir {runs}",
    "cnn": "python train_cnn.py --out-dir {runs}/cnn",
}


def test_a_dry_run_of_the_default_folder_trains_what_it_lacks():
    """``python evaluate.py --dry-run`` works on a fresh checkout, training
    its tiny models inside its --out-dir; a runs folder given is compared as
    it is (the test below)."""
    import evaluate

    default = evaluate.parse_args(["--dry-run"])
    assert default.train_missing and default.runs_dir == default.out_dir / "models"
    mine = evaluate.parse_args(["--dry-run", "--out-dir", "mine"])
    assert mine.runs_dir == Path("mine", "models")    # all it writes is under --out-dir
    assert not evaluate.parse_args(["--dry-run", "--runs-dir", "mine"]).train_missing
    assert not evaluate.parse_args([]).train_missing


def test_without_any_model_one_error_lists_every_command(capsys, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        run_script("evaluate", evaluate_argv(runs, tmp_path / "out"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (f"error: {runs} does not exist, so it holds none of the 4 models; "
                      "create them with these commands, or rerun with --train-missing:")
    assert len(err) == 5
    for line, name in zip(err[1:], MODELS):
        assert line.startswith(f"  {name}: no {runs / name / 'model.'}")
        assert line.endswith(f"create it with: {COMMANDS[name].format(runs=runs)} "
                             f"--data-dir {SAMPLE_DIR} --dry-run")
    assert not (tmp_path / "out").exists()  # stopped before making any folder


@pytest.mark.parametrize("present", [("cnn",), ("lr", "dense")])
def test_missing_models_are_named_and_the_others_compared(present, evaluated, capsys,
                                                          tmp_path):
    runs_dir, _ = evaluated
    runs = tmp_path / "runs"
    for name in present:
        shutil.copytree(runs_dir / name, runs / name)
    result = run_script("evaluate", evaluate_argv(runs, tmp_path / "out"))
    assert list(result["models"]) == list(present)
    missing = [name for name in MODELS if name not in present]
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) == len(missing)
    for line, name in zip(notes, missing):
        assert line.startswith(f"note: {name} is not compared: no {runs / name / 'model.'}")
        assert f"create it with: {COMMANDS[name].format(runs=runs)}" in line
    report = (tmp_path / "out" / "comparison.md").read_text()
    assert "## Not compared" in report and all(f"- **{n}**" in report for n in missing)


@pytest.mark.parametrize("name,file,content,message", [
    ("rf", "model.skops", b"garbage", "is not a skops model file skops can load"),
    ("dense", "model.keras", b"garbage", "is not a .keras model (not a zip archive)"),
    ("lr", "config.json", b'{"features": "hog"}', "does not name the model's input features"),
    ("cnn", "metrics.json", b"{", "metrics.json is unreadable"),
    ("cnn", "model.keras", None, "model.keras is a folder, not a model file; move it away"),
])
@pytest.mark.slow
def test_a_broken_run_is_named_with_its_fix_and_the_others_compared(
        name, file, content, message, evaluated, capsys, tmp_path):
    runs_dir, _ = evaluated
    broken = tmp_path / "runs"
    shutil.copytree(runs_dir, broken, ignore=shutil.ignore_patterns("comparison"))
    if content is None:  # a folder in the file's place is a broken run, not a missing one
        (broken / name / file).unlink()
        (broken / name / file).mkdir()
    else:
        (broken / name / file).write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        run_script("evaluate", evaluate_argv(broken, tmp_path / "out"))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {name} is not compared: ")
    assert message in err[0] and "Traceback" not in err[0]
    script = "train_cnn.py" if name == "cnn" else f"baselines.py --models {name}"
    assert f"recreate it with: python {script}" in err[0]
    compared = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert sorted(compared["models"]) == sorted(m for m in MODELS if m != name)
    assert list(compared["not_compared"]) == [name]


def test_every_broken_model_is_named_and_the_good_ones_reported(evaluated, capsys, tmp_path):
    runs_dir, _ = evaluated
    broken = tmp_path / "runs"
    shutil.copytree(runs_dir, broken, ignore=shutil.ignore_patterns("comparison"))
    (broken / "rf" / "model.skops").write_bytes(b"garbage")
    (broken / "cnn" / "model.keras").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as exit_info:
        run_script("evaluate", evaluate_argv(broken, tmp_path / "out"))
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)
    assert err[0].startswith(f"error: rf is not compared: {broken / 'rf' / 'model.skops'} "
                             "is not a skops model")
    assert err[1].startswith(f"error: cnn is not compared: {broken / 'cnn' / 'model.keras'} "
                             "is not a .keras model")
    assert "| Logistic regression |" in captured.out and "| Dense network |" in captured.out
