"""Light, grainy pencil and a light pen beside darker print
(digitsuite.data.images.smooth_faint_ink, digitsuite.reading.printed.ink_core):
a pencil's grain does not break its digits into specks, and a ballpoint
number between darker printed rules is read, not taken off as a pattern."""

import numpy as np
from scipy import ndimage

from digitsuite.data import images
from digitsuite.reading import reader, segment
from tests.support import page_of_rings, ring

RINGS = [(40, 40, 80, 95), (100, 40, 140, 95), (160, 40, 200, 95), (220, 40, 260, 95)]


def boxes(page):
    return [[ways.pieces[(0, ways.last)].box for ways in line] for line in page.lines]


def pencil_page(seed=0):
    """Four '0'-like rings in a light, grainy pencil (as the benchmark's
    pencil: ink 0.53 on paper 0.75, coverage lowered by up to 55 % per pixel
    of grain and 25 % of pressure) under sensor noise of 0.03."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((220, 400), bool)
    for box in RINGS:
        ring(mask, box, stroke=5)
    coverage = ndimage.gaussian_filter(mask.astype(np.float32), 0.7)
    pressure = ndimage.gaussian_filter(rng.random(mask.shape), 12)
    pressure = (pressure - pressure.min()) / np.ptp(pressure)
    grain = ndimage.gaussian_filter(rng.random(mask.shape), 0.6)
    grain = (grain - grain.min()) / np.ptp(grain)
    coverage *= (1 - 0.25 * pressure) * (1 - 0.55 * grain)
    page = 0.75 - 0.22 * coverage + rng.normal(0, 0.03, mask.shape)
    return np.clip(page, 0, 1).astype(np.float32)


def test_grainy_pencil_digits_are_found_whole():
    for seed in range(4):
        page = pencil_page(seed)
        flat = images.even_out_lighting(page)
        assert images.faint_ink(flat, True)
        found = reader.prepare_page(page)
        # One glyph per ring, each about the ring's box: no specks, no pieces.
        np.testing.assert_allclose(boxes(found), [RINGS], atol=3)


def test_dark_ink_is_not_smoothed():
    page, expected = page_of_rings(noise=0.03)
    flat = images.even_out_lighting(page)
    assert not images.faint_ink(flat, True)
    smoothed, contrast = images.smooth_faint_ink(flat, True)
    assert contrast == images.MIN_CONTRAST
    np.testing.assert_array_equal(smoothed, flat)
    for got, want in zip(boxes(reader.prepare_page(page)), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1)


def test_a_ballpoint_number_between_darker_printed_rules_is_kept():
    # A register cell's printed rules, thin and near black; the number in a
    # lighter ballpoint with wider strokes: the rules must not make the pen
    # look like a lighter printed pattern.
    page = np.full((120, 300), 0.9, np.float32)
    pen = np.zeros(page.shape, bool)
    ring(pen, (90, 30, 125, 85), stroke=5)
    ring(pen, (140, 30, 175, 85), stroke=5)
    page[pen] = 0.5
    page[:, 60:62] = page[:, 220:222] = 0.05
    page[100:102, :] = 0.05
    page += np.random.default_rng(0).normal(0, 0.01, page.shape).astype(np.float32)
    flat = images.even_out_lighting(page)
    mask = segment.ink_mask(flat, True, images.to_foreground(flat, True) > 0)
    assert mask[pen].mean() > 0.95
    found = sum(boxes(reader.prepare_page(page)), [])
    for box in [(90, 30, 125, 85), (140, 30, 175, 85)]:
        assert any(np.abs(np.subtract(box, b)).max() <= 2 for b in found), (box, found)
