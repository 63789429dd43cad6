"""The read pipeline (digitsuite.reading.reader): a page's characters in
either ink under uneven light, the model's MNIST-style inputs, and how a
reading is described."""

import numpy as np
import pytest
from scipy import ndimage

from digitsuite.data import images
from digitsuite.reading import reader, segment
from tests.support import draw_seven, page_of_rings


@pytest.mark.parametrize("dark_ink", [True, False])
def test_either_polarity_under_uneven_light_gives_the_same_characters(dark_ink):
    page, expected = page_of_rings(dark_ink=dark_ink, light=0.4, noise=0.02)
    found = reader.prepare_page(page)
    assert found.ink_dark is dark_ink
    got = [[options[0][0].box for options in line] for line in found.lines]
    assert [len(line) for line in got] == [len(line) for line in expected]
    # Noise may add a pixel of soft edge to a box.
    np.testing.assert_allclose(sum(got, []), sum(expected, []), atol=1)


def test_model_inputs_are_mnist_style():
    page, expected = page_of_rings(noise=0.02)
    dark = reader.prepare_page(page).crops
    light = reader.prepare_page(1 - page).crops
    assert dark.shape == (5, 28, 28) and dark.dtype == np.float32
    assert dark.min() == 0.0 and dark.max() == 1.0
    for crop in dark:
        np.testing.assert_allclose(ndimage.center_of_mass(crop), (14, 14), atol=0.5)
        rows, cols = np.nonzero(crop)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20   # fits 20x20, long side 20
    np.testing.assert_allclose(dark, light, atol=0.05)


def test_describe_marks_unsure_digits_and_spaces(tmp_path):
    mask = np.zeros((60, 300), bool)
    for x0 in (10, 50, 200):                                   # '00' then, far off, '0'
        mask[10:50, x0:x0 + 25] = True
        mask[15:45, x0 + 5:x0 + 20] = False
    lines = segment.find_lines(mask)
    probs = np.full((3, 10), 0.01)
    probs[0, 7], probs[1, 1], probs[1, 7], probs[2, 3] = 0.91, 0.5, 0.42, 0.91
    reading = reader.describe(lines, probs, ink_dark=True, min_confidence=0.8)
    assert reading["lines"] == ["7? 3"]
    assert reading["digits"][1]["top2"] == [[1, 0.5], [7, 0.42]]
    assert reading["digits"][1]["unsure"] and not reading["digits"][0]["unsure"]


def test_reader_prepares_digits_exactly_as_visualize_layers_does(tmp_path):
    """One preprocessing: a picture of one digit gives the model the same
    input through read_digits.py as through visualize_layers.py --image."""
    for dark_ink in (True, False):
        grey, digit = images.load_digit(draw_seven(tmp_path / "seven.png", dark_ink))
        np.testing.assert_array_equal(reader.prepare_page(grey).crops, digit[None])
