"""The one digit of a picture (digitsuite.reading.single): found beside a
hand's shadow and the paper's edge, its box in the picture's pixels, and
"no digit found" for a blank or near-blank picture, a dot, a dash, a
scribble, a shadow alone; the model's doubt judged in one place."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.onedigit_bench import shadowed_photo
from digitsuite.reading import single
from digitsuite.reading.reader import classify


def pad(draw=None, size=140):
    """A white drawing-pad picture (0-1) with ``draw(ImageDraw)`` in black."""
    picture = Image.new("L", (size, size), 255)
    if draw is not None:
        draw(ImageDraw.Draw(picture))
    return np.asarray(picture, np.float32) / 255.0


def seven(d):
    d.line([(35, 31), (105, 31), (59, 115)], fill=0, width=10, joint="curve")


def test_the_digit_is_found_beside_a_dark_shadow_and_the_paper_edge(sample_test_set):
    x_test, _ = sample_test_set
    rng = np.random.default_rng(5)
    for k in range(3):
        pixels, box = shadowed_photo(x_test[k], rng, size=(600, 450))
        grey = pixels.astype(np.float32) / 255.0
        found = single.find_digit(grey)
        x0, y0, x1, y1 = found.box
        # The box is the digit's (a few pixels of perspective aside), not the shadow's.
        assert abs(x0 - box[0]) < 15 and abs(x1 - box[2]) < 15, (k, found.box, box)
        assert abs(y0 - box[1]) < 15 and abs(y1 - box[3]) < 15, (k, found.box, box)
        assert found.digit.shape == (28, 28) and found.digit.max() == 1.0


def test_a_black_shadow_over_half_the_picture_is_not_the_digit():
    picture = pad(seven, size=200)
    picture[:, :60] *= 0.25          # a hard, dark shadow down the left side
    picture[:12] = 0.1               # and the table beyond the paper's top edge
    found = single.find_digit(picture)
    assert found.box[0] >= 30 and found.box[1] >= 25 and found.box[3] <= 125


@pytest.mark.parametrize("name, draw, reason", [
    ("blank", None, "the picture is blank"),
    ("dot", lambda d: d.ellipse([60, 60, 70, 70], fill=0), "only specks or a dot"),
    ("dash", lambda d: d.line([(40, 70), (100, 72)], fill=0, width=10), "only a dash"),
    ("short dash", lambda d: d.line([(60, 70), (78, 71)], fill=0, width=10),
     "only a dot, a short dash or a blob"),
    ("scribble", lambda d: d.line([tuple(p) for p in np.random.default_rng(2).uniform(
        15, 125, (15, 2))], fill=0, width=10), "only a scribble"),
])
def test_no_digit_with_its_reason(name, draw, reason):
    with pytest.raises(single.NoDigit) as raised:
        single.find_digit(pad(draw))
    message = str(raised.value)
    assert message.startswith(f"no digit found: {reason}"), message
    assert "\n" not in message and "; " in message  # one line: why, then what to do


def test_specks_noise_and_a_shadow_alone_are_no_digit():
    rng = np.random.default_rng(3)
    specks = np.where(rng.random((140, 140)) < 0.003, 0.0, 1.0).astype(np.float32)
    noise = np.clip(0.8 + 0.05 * rng.standard_normal((300, 300)), 0, 1).astype(np.float32)
    shadow = np.where(np.mgrid[0:300, 0:400][1] < 150, 0.4, 0.85).astype(np.float32)
    for picture in (specks, noise, shadow):
        with pytest.raises(single.NoDigit):
            single.find_digit(picture)


def test_digits_drawn_on_the_pad_are_found_with_their_box():
    for draw, box in [(seven, (35, 27, 110, 118)),
                      (lambda d: d.line([(70, 25), (70, 115)], fill=0, width=10),
                       (66, 25, 76, 116)),
                      (lambda d: (d.ellipse([45, 20, 95, 65], outline=0, width=10),
                                  d.ellipse([40, 62, 100, 118], outline=0, width=10)),
                       (40, 20, 101, 119))]:
        found = single.find_digit(pad(draw))
        np.testing.assert_allclose(found.box, box, atol=2)


def test_is_digit_judges_the_top_probability_and_the_margin():
    sure = np.eye(10)[7] * 0.97 + 0.003
    assert single.is_digit(sure) == ""
    assert "sees no digit" in single.is_digit(np.full(10, 0.1))
    close = np.zeros(10)
    close[[3, 8]] = 0.55, 0.45
    assert single.is_digit(close) == "the reader model cannot tell 3 from 8 (55% against 45%)"


def test_read_digit_says_no_digit_when_the_model_reads_none(reader_model):
    from digitsuite.inference.modelio import load_keras_model

    model = load_keras_model(reader_model)
    found, probs = single.read_digit(model, pad(seven))
    assert int(np.argmax(probs)) == 7
    np.testing.assert_allclose(probs, classify(model, found.digit[None])[0])
    # A digit the shape rules let through, which the model doubts: no digit. (A model
    # answers in float32, where 0.6 - 0.4 is just over the 0.2 margin.)
    import keras

    inputs = keras.Input((28, 28, 1))
    doubtful = keras.Model(inputs, keras.layers.Lambda(lambda x: keras.ops.tile(
        keras.ops.convert_to_tensor([[0.0] * 8 + [0.59, 0.41]]), [keras.ops.shape(x)[0], 1]))(
        inputs))

    with pytest.raises(single.NoDigit, match="no digit found: the reader model cannot tell"):
        single.read_digit(doubtful, pad(seven))


def tight_crop(image):
    """An MNIST digit (0-255, light on black) as dark ink on white, cropped
    to its ink's box with no paper left round it, as datasets of single
    digits and crops from forms come."""
    rows, cols = np.nonzero(image > 30)
    crop = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return 1.0 - crop.astype(np.float32) / 255.0


def test_a_picture_cropped_tight_round_its_digit_is_read(reader_model, sample_test_set):
    """A digit whose picture is its own box touches every side, as a
    shadow's edge or the table beyond the paper does. Once enlarged to be
    read and looked at again with paper round it, it is found, its box the
    whole picture's height, and read."""
    from digitsuite.data import images
    from digitsuite.inference.modelio import load_keras_model

    model = load_keras_model(reader_model)
    x_test, y_test = sample_test_set
    read = []
    for image in x_test[:12]:
        crop = tight_crop(image)
        grey = images.enlarged_to(crop, images.MIN_READ_SIDE)
        found, probs = single.read_digit(model, grey)
        # (Its faintest rows of soft edge may fall under the threshold.)
        assert found.box[3] - found.box[1] >= 0.9 * grey.shape[0], found.box
        read.append(int(np.argmax(probs)))
    assert np.mean(np.array(read) == y_test[:12]) >= 0.8
    # A shadow's edge alone along the border is still no digit.
    shadow = np.where(np.mgrid[0:80, 0:80][1] < 20, 0.2, 0.9).astype(np.float32)
    with pytest.raises(single.NoDigit):
        single.find_digit(shadow)


@pytest.mark.parametrize("dark_ink", [True, False])
def test_a_shadow_over_most_of_the_picture_does_not_turn_the_ink(tmp_path, dark_ink):
    from tests.support import draw_seven

    picture = np.asarray(Image.open(draw_seven(tmp_path / "7.png", dark_ink=dark_ink)),
                         np.float32) / 255.0
    if dark_ink:
        picture[:, :120] *= 0.45   # 80 % of the picture in shadow: the paper's minority lit
    found = single.find_digit(picture)
    assert found.ink_dark == dark_ink
    np.testing.assert_allclose(found.box, [37, 34, 119, 163], atol=3)
