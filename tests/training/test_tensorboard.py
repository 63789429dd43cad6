"""--tensorboard (digitsuite.training.tensorboard): the event files hold the
scalars, the learning rate, weight histograms and each epoch's feature maps."""

from pathlib import Path

import numpy as np
import pytest

import train_cnn
from digitsuite import cli
from digitsuite.backend import tf
from digitsuite.training import loop as training
from digitsuite.training import tensorboard
from models import build_cnn
from tests.support import SEED_MAP_LAYERS


def summaries(folder):
    """{tag: [(step, kind), ...]} of every event file under ``folder``."""
    found = {}
    for events in Path(folder).glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                kind = value.metadata.plugin_data.plugin_name or value.WhichOneof("value")
                found.setdefault(value.tag, []).append((event.step, kind))
    return found


@pytest.mark.slow
def test_a_run_logs_scalars_histograms_and_feature_map_images(tmp_path, sample):
    images, labels = sample["x_train"][:96], sample["y_train"][:96]
    training.set_seed(0)
    training.fit(build_cnn(), (images[:64], labels[:64]), (images[64:], labels[64:]),
                 epochs=2, batch_size=32, learning_rate=1e-3, seed=0, policy=None, verbose=0,
                 callbacks=tensorboard.callbacks(tmp_path, sample["x_test"][0]))

    train = summaries(tmp_path / "train")
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate"):
        assert [step for step, _ in train[tag]] == [0, 1], tag
    assert train["conv1/kernel/histogram"][0][1] == "histograms"
    assert "epoch_accuracy" in summaries(tmp_path / "validation")

    maps = summaries(tmp_path / tensorboard.FEATURE_MAPS)
    assert maps["input"] == [(0, "images")]
    for name in SEED_MAP_LAYERS:  # one image per layer and epoch
        assert maps[name] == [(1, "images"), (2, "images")], name


@pytest.mark.slow
def test_feature_maps_change_as_the_filters_train(tmp_path, sample):
    """The images are this epoch's maps, not a snapshot of the first."""
    images, labels = sample["x_train"][:64], sample["y_train"][:64]
    training.set_seed(0)
    callback = tensorboard.FeatureMapImages(tmp_path, sample["x_test"][0])
    model = build_cnn()
    seen = []
    record = type("Record", (training.keras.callbacks.Callback,), {
        "on_epoch_end": lambda self, epoch, logs=None: seen.append(
            np.asarray(callback.probe(callback.image)[0]))})
    training.fit(model, (images, labels), (images[:16], labels[:16]), epochs=2, batch_size=32,
                 learning_rate=1e-2, seed=0, policy=None, verbose=0,
                 callbacks=[callback, record()])
    assert not np.allclose(seen[0], seen[1])


def test_tensorboard_flag_defaults_under_the_out_dir(tmp_path):
    off = train_cnn.parse_args(["--out-dir", str(tmp_path)])
    assert cli.tensorboard_dir(off, off.out_dir) is None
    default = train_cnn.parse_args(["--out-dir", str(tmp_path), "--tensorboard"])
    assert cli.tensorboard_dir(default, default.out_dir) == tmp_path / "tensorboard"
    chosen = train_cnn.parse_args(["--tensorboard", str(tmp_path / "tb")])
    assert cli.tensorboard_dir(chosen, chosen.out_dir) == tmp_path / "tb"
