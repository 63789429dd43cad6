"""train_cnn.py end to end in --dry-run: its outputs, the same result from
the same seed, resuming after an interrupt, and its command-line errors."""

import json

import numpy as np
import pytest

from digitsuite.backend import keras
from digitsuite.cli import DRY_RUN_TEST
from digitsuite.data.datasets import load_dataset, stratified_subset
from digitsuite.inference.predict import predict_proba
from digitsuite.training import loop as training
from models import build_cnn
from tests.support import SAMPLE_DIR, assert_same_run, run_script

OUTPUTS = ["model.keras", "config.json", "metrics.json", "report.md", "history.png",
           "confusion.png"]


def test_dry_run_writes_every_output(trained_cnn_dir):
    for name in OUTPUTS:
        path = trained_cnn_dir / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert not list(trained_cnn_dir.glob(".*tmp*")), "temporary files left behind"
    assert (trained_cnn_dir / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_config_records_every_argument_and_the_data_source(trained_cnn_dir):
    config = json.loads((trained_cnn_dir / "config.json").read_text())
    for key in ("epochs", "batch_size", "learning_rate", "seed", "dataset", "data_dir",
                "out_dir", "dry_run", "val_fraction", "augment", "label_smoothing"):
        assert key in config, key
    assert config["label_smoothing"] == 0.0  # 'auto' recorded as what digits get
    assert config["dry_run"] is True and config["effective_epochs"] == 1
    assert "IDX files in" in config["data_source"]
    assert config["environment"]["keras"].startswith("3.")


def test_metrics_and_report_agree_with_the_saved_model(trained_cnn_dir):
    metrics = json.loads((trained_cnn_dir / "metrics.json").read_text())
    assert metrics["params"] == 237_482 and metrics["epochs_run"] == 1
    assert set(metrics["per_class"]) == {str(i) for i in range(10)}
    assert metrics["train_seconds"] > 0 and 0 <= metrics["test_accuracy"] <= 1
    report = (trained_cnn_dir / "report.md").read_text()
    assert f"{metrics['test_accuracy']:.2%}" in report
    assert "precision" in report and "recall" in report  # sklearn's report
    # The data line counts what was used, and a dry run says it is one.
    assert report.startswith("# Seed CNN (dry run: small subsets, one epoch)")
    assert "(540 of its 8,000 training images for training, 60 for validation; 200 test" in report

    # Reload the model: predictions on the dry-run test subset reproduce metrics.json.
    model = keras.models.load_model(trained_cnn_dir / "model.keras", safe_mode=True)
    ds = load_dataset("mnist", SAMPLE_DIR)
    x_test, y_test = stratified_subset(ds.x_test, ds.y_test, DRY_RUN_TEST, seed=0)
    proba = predict_proba(model, x_test)
    assert np.mean(proba.argmax(1) == y_test) == pytest.approx(metrics["test_accuracy"])


def test_reloaded_model_predicts_the_same(trained_cnn_dir):
    model = keras.models.load_model(trained_cnn_dir / "model.keras", safe_mode=True)
    again = keras.models.load_model(trained_cnn_dir / "model.keras", safe_mode=True)
    x = np.random.default_rng(1).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(predict_proba(model, x), predict_proba(again, x), rtol=1e-6)
    assert [layer.name for layer in model.layers][1:4] == ["conv1", "pool1", "conv2"]


def test_missing_data_dir_is_one_error_line_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--dry-run", "--data-dir", tmp_path / "nope", "--out-dir", out])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --data-dir {tmp_path / 'nope'} does not exist; give a folder "
                   "with the four IDX files or mnist.npz"]
    assert not out.exists() or not any(out.iterdir())


def test_same_seed_gives_identical_metrics_and_weights(trained_cnn_dir, tmp_path):
    run_script("train_cnn", ["--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path])
    assert_same_run(tmp_path, trained_cnn_dir)


# --------------------------------------------------------------------------
# Interrupted and resumed


@pytest.mark.slow
def test_cli_interrupt_says_how_to_resume_and_resume_matches_a_clean_run(
        trained_cnn_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    original = training.EpochCheckpoint.on_epoch_end

    def save_then_interrupt(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", save_then_interrupt)
    argv = ["--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", out]
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", argv)
    assert exit_info.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: interrupted") and f"--resume --out-dir {out}" in err[0]
    assert not (out / "metrics.json").exists()

    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", original)
    run_script("train_cnn", ["--resume", "--out-dir", out])
    assert_same_run(out, trained_cnn_dir)
    assert not (out / "checkpoint").exists()


def test_resume_without_checkpoint_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--resume", "--out-dir", tmp_path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: nothing to resume: no checkpoint in {tmp_path / 'checkpoint'}; "
                   "run without --resume to start"]


def test_checkpoint_from_before_one_hot_targets_is_one_error_line(tmp_path, capsys):
    """A run stopped under an older digitsuite (sparse-label loss) is refused
    with what to do, and its checkpoint is left as it was."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    model = build_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    model.save(folder / "epoch001.keras")
    (folder / training.CHECKPOINT_STATE).write_text(json.dumps({
        "epochs_done": 1, "args": {},
        "files": {"model": "epoch001.keras", "rng": "epoch001.rng.npz", "best": None}}))
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--resume", "--out-dir", tmp_path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "older digitsuite" in err[0] and "without --resume" in err[0]
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before


# --------------------------------------------------------------------------
# --distribute


def test_multiworker_without_tf_config_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--dry-run", "--distribute", "multiworker",
                                 "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --distribute multiworker needs TF_CONFIG")
    assert not (tmp_path / "metrics.json").exists()


def test_a_run_resumed_from_before_a_setting_existed_goes_on_as_it_began():
    import train_cnn
    import train_reader
    from digitsuite import cli

    for script in (train_cnn, train_reader):
        args = script.parse_args(["--resume"])
        saved = {k: v for k, v in cli.saved_args(args).items()   # a config of an older run
                 if k not in ("ema_steps", "convention_share", "split_seed")}
        restored = cli.restore_args(args, {**saved, "seed": 3})
        assert restored.ema_steps == 0 and restored.convention_share == 0.0
        assert cli.split_seed(restored) == 3   # its split came from its one seed
        # A run that recorded them keeps what it recorded.
        kept = cli.restore_args(args, {**saved, "ema_steps": 500, "convention_share": 0.2})
        assert kept.ema_steps == 500 and kept.convention_share == 0.2


def test_split_seed_holds_out_the_same_digits_for_differently_seeded_runs():
    import train_reader
    from digitsuite import cli

    def held_out(*flags):
        args = train_reader.parse_args(["--dry-run", "--data-dir", str(SAMPLE_DIR), *flags])
        return cli.load_splits(args, log=lambda *_: None).val

    same = held_out("--seed", "0")
    partner = held_out("--seed", "1", "--split-seed", "0")
    np.testing.assert_array_equal(partner[0], same[0])
    # Without --split-seed, --seed chooses the split too, as before the flag.
    other = held_out("--seed", "1")
    assert not np.array_equal(other[0], same[0])
