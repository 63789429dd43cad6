"""train_reader.py end to end in --dry-run: the reader recipe's outputs."""

import json
import zipfile

import pytest

from digitsuite.backend import keras
from digitsuite.evaluation import reporting
from tests.support import ROOT, SAMPLE_DIR, run_script


@pytest.mark.slow
def test_dry_run_writes_a_small_reader_model_and_its_command(tmp_path):
    out = tmp_path / "reader"
    run_script("train_reader", ["--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", out])
    model = keras.models.load_model(out / "model.keras")
    assert model.count_params() == 237_482                  # the seed architecture
    with zipfile.ZipFile(out / "model.keras") as archive:    # weights only, no optimizer
        assert not any("optimizer" in name for name in archive.namelist())
    assert (out / "model.keras").stat().st_size < 1_200_000
    config = json.loads((out / "config.json").read_text())
    assert config["augment"] == "reading" and config["nondigit_share"] == 0.1
    assert config["convention_share"] > 0 and config["ema_steps"] > 0
    assert config["augmentation"]["elastic"] > 0
    assert config["command"].startswith("python train_reader.py") and "--dry-run" in config[
        "command"]
    # A run outside the project keeps its paths: its command reruns it and
    # read_bench.py finds its data.
    assert config["data_dir"] == str(SAMPLE_DIR) and config["out_dir"] == str(out)
    assert not reporting.ships_with_project(out)
    assert reporting.ships_with_project(ROOT / "models" / "reader")
    # Non-digits joined the training images, a tenth of them, and are counted
    # apart from the dataset's own images.
    assert config["n_nondigits"] == round((config["n_train"] + config["n_nondigits"]) * 0.1)
    assert (f"{config['n_train']:,} of its {config['n_train_total']:,} training images and "
            f"{config['n_nondigits']:,} drawn non-digits for training"
            in (out / "report.md").read_text())


def test_shipped_files_record_no_machine_paths():
    # The reader model's record and every committed file but dated results.
    shipped = [ROOT / "models" / "reader" / name for name in ("config.json", "report.md")]
    for path in shipped:
        text = path.read_text()
        for machine in ("/work/", "/tmp/", "/home/", "/root/", "../shared"):
            assert machine not in text, (path.name, machine)
