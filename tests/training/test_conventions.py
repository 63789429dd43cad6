"""Flagged 1s and crossed 7s drawn onto training digits
(digitsuite.training.conventions)."""

import numpy as np

from digitsuite.training import conventions


def stroke_digit(segments, width=2.5):
    """A 28x28 uint8 digit (ink 255) drawn from line segments [(x0, y0, x1, y1)]."""
    canvas = np.zeros((28, 28), np.float32)
    for x0, y0, x1, y1 in segments:
        conventions.draw_polyline(canvas, [(x0, y0), (x1, y1)], width)
    return np.round(canvas * 255).astype(np.uint8)


ONE = stroke_digit([(14, 4, 14, 23)])
SEVEN = stroke_digit([(8, 4, 20, 4), (20, 4, 12, 23)])


def reach_left_at_top(image):
    """How far (pixels) the upper half's ink reaches left of the stem's foot."""
    rows, cols = np.nonzero(image > 127)
    middle = (rows.min() + rows.max()) / 2
    foot = cols[rows >= rows.max() - 2].mean()
    return foot - cols[rows <= middle].min()


def widest_run(image, row):
    ink = np.flatnonzero(image[row] > 127)
    return 0 if not ink.size else np.ptp(ink) + 1


def test_a_one_gets_a_flag_at_its_top_left_and_stays_a_fitted_digit():
    x, y = conventions.with_conventions((ONE[None].repeat(6, 0), np.ones(6, int)), 1.0, seed=0)
    assert (y == 1).all()
    for image in x:
        # The bare stroke's top is straight above its foot; a flag reaches left.
        assert reach_left_at_top(image) >= 3 > reach_left_at_top(ONE)
        rows, cols = np.nonzero(image > 127)
        assert np.ptp(cols) + 1 >= 5          # wider than the 3-pixel stroke it was
        assert not image[:, :2].any() and not image[:, -2:].any()   # inside the 20x20 box
        assert image.max() == 255


def test_a_seven_gets_a_bar_across_its_stem_below_the_middle_of_its_top():
    x, y = conventions.with_conventions((SEVEN[None].repeat(6, 0), np.full(6, 7)), 1.0, seed=0)
    assert (y == 7).all()
    for image in x:
        rows, _ = np.nonzero(image > 127)
        middle = range(rows.min() + (rows.max() - rows.min()) * 2 // 5,
                       rows.min() + (rows.max() - rows.min()) * 7 // 10)
        bare = max(widest_run(SEVEN, r) for r in range(11, 17))
        assert max(widest_run(image, r) for r in middle) >= bare + 3


def test_only_the_share_of_ones_and_sevens_asked_for_change_and_the_seed_repeats_it():
    labels = np.arange(200) % 10
    digits = np.where((labels == 7)[:, None, None], SEVEN, ONE).astype(np.uint8)
    x, y = conventions.with_conventions((digits, labels), 0.5, seed=3)
    changed = (x != digits).any(axis=(1, 2))
    np.testing.assert_array_equal(y, labels)
    assert not changed[(labels != 1) & (labels != 7)].any()
    for label in (1, 7):
        assert 5 <= changed[labels == label].sum() <= 15      # about half of 20
    again, _ = conventions.with_conventions((digits, labels), 0.5, seed=3)
    np.testing.assert_array_equal(x, again)
    none, _ = conventions.with_conventions((digits, labels), 0.0, seed=3)
    np.testing.assert_array_equal(none, digits)
