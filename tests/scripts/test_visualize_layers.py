"""visualize_layers.py end to end: the seed CNN's figures and page, another
model's maps, the user's own picture, the default folders, and each user
error as one line."""

import json

import numpy as np
import pytest
from scipy import ndimage

from digitsuite.backend import keras
from tests.support import (
    SAMPLE_DIR,
    SEED_MAP_LAYERS,
    draw_seven,
    fails_with_one_line,
    run_script,
)


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
             "report.json", "report.md", f"filters_{first_conv}.png"}
            | {f"maps_{name}.png" for name in map_layers} | ({"dense.png"} if dense else set()))


@pytest.mark.slow
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
    assert all(f'src="{name}"' in page
               for name in expected - {"index.html", "report.json", "report.md"})
    assert "<figcaption>" in page
    # The report holds the figures' numbers: what was predicted, how likely
    # each class, each layer's output, and which picture it was.
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["predicted"] == str(result["predicted"]) and report["label"] == "3"
    assert report["probabilities"][report["predicted"]] == pytest.approx(
        float(result["probabilities"][result["predicted"]]), abs=1e-6)
    assert sum(report["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert report["layers"]["conv1"] == [26, 26, 64] and report["layers"]["pool2"] == [5, 5, 64]
    markdown = (tmp_path / "report.md").read_text()
    assert f"Predicted **{result['predicted']}**" in markdown
    assert "![saliency.png](saliency.png)" in markdown and "| conv3 | 3 x 3 x 32 |" in markdown

    out = capsys.readouterr().out
    predicted = result["predicted"]
    assert f"predicted {predicted} with probability" in out
    assert "(the model's softmax, not read_digits.py's chance of being right)" in out
    assert f"test image #{first_three}" in out


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


def test_another_picture_of_the_same_name_gets_a_folder_of_its_own(
        small_model, tmp_path, monkeypatch, capsys):
    """Two files named seven.png in two folders: the second's run does not
    replace the first's, while the same picture run again replaces its own."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = draw_seven(tmp_path / "a" / "seven.png")
    second = draw_seven(tmp_path / "b" / "seven.png", dark_ink=False)
    run_script("visualize_layers", ["--model", small_model, "--image", first])
    page = (tmp_path / "runs/layers/seven/input.png").read_bytes()
    capsys.readouterr()
    run_script("visualize_layers", ["--model", small_model, "--image", second])
    assert "runs/layers/seven/ holds another picture's run; this one goes to " \
           "runs/layers/seven-2/" in capsys.readouterr().out
    assert (tmp_path / "runs/layers/seven/input.png").read_bytes() == page
    assert (tmp_path / "runs/layers/seven-2/index.html").is_file()
    run_script("visualize_layers", ["--model", small_model, "--image", first])
    assert "another picture" not in capsys.readouterr().out
    assert not (tmp_path / "runs/layers/seven-3").exists()


def test_a_fresh_checkout_looks_into_the_shipped_reader(tmp_path, monkeypatch, capsys):
    """No runs/cnn yet: the reader CNN in models/reader/ answers, and says so."""
    monkeypatch.chdir(tmp_path)
    picture = draw_seven(tmp_path / "seven.png")
    result = run_script("visualize_layers", ["--image", picture])
    out = capsys.readouterr().out
    assert out.startswith("note: no runs/cnn/model.keras yet (python train_cnn.py trains "
                          "it); showing the layers of the reader CNN shipped in "
                          "models/reader/model.keras")
    assert result["predicted"] == 7
    assert (tmp_path / "runs/layers/seven/index.html").is_file()


@pytest.mark.slow
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
    (["--image", "{tmp}/notes.png"], "notes.png is not an image this suite reads"),
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


@pytest.mark.slow
def test_dry_run_draws_every_figure_without_a_trained_model(tmp_path, capsys):
    result = run_script("visualize_layers", ["--dry-run", "--model", tmp_path / "absent.keras",
                                             "--data-dir", SAMPLE_DIR, "--digit", 5,
                                             "--out-dir", tmp_path / "out"])
    assert set(result["files"]) == expected_files(SEED_MAP_LAYERS, "conv1")
    assert all((tmp_path / "out" / name).stat().st_size > 0 for name in result["files"])
    # An answer of an untrained model says that it means nothing.
    assert "(an untrained CNN (--dry-run), so the answer means nothing)" in \
        capsys.readouterr().out


def test_own_photo_with_a_shadow_prints_and_draws_the_crop_read(small_model, tmp_path, capsys):
    from PIL import Image

    picture = tmp_path / "shadowed.png"
    grey = np.full((300, 400), 215, np.uint8)
    grey[:, :110] = 60                       # a hand's shadow down the left side
    Image.fromarray(grey).save(picture)
    draw_seven(tmp_path / "seven.png")
    seven = Image.open(tmp_path / "seven.png").resize((75, 100))
    photo = Image.open(picture)
    photo.paste(seven, (220, 120))           # the digit, off-centre, on the lit paper
    photo.save(picture)
    result = visualize(small_model, tmp_path / "out", "--image", picture)
    x0, y0, x1, y1 = result["crop"]
    assert 220 <= x0 < x1 <= 295 and 120 <= y0 < y1 <= 220   # the '7', not the shadow
    out = capsys.readouterr().out
    assert (f"shadowed.png: the digit read is the crop x {x0}-{x1}, y {y0}-{y1} of its "
            "400x300 pixels; crop.png shows it") in out
    assert "crop.png" in result["files"] and (tmp_path / "out" / "crop.png").stat().st_size
    assert 'src="crop.png"' in (tmp_path / "out" / "index.html").read_text()
    assert "could be digits" not in out                      # one digit, no note


def test_a_picture_of_several_digits_says_which_it_took(small_model, tmp_path, capsys):
    from PIL import Image

    draw_seven(tmp_path / "seven.png")
    seven = Image.open(tmp_path / "seven.png").convert("L").resize((60, 80))
    page = Image.new("L", (400, 200), 255)
    for x in (40, 170, 300):
        page.paste(seven, (x, 60))
    page.save(tmp_path / "777.png")
    visualize(small_model, tmp_path / "out", "--image", tmp_path / "777.png")
    out = capsys.readouterr().out
    assert "note: 3 characters in it could be digits" in out and "read_digits.py" in out


def test_a_picture_with_no_digit_is_one_error_line_and_keeps_the_folder(
        small_model, tmp_path, capsys):
    from PIL import Image, ImageDraw

    dot = Image.new("L", (140, 140), 255)
    ImageDraw.Draw(dot).ellipse([60, 60, 70, 70], fill=0)
    dot.save(tmp_path / "dot.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.png").write_bytes(b"kept")
    err = fails_with_one_line(capsys, "visualize_layers", [
        "--model", small_model, "--image", tmp_path / "dot.png", "--out-dir", out])
    assert err.startswith(f"error: {tmp_path / 'dot.png'}: no digit found: only specks or a dot")
    assert [p.name for p in out.iterdir()] == ["earlier.png"]


def test_a_hostile_folder_of_the_same_name_is_left_alone_and_not_read_at_length(tmp_path):
    """runs/layers/<name>/ from a folder someone sent: a report.json that is
    huge, not JSON, a link to a pipe that would block a read, or names this
    very picture but is a folder. Each is someone else's run: the picture's
    run goes beside it, and nothing there is read whole or written."""
    import os

    from visualize_layers import own_folder

    sha = "ab" * 32
    huge, broken, pipe, folder = (tmp_path / name for name in ("huge", "broken", "pipe", "dir"))
    for path in (huge, broken, pipe, folder):
        path.mkdir()
    with open(huge / "report.json", "wb") as f:   # sparse: large, not slow to make
        f.truncate(64 * 2**20)
    (broken / "report.json").write_text('{"image_sha256": ')
    os.mkfifo(tmp_path / "fifo")
    (pipe / "report.json").symlink_to(tmp_path / "fifo")
    (folder / "report.json").mkdir()
    for path in (huge, broken, pipe, folder):
        assert own_folder(path.name, sha, root=tmp_path) == tmp_path / f"{path.name}-2"
    assert (huge / "report.json").stat().st_size == 64 * 2**20    # left as it was
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "report.json").write_text(json.dumps({"image_sha256": sha}))
    assert own_folder("mine", sha, root=tmp_path) == tmp_path / "mine"
