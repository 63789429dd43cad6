"""Finding characters on a page (digitsuite.reading.segment) and the page clean-up
before it (digitsuite.data.images.even_out_lighting / reduce_noise), on synthetic
images with known boxes."""

import numpy as np
import pytest
from scipy import ndimage

from digitsuite.data import images
from digitsuite.reading import reader, segment


def ring(mask, box, stroke=4):
    """Draw a hollow rectangle ('0'-like character) with the given outer box
    (x0, y0, x1, y1, ends exclusive) into a bool mask."""
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    mask[y0 + stroke:y1 - stroke, x0 + stroke:x1 - stroke] = False


def bar(mask, box):
    """Fill a box (a '1', a flag, a speck)."""
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True


def boxes(lines):
    return [[g.box for g in line] for line in lines]


# --------------------------------------------------------------------------
# Characters, lines and reading order


def test_lines_top_to_bottom_and_left_to_right():
    mask = np.zeros((200, 300), bool)
    expected = [[(20, 20, 50, 60), (70, 22, 85, 62), (110, 18, 140, 60)],
                [(30, 110, 60, 150), (90, 112, 120, 152)],
                [(20, 170, 50, 198)]]
    for line in expected:
        for box in line:
            (bar if box[2] - box[0] < 20 else ring)(mask, box)
    assert boxes(segment.find_lines(mask)) == expected


def test_a_line_may_drift_down_the_page():
    mask = np.zeros((140, 420), bool)
    expected = [(10 + 60 * k, 10 + 12 * k, 40 + 60 * k, 50 + 12 * k) for k in range(7)]
    for box in expected:
        ring(mask, box)
    # Its last character sits wholly below its first, yet it is one line.
    assert boxes(segment.find_lines(mask)) == [expected]


def test_broken_digit_is_merged_into_one_character():
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 35, 50, 80))           # the belly of a '5'...
    bar(mask, (24, 20, 52, 25))            # ...and its flag, 10 pixels above it
    ring(mask, (80, 22, 110, 80))          # the next digit
    assert boxes(segment.find_lines(mask)) == [[(20, 20, 52, 80), (80, 22, 110, 80)]]


def test_fragment_joins_its_digit_and_lone_marks_are_dropped():
    mask = np.zeros((100, 300), bool)
    ring(mask, (20, 20, 50, 80))
    bar(mask, (52, 66, 60, 80))            # a foot cut off the digit beside it
    ring(mask, (120, 20, 150, 80))
    bar(mask, (190, 66, 200, 80))          # a full stop, far from any digit
    assert boxes(segment.find_lines(mask)) == [[(20, 20, 60, 80), (120, 20, 150, 80)]]


def test_specks_are_dropped():
    mask = np.zeros((120, 200), bool)
    ring(mask, (30, 30, 60, 90))
    ring(mask, (90, 30, 120, 90))
    rng = np.random.default_rng(0)
    for y, x in rng.integers(0, 115, size=(40, 2)):
        if not mask[max(0, y - 3):y + 6, max(0, x - 3):x + 6].any():
            bar(mask, (x, y, x + 3, y + 3))
    assert boxes(segment.find_lines(mask)) == [[(30, 30, 60, 90), (90, 30, 120, 90)]]


def test_blank_mask_has_no_lines():
    assert segment.find_lines(np.zeros((50, 50), bool)) == []


def test_touching_digits_are_offered_cut_apart():
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 20, 55, 80))
    ring(mask, (60, 20, 95, 80))
    bar(mask, (55, 48, 60, 52))            # a thin bridge joins them
    (glyph,), = segment.find_lines(mask)
    assert glyph.box == (20, 20, 95, 80)   # one component, 1.25 times as wide as tall
    options = segment.split_options(glyph, segment.line_height([glyph]))
    assert options and [p.box for p in options[0]] == [(20, 20, 57, 80), (57, 20, 95, 80)]
    narrow = segment.Glyph((0, 0, 30, 60), np.ones((60, 30), bool))
    assert segment.split_options(narrow, 60) == []


def test_word_breaks_part_numbers():
    mask = np.zeros((80, 400), bool)
    for x0 in (10, 50, 200, 240):          # '00   00': a gap of 120 pixels, 2 heights
        ring(mask, (x0, 10, x0 + 30, 70))
    (line,) = segment.find_lines(mask)
    assert segment.word_breaks(line) == [False, False, True, False]


def test_faint_stroke_keeps_a_digit_whole():
    grey = np.full((150, 150), 0.9, np.float32)
    grey[40:65, 70:76] = 0.1               # dark top of a stroke...
    grey[65:75, 70:76] = 0.55              # ...a light stretch...
    grey[75:100, 70:76] = 0.1              # ...dark again
    ink = images.to_foreground(grey, ink_dark=True)
    mask = segment.ink_mask(grey, True, faint=ink > 0)
    assert ndimage.label(mask)[1] == 1
    assert ndimage.label(grey < images.otsu_threshold(grey))[1] == 2  # Otsu alone breaks it


# --------------------------------------------------------------------------
# Page clean-up and the model's inputs


def page_of_rings(dark_ink=True, light=0.0, noise=0.0, seed=0):
    """A grey page with two lines of '0'-like rings; returns (page, boxes)."""
    mask = np.zeros((160, 260), bool)
    expected = [[(20, 20, 55, 70), (80, 20, 115, 70), (140, 22, 175, 70)],
                [(30, 100, 65, 150), (90, 100, 125, 150)]]
    for line in expected:
        for box in line:
            ring(mask, box, stroke=5)
    x = np.linspace(0, 1, mask.shape[1])[None, :]
    paper, ink = (0.85, 0.15) if dark_ink else (0.15, 0.85)
    page = np.where(mask, ink, paper) * (1 - light * x)
    page += np.random.default_rng(seed).normal(0, noise, mask.shape)
    return np.clip(page, 0, 1).astype(np.float32), expected


def test_even_out_lighting_flattens_the_paper():
    page, _ = page_of_rings(light=0.6)     # paper from 0.85 on the left to 0.34 right
    flat = images.even_out_lighting(page)
    assert flat.shape == page.shape and flat.dtype == np.float32
    paper = flat[5:15, :]
    assert np.ptp(paper) < 0.05 and np.ptp(page[5:15, :]) > 0.4


def test_heavy_noise_is_smoothed_and_light_noise_kept():
    rng = np.random.default_rng(0)
    noisy = np.clip(0.8 + rng.normal(0, 0.1, (200, 200)), 0, 1).astype(np.float32)
    assert images.noise_level(noisy) == pytest.approx(0.1, abs=0.02)
    assert images.reduce_noise(noisy).std() < 0.05
    clean = np.clip(0.8 + rng.normal(0, 0.02, (200, 200)), 0, 1).astype(np.float32)
    np.testing.assert_array_equal(images.reduce_noise(clean), clean)


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
