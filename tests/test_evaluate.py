"""evaluate.py end to end in --dry-run (training the missing baselines), the
table checked against the saved models, the statistics on known inputs, and
the errors for missing or broken models."""

import json
import math
import shutil

import numpy as np
import pytest
from conftest import SAMPLE_DIR, run_script

from digitsuite.backend import keras
from digitsuite.cli import DRY_RUN_TEST
from digitsuite.data.datasets import load_dataset, stratified_subset
from digitsuite.data.features import make_features
from digitsuite.evaluation.comparison import (
    REFERENCE_ACCURACY,
    accuracy_interval,
    compare,
    error_reduction,
    holm,
    mcnemar,
)
from digitsuite.inference.predict import predict_proba

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


def read_json(path):
    return json.loads(path.read_text())


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
    assert "![mistakes.png](mistakes.png)" in report


@pytest.mark.parametrize("present", [(), ("cnn",), ("lr", "dense")])
def test_missing_models_give_one_line_each_with_the_command(present, evaluated, capsys,
                                                            tmp_path):
    runs_dir, _ = evaluated
    for name in present:
        shutil.copytree(runs_dir / name, tmp_path / "runs" / name)
    with pytest.raises(SystemExit) as exit_info:
        run_script("evaluate", evaluate_argv(tmp_path / "runs", tmp_path / "out"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    missing = [name for name in MODELS if name not in present]
    assert err[0] == (f"error: {tmp_path / 'runs'} lacks {len(missing)} of the 4 models; "
                      "create them with these commands, or rerun with --train-missing:")
    commands = {
        "lr": f"python baselines.py --models lr --out-dir {tmp_path / 'runs'}",
        "rf": f"python baselines.py --models rf --out-dir {tmp_path / 'runs'}",
        "dense": f"python baselines.py --models dense --out-dir {tmp_path / 'runs'}",
        "cnn": f"python train_cnn.py --out-dir {tmp_path / 'runs' / 'cnn'}",
    }
    assert len(err) == 1 + len(missing)
    for line, name in zip(err[1:], missing):
        assert line.startswith(f"  {name}: no {tmp_path / 'runs' / name / 'model.'}")
        assert line.endswith(f"create it with: {commands[name]} --data-dir {SAMPLE_DIR} "
                             "--dry-run")
    assert not (tmp_path / "out" / "comparison.json").exists()


@pytest.mark.parametrize("name,file,content,message", [
    ("rf", "model.skops", b"garbage", "is not a skops model file skops can load"),
    ("dense", "model.keras", b"garbage", "is not a .keras model (not a zip archive)"),
    ("lr", "config.json", b'{"features": "hog"}', "does not name the model's input features"),
    ("cnn", "metrics.json", b"{", "metrics.json is unreadable"),
])
def test_broken_run_is_one_error_line_naming_the_fix(name, file, content, message, evaluated,
                                                     capsys, tmp_path):
    runs_dir, _ = evaluated
    broken = tmp_path / "runs"
    shutil.copytree(runs_dir, broken, ignore=shutil.ignore_patterns("comparison"))
    (broken / name / file).write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        run_script("evaluate", evaluate_argv(broken, tmp_path / "out"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    script = "train_cnn.py" if name == "cnn" else f"baselines.py --models {name}"
    assert f"recreate it with: python {script}" in err[0]


# --------------------------------------------------------------------------
# Statistics on small known inputs


def test_error_reduction_arithmetic():
    # The seed's "about 60 %": dense 2.1 % error -> CNN 0.9 %.
    assert error_reduction(0.021, 0.009) == pytest.approx(12 / 21)
    assert error_reduction(0.10, 0.05) == pytest.approx(0.5)
    assert error_reduction(0.01, 0.02) == pytest.approx(-1.0)
    assert error_reduction(0.0, 0.01) is None


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(90, 100), (1991, 2000), (3, 10)])
def test_accuracy_interval_is_the_wilson_interval(k, n):
    assert accuracy_interval(k, n) == pytest.approx(wilson(k, n), abs=1e-9)


def test_accuracy_interval_at_perfect_accuracy_stays_below_one():
    low, high = accuracy_interval(100, 100)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(100 / (100 + 1.959963984540054 ** 2))  # 0.963


def test_mcnemar_exact_p_value():
    # 1 image only A gets right, 6 only B, 3 both: p = 2 * P(X <= 1 | 7, 1/2) = 16/128.
    a = np.array([1, 0, 0, 0, 0, 0, 0, 1, 1, 1], bool)
    b = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], bool)
    assert mcnemar(a, b) == {"only_first_correct": 1, "only_second_correct": 6,
                             "p_value": pytest.approx(0.125)}
    assert mcnemar(a, a)["p_value"] == 1.0


def test_holm_adjustment():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_compare_on_known_predictions():
    y = np.zeros(10, int)
    result = compare(y, {"dense": np.r_[np.zeros(8), np.ones(2)],
                         "cnn": np.r_[np.zeros(9), np.ones(1)]}, {"cnn": {"title": "CNN"}})
    dense, cnn = result["models"]["dense"], result["models"]["cnn"]
    assert (dense["n_errors"], cnn["n_errors"]) == (2, 1)
    assert cnn["error_reduction"] == {"dense": pytest.approx(0.5)}
    assert dense["error_reduction"] == {"cnn": pytest.approx(-1.0)}
    assert cnn["reference_error_reduction"]["dense"] == pytest.approx(1 - 0.009 / 0.021)
    assert cnn["title"] == "CNN"
    assert result["mcnemar"] == [{
        "models": ["dense", "cnn"], "only_first_correct": 0, "only_second_correct": 1,
        "p_value": 1.0, "p_holm": 1.0, "significant": False}]
