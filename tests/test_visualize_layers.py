"""visualize_layers.py (digitsuite.visual.layerviz) and conv_demo.py
(digitsuite.visual.convdemo)."""

import numpy as np
import pytest
from conftest import SAMPLE_DIR, run_script
from PIL import Image
from scipy import ndimage
from test_images import draw_seven

from digitsuite.backend import keras
from digitsuite.data.datasets import load_idx_folder
from digitsuite.inference.modelio import load_keras_model
from digitsuite.visual import convdemo, layerviz

SEED_MAP_LAYERS = ["conv1", "pool1", "conv2", "pool2", "conv3"]


@pytest.fixture(scope="session")
def sample_test_set():
    arrays = load_idx_folder(SAMPLE_DIR)
    return arrays["x_test"], arrays["y_test"]


@pytest.fixture(scope="session")
def seed_model(trained_cnn_dir):
    return trained_cnn_dir / "model.keras"


@pytest.fixture(scope="session")
def small_model(tmp_path_factory, sample_test_set):
    """A small CNN that is not the seed CNN (other names, average pooling, no
    hidden Dense), trained in-test for one epoch; returns its .keras path."""
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = keras.layers.Conv2D(4, 5, activation="relu", name="edges")(inputs)     # (24, 24, 4)
    x = keras.layers.AveragePooling2D(3, name="shrink")(x)                     # (8, 8, 4)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="parts")(x)         # (6, 6, 6)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    x_test, y_test = sample_test_set
    model.fit(x_test[:256, ..., None] / 255.0, y_test[:256], epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("small") / "small.keras"
    model.save(path)
    return path


def visualize(model, out_dir, *args):
    return run_script("visualize_layers", ["--model", model, "--data-dir", SAMPLE_DIR,
                                           "--out-dir", out_dir, *args])


def expected_files(map_layers, first_conv, dense=True):
    return ({"input.png", "overview.png", "probabilities.png", "saliency.png", "index.html",
             f"filters_{first_conv}.png"}
            | {f"maps_{name}.png" for name in map_layers} | ({"dense.png"} if dense else set()))


# --------------------------------------------------------------------------
# The seed CNN, end to end


def test_digit_writes_every_figure_and_the_page(seed_model, sample_test_set, tmp_path, capsys):
    result = visualize(seed_model, tmp_path, "--digit", 3)
    x_test, y_test = sample_test_set
    first_three = int(np.flatnonzero(y_test == 3)[0])
    np.testing.assert_array_equal(result["image"], x_test[first_three] / np.float32(255))

    expected = expected_files(SEED_MAP_LAYERS, "conv1")
    assert set(result["files"]) == expected
    for name in expected:
        assert (tmp_path / name).stat().st_size > 0
    page = (tmp_path / "index.html").read_text()
    assert all(f'src="{name}"' in page for name in expected - {"index.html"})
    assert "<figcaption>" in page

    out = capsys.readouterr().out
    predicted = result["predicted"]
    assert f"predicted {predicted} with probability" in out
    assert f"test image #{first_three}" in out


def test_one_panel_per_channel_for_every_conv_and_pool_layer(seed_model, sample_test_set):
    model = load_keras_model(seed_model)
    result = layerviz.analyse(model, sample_test_set[0][0] / np.float32(255))
    assert list(result["maps"]) == SEED_MAP_LAYERS
    assert list(result["dense"]) == ["dense1", "dense2"]
    for name, maps in result["maps"].items():
        channels = model.get_layer(name).output.shape[-1]
        assert maps.shape[-1] == channels
        mosaic, corners = layerviz.tile_maps(maps, gap=1)
        assert len(corners) == channels
        height, width = maps.shape[:2]
        for k, (top, left) in enumerate(corners):
            np.testing.assert_array_equal(mosaic[top:top + height, left:left + width],
                                          maps[..., k])
        # One number label per panel in the saved figure.
        fig = layerviz.plot_feature_maps(name, maps)
        labels = {t.get_text() for t in fig.axes[0].texts}
        assert labels == {str(k) for k in range(channels)}
    assert result["filters"].shape == (3, 3, 64)


def test_probabilities_sum_to_one_and_match_the_model(seed_model, sample_test_set):
    model = load_keras_model(seed_model)
    image = sample_test_set[0][7] / np.float32(255)
    result = layerviz.analyse(model, image)
    assert result["probabilities"].sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(result["probabilities"],
                               model.predict(image[None, ..., None], verbose=0)[0], atol=1e-6)
    assert result["predicted"] == int(np.argmax(result["probabilities"]))


def test_saliency_uses_class_scores(seed_model, sample_test_set):
    model = load_keras_model(seed_model)
    image = sample_test_set[0][7][None, ..., None] / np.float32(255)
    scores = np.asarray(layerviz.class_score_model(model)(image))[0]
    softmax = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose(softmax, np.asarray(model(image))[0], atol=1e-6)
    heat = layerviz.saliency(model, image[0, ..., 0], 3)
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() == 1.0


# --------------------------------------------------------------------------
# Other models, choices and pictures


def test_a_model_that_is_not_the_seed_cnn_gets_its_maps(small_model, tmp_path):
    result = visualize(small_model, tmp_path, "--digit", 5)
    assert set(result["files"]) == expected_files(["edges", "shrink", "parts"], "edges",
                                                  dense=False)
    assert {name: maps.shape for name, maps in result["maps"].items()} == {
        "edges": (24, 24, 4), "shrink": (8, 8, 4), "parts": (6, 6, 6)}
    assert result["filters"].shape == (5, 5, 4)


@pytest.mark.parametrize("dark_ink", [True, False])
def test_own_image_in_either_ink_polarity(small_model, tmp_path, dark_ink):
    picture = draw_seven(tmp_path / "seven.png", dark_ink=dark_ink)
    result = visualize(small_model, tmp_path / "out", "--image", picture)
    image = result["image"]
    assert image.shape == (28, 28) and image.max() == 1.0
    assert image[0].sum() == 0 and image[:, 0].sum() == 0   # background dark, ink bright
    np.testing.assert_allclose(ndimage.center_of_mass(image), (14, 14), atol=0.5)
    assert (tmp_path / "out" / "input.png").is_file()
    assert "your image seven.png" in (tmp_path / "out" / "index.html").read_text()


def test_own_image_default_folder_is_its_file_name(small_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    picture = draw_seven(tmp_path / "my seven.png")
    run_script("visualize_layers", ["--model", small_model, "--image", picture])
    assert (tmp_path / "runs/layers/my_seven/index.html").is_file()


def test_index_picks_that_test_image_and_names_the_default_folder(
        small_model, sample_test_set, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_script("visualize_layers", ["--model", small_model, "--data-dir", SAMPLE_DIR,
                                             "--index", 42])
    np.testing.assert_array_equal(result["image"], sample_test_set[0][42] / np.float32(255))
    assert (tmp_path / "runs/layers/index-42/index.html").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--model", "{tmp}/nowhere/model.keras"],
     "error: no model at {tmp}/nowhere/model.keras; train one with: "
     "python train_cnn.py --out-dir {tmp}/nowhere"),
    (["--digit", "12"], "argument --digit: must be a digit 0-9, got 12"),
    (["--index", "2000"], "--index 2000 is out of range: the test set"),
    (["--image", "{tmp}/notes.png"], "notes.png is not an image Pillow can read"),
    (["--model", "{tmp}/notes.png"], "notes.png is not a Keras model file (expected a "
                                     ".keras file)"),
    (["--digit", "1", "--index", "3"], "not allowed with argument"),
])
def test_user_errors_are_one_line(small_model, tmp_path, capsys, argv, message):
    (tmp_path / "notes.png").write_text("not an image")
    argv = [a.format(tmp=tmp_path) for a in argv]
    model = [] if "--model" in argv else ["--model", small_model]
    with pytest.raises(SystemExit) as exit_info:
        visualize_args = [*model, "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path / "o", *argv]
        run_script("visualize_layers", visualize_args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_model_with_another_input_shape_is_refused(tmp_path, capsys):
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "rgb.keras")
    with pytest.raises(SystemExit):
        visualize(tmp_path / "rgb.keras", tmp_path / "o")
    assert "takes inputs of shape (None, 32, 32, 3)" in capsys.readouterr().err


# --------------------------------------------------------------------------
# Convolution and pooling demo


def test_padding_valid_shrinks_and_same_keeps_the_size():
    example = convdemo.padding_example()
    assert example["valid"].shape == (3, 3) and example["same"].shape == (5, 5)
    assert example["valid"][0, 0] == 1 + 2 + 3 + 6 + 7 + 8 + 11 + 12 + 13
    assert example["same"][0, 0] == 1 + 2 + 6 + 7  # zeros padded outside
    photo = np.random.default_rng(0).random((17, 24, 3)).astype(np.float32)
    assert convdemo.convolve(photo, convdemo.KERNELS["sharpen"], "valid").shape == (15, 22, 3)
    assert convdemo.convolve(photo, convdemo.KERNELS["sharpen"], "same").shape == (17, 24, 3)
    box = convdemo.convolve(photo, convdemo.KERNELS["box blur"], "valid")
    np.testing.assert_allclose(box[0, 0], photo[:3, :3].mean(axis=(0, 1)), atol=1e-6)


def test_max_pool_halves_odd_sizes_down():
    photo = np.random.default_rng(0).random((120, 607, 3)).astype(np.float32)
    pooled = convdemo.max_pool(photo)
    assert pooled.shape == (60, 303, 3)
    assert pooled[0, 0, 0] == photo[:2, :2, 0].max()


def test_conv_demo_runs_offline_on_the_bundled_photo(tmp_path, capsys):
    result = run_script("conv_demo", ["--out-dir", tmp_path])
    assert result["image"].shape == (181, 301, 3)
    assert result["pooled"].shape == (90, 150, 3)
    assert result["valid"].shape == (179, 299, 3)
    assert all(out.shape == (181, 301, 3) for out in result["outputs"].values())
    assert {p.name for p in tmp_path.iterdir()} == {"convolution.png", "padding.png",
                                                    "pooling.png"}
    assert "2x2 max-pool: 181x301x3 -> 90x150x3" in capsys.readouterr().out
    assert "Sobel x (default --kernel)" in result["outputs"]


def test_conv_demo_on_a_grey_picture_with_a_custom_kernel(tmp_path):
    Image.new("L", (21, 15), 100).save(tmp_path / "grey.png")
    result = run_script("conv_demo", ["--image", tmp_path / "grey.png", "--kernel",
                                      "0 0 0; 0 2 0; 0 0 0", "--out-dir", tmp_path / "o"])
    assert result["image"].shape == (15, 21, 1) and result["pooled"].shape == (7, 10, 1)
    np.testing.assert_allclose(result["outputs"]["custom (--kernel)"][5, 5, 0],
                               2 * 100 / 255, atol=1e-5)


def test_conv_demo_rejects_a_kernel_that_is_not_square(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_script("conv_demo", ["--kernel", "1,2,3,4,5", "--out-dir", tmp_path])
    assert exit_info.value.code == 2
    assert "needs 9 numbers for a 3x3 kernel" in capsys.readouterr().err
