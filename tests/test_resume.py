"""Interrupted runs resume to the same result; same seed, same result."""

import json

import numpy as np
import pytest
from conftest import SAMPLE_DIR, run_script

from digitsuite.backend import keras
from digitsuite.data.augment import POLICIES
from digitsuite.data.datasets import load_dataset, stratified_split
from digitsuite.training import loop as training
from models import build_cnn


def comparable(metrics):
    return {k: v for k, v in metrics.items() if k != "train_seconds"}


def weights(path):
    return keras.models.load_model(path, safe_mode=True).get_weights()


class StopMidEpoch(keras.callbacks.Callback):
    """Simulate Ctrl-C in the middle of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Keras calls this after each call's few steps, before the epoch ends.
        if self.current == self.epoch:
            raise KeyboardInterrupt


def test_resumed_training_ends_with_the_same_weights(tmp_path):
    ds = load_dataset("mnist", SAMPLE_DIR)
    train, val = stratified_split(ds.x_train[:400], ds.y_train[:400], 0.25, seed=0)
    settings = dict(epochs=3, batch_size=64, learning_rate=2e-3, seed=4,
                    policy=POLICIES["mnist"], verbose=0)

    training.set_seed(4)
    whole = build_cnn()
    expected = training.fit(whole, train, val, **settings)

    training.set_seed(4)
    with pytest.raises(KeyboardInterrupt):
        training.fit(build_cnn(), train, val, checkpoint_dir=tmp_path,
                     callbacks=[StopMidEpoch(2)], **settings)
    model, state = training.load_checkpoint(tmp_path)
    assert state["epochs_done"] == 2
    result = training.fit(model, train, val, checkpoint_dir=tmp_path, resume_state=state,
                          **settings)

    for a, b in zip(whole.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert result["history"] == expected["history"]
    assert result["best_epoch"] == expected["best_epoch"]


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
    resumed = json.loads((out / "metrics.json").read_text())
    clean = json.loads((trained_cnn_dir / "metrics.json").read_text())
    assert comparable(resumed) == comparable(clean)
    for a, b in zip(weights(out / "model.keras"), weights(trained_cnn_dir / "model.keras")):
        np.testing.assert_array_equal(a, b)
    assert not (out / "checkpoint").exists()


def test_same_seed_gives_identical_metrics_and_weights(trained_cnn_dir, tmp_path):
    run_script("train_cnn", ["--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path])
    again = json.loads((tmp_path / "metrics.json").read_text())
    first = json.loads((trained_cnn_dir / "metrics.json").read_text())
    assert comparable(again) == comparable(first)
    for a, b in zip(weights(tmp_path / "model.keras"), weights(trained_cnn_dir / "model.keras")):
        np.testing.assert_array_equal(a, b)


def test_resume_without_checkpoint_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", ["--resume", "--out-dir", tmp_path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: nothing to resume: no checkpoint in {tmp_path / 'checkpoint'}; "
                   "run without --resume to start"]


def test_dense_net_in_baselines_resumes_to_the_same_result(tmp_path, monkeypatch, capsys):
    argv = ["--models", "dense", "--dry-run", "--data-dir", SAMPLE_DIR]
    run_script("baselines", [*argv, "--out-dir", tmp_path / "clean"])
    original = training.EpochCheckpoint.on_epoch_end

    def save_then_interrupt(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", save_then_interrupt)
    out = tmp_path / "stopped"
    with pytest.raises(SystemExit) as exit_info:
        run_script("baselines", [*argv, "--out-dir", out])
    assert exit_info.value.code == 130
    assert "baselines.py --models dense --resume" in capsys.readouterr().err
    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", original)
    run_script("baselines", ["--resume", "--out-dir", out])
    resumed = json.loads((out / "dense" / "metrics.json").read_text())
    clean = json.loads((tmp_path / "clean" / "dense" / "metrics.json").read_text())
    assert comparable(resumed) == comparable(clean)
    for a, b in zip(weights(out / "dense" / "model.keras"),
                    weights(tmp_path / "clean" / "dense" / "model.keras")):
        np.testing.assert_array_equal(a, b)


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
