"""benchmarks/calibrate_reader.py end to end in --dry-run: validation pages
written, read by two models, and a calibration the reader then loads."""

import json
import shutil

import numpy as np
import pytest

from benchmarks.calibrate_reader import validation_pages
from benchmarks.reading.pages import CONDITIONS
from digitsuite.data.datasets import load_splits
from digitsuite.reading import confidence
from tests.support import ROOT, SAMPLE_DIR, fails_with_one_line, run_script

SHIPPED = ROOT / "models" / "reader"


def test_each_condition_writes_its_own_digits():
    splits = load_splits("mnist", SAMPLE_DIR, val_fraction=0.1, seed=0, dry_run=True,
                         log=lambda *a: None)
    texts = {}
    for name, page, truth in validation_pages(*splits.val, 1, seed=0):
        assert page.dtype == np.uint8 and truth
        texts[name] = [line["text"] for line in truth]
    assert list(texts) == list(CONDITIONS)
    # The same seed, yet no two conditions' pages hold the same numbers.
    assert len({tuple(t) for t in texts.values()}) == len(CONDITIONS)


@pytest.mark.slow
def test_dry_run_fits_a_calibration_the_reader_loads(tmp_path, capsys):
    out_dir = tmp_path / "reader"
    out_dir.mkdir()
    shutil.copyfile(SHIPPED / "model.keras", out_dir / "model.keras")
    measures = run_script("benchmarks.calibrate_reader", [
        "--dry-run", "--model", out_dir / "model.keras", "--partner", SHIPPED / "partner.keras",
        "--data-dir", SAMPLE_DIR, "--out-dir", out_dir])
    out = capsys.readouterr().out
    assert out.count("3 pages read") == len(CONDITIONS)
    assert measures["fit_pages"] + measures["held_out_pages"] <= 3 * len(CONDITIONS)
    ensemble = confidence.load_reader(out_dir / "model.keras")
    assert ensemble.calibrated and len(ensemble.models) == 2
    saved = json.loads((out_dir / confidence.CALIBRATION_FILE).read_text())
    assert saved["number_threshold"] == pytest.approx(measures["number_threshold"], abs=1e-4)
    # The shipped file records no folder of the machine it was made on.
    assert str(tmp_path) not in json.dumps(saved) and "--pages 3" in saved["fit"]["command"]
    md = (out_dir / "calibration.md").read_text()
    assert "98% of the numbers in each condition" in md and "number threshold" in md


def test_a_model_that_is_no_classifier_is_one_line(tmp_path, capsys):
    wrong = tmp_path / "model.keras"
    wrong.write_bytes(b"not a keras file")
    err = fails_with_one_line(capsys, "benchmarks.calibrate_reader", [
        "--dry-run", "--model", wrong, "--partner", SHIPPED / "partner.keras",
        "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path / "out"])
    assert str(wrong) in err and not (tmp_path / "out").exists()
