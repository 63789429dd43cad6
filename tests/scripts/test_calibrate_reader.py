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


def test_each_condition_and_drawing_writes_its_own_digits():
    splits = load_splits("mnist", SAMPLE_DIR, val_fraction=0.1, seed=0, dry_run=True,
                         log=lambda *a: None)
    texts, pages = {}, {}
    for kind, page, truth in validation_pages(*splits.val, 1, seed=0,
                                              drawings=("mnist", "bitmap")):
        assert page.dtype == np.uint8 and truth
        texts[kind], pages[kind] = [line["text"] for line in truth], page
    assert list(texts) == [(name, drawing) for drawing in ("mnist", "bitmap")
                           for name in CONDITIONS]
    # The same seed, yet no two kinds of page hold the same numbers.
    assert len({tuple(t) for t in texts.values()}) == 2 * len(CONDITIONS)
    # Each drawing writes the same pages whichever others are asked for.
    for drawing in ("mnist", "bitmap"):
        alone = [page for _, page, _ in validation_pages(*splits.val, 1, seed=0,
                                                         drawings=(drawing,))]
        assert all(np.array_equal(a, pages[name, drawing]) for a, name in zip(alone, CONDITIONS))


def test_the_bitmap_drawing_has_hard_ink_with_thin_edges():
    """Thresholded digits drawn as a bilevel scan: far fewer half-inked
    pixels per inked one than MNIST's grey drawing at the same size."""
    from benchmarks.calibrate_reader import DRAWINGS
    from benchmarks.reading.pages import digit_tile

    splits = load_splits("mnist", SAMPLE_DIR, val_fraction=0.1, seed=0, dry_run=True,
                         log=lambda *a: None)
    images = splits.val[0][:20]

    def soft_share(kind):
        drawing, drawn = DRAWINGS[kind]
        tiles = [digit_tile(image, 3.0, 0, 0, 0, binary=drawing.binary)
                 for image in drawn(images)]
        ink = np.concatenate([t.ravel() for t in tiles])
        return ((ink > 0.1) & (ink < 0.9)).sum() / (ink >= 0.9).sum()

    assert set(np.unique(DRAWINGS["bitmap"][1](images))) == {0, 255}
    assert soft_share("bitmap") < 0.5 * soft_share("mnist")


@pytest.mark.slow
def test_dry_run_fits_a_calibration_the_reader_loads(tmp_path, capsys):
    out_dir = tmp_path / "reader"
    out_dir.mkdir()
    shutil.copyfile(SHIPPED / "model.keras", out_dir / "model.keras")
    measures = run_script("benchmarks.calibrate_reader", [
        "--dry-run", "--model", out_dir / "model.keras", "--partner", SHIPPED / "partner.keras",
        "--data-dir", SAMPLE_DIR, "--out-dir", out_dir])
    out = capsys.readouterr().out
    assert out.count("3 pages read") == 2 * len(CONDITIONS)
    assert measures["fit_pages"] + measures["held_out_pages"] <= 2 * 3 * len(CONDITIONS)
    assert {"mnist drawing: numbers vouched", "bitmap drawing: numbers vouched"} <= set(measures)
    ensemble = confidence.load_reader(out_dir / "model.keras")
    assert ensemble.calibrated and len(ensemble.models) == 2
    saved = json.loads((out_dir / confidence.CALIBRATION_FILE).read_text())
    assert saved["number_threshold"] == pytest.approx(measures["number_threshold"], abs=1e-4)
    # The shipped file records no folder of the machine it was made on.
    assert str(tmp_path) not in json.dumps(saved)
    assert "--pages 3 --drawings mnist bitmap" in saved["fit"]["command"]
    assert saved["fit"]["drawings"] == ["mnist", "bitmap"]
    md = (out_dir / "calibration.md").read_text()
    assert "98% of the numbers in each condition (its pages of every drawing" in md
    assert "number threshold" in md


def test_a_model_that_is_no_classifier_is_one_line(tmp_path, capsys):
    wrong = tmp_path / "model.keras"
    wrong.write_bytes(b"not a keras file")
    err = fails_with_one_line(capsys, "benchmarks.calibrate_reader", [
        "--dry-run", "--model", wrong, "--partner", SHIPPED / "partner.keras",
        "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path / "out"])
    assert str(wrong) in err and not (tmp_path / "out").exists()
