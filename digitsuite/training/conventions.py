"""Ways of writing a digit that MNIST's writers hardly used, drawn onto its digits.

MNIST was written by American Census employees and students: a 1 is a bare
stroke, a 7 has no bar. Much of the world writes a 1 with a flag (an
upstroke from the left to its top, sometimes a foot at the base) and
crosses its 7s. A model that never saw them reads a flagged 1 as a 7, a
4 or a 9, and a crossed 7 as a 4. The reader model sees some of MNIST's
own 1s and 7s with those strokes added, each added stroke as wide as the
digit's pen, and the result refitted to the 20x20 box as a page's glyph
is (:func:`digitsuite.data.images.mnist_style`).

    x, y = with_conventions((x, y), share=0.35, seed=0)
"""

import numpy as np

from digitsuite.data import images as imaging
from digitsuite.errors import ImageError
from digitsuite.training.nondigits import draw_polyline

INK = 0.5           # of full ink: where a digit's strokes are
FLAG_LENGTH = (0.2, 0.4)     # of the digit's height
FLAG_ANGLE = (25, 55)        # degrees between the flag and the stem below it
FLAG_DROP = 35               # degrees below the horizontal at least: a 7's bar is flatter
FOOT_SHARE = 0.3             # of the flagged 1s that also get a foot
FOOT_HALF = (0.12, 0.25)     # of the height, each side of the stem
BAR_HEIGHT = (0.45, 0.62)    # where a 7's bar crosses its stem, down from its top
BAR_HALF = (0.14, 0.26)      # of the height, each side of the stem
BAR_TILT = 8                 # degrees either way
UPSCALE = 3                  # strokes are drawn on a 84x84 copy: smooth at 28x28


def _ink_extent(digit):
    """(ink rows, ink columns, top row, bottom row, height) of a digit, or
    None when it has too little ink to measure."""
    rows, cols = np.nonzero(digit > INK)
    if rows.size < 8:
        return None
    top, bottom = rows.min(), rows.max()
    return rows, cols, top, bottom, bottom - top + 1


def _pen(digit, rng):
    """A pen for the added stroke on the upscaled canvas: the digit's own
    width (never under MNIST's thinnest, 1.5 pixels), give or take."""
    return max(1.5, imaging.stroke_width(digit)) * UPSCALE * rng.uniform(0.8, 1.1)


def _upscaled(digit):
    return np.kron(digit, np.ones((UPSCALE, UPSCALE), np.float32))


def flagged_one(digit, rng):
    """A 1 (float (28, 28), ink 1) with a flag from the left to its top and,
    for some, a foot. None when the digit has too little ink to find its top."""
    extent = _ink_extent(digit)
    if extent is None:
        return None
    rows, cols, top, bottom, height = extent
    x_top = cols[rows <= top + 1].mean()
    x_bottom = cols[rows >= bottom - 1].mean()
    canvas = _upscaled(digit)
    pen = _pen(digit, rng)
    s = UPSCALE
    length = height * rng.uniform(*FLAG_LENGTH) * s
    # The flag leaves the top to the left at an angle to the stem, so a
    # slanted 1 gets a slanted flag rather than one along its own stroke.
    down = np.array([x_bottom - x_top, bottom - top], np.float64)
    down /= np.hypot(*down)
    angle = np.radians(rng.uniform(*FLAG_ANGLE))
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    direction = turn @ down
    least = np.radians(FLAG_DROP)
    if np.arctan2(direction[1], -direction[0]) < least:
        direction = np.array([-np.cos(least), np.sin(least)])
    start = ((x_top + 0.5) * s, (top + 0.5) * s)
    end = (start[0] + length * direction[0], start[1] + length * direction[1])
    draw_polyline(canvas, [end, start], pen)
    if rng.random() < FOOT_SHARE:
        half = height * rng.uniform(*FOOT_HALF) * s
        y = (bottom + 0.5) * s
        x = (x_bottom + 0.5) * s
        draw_polyline(canvas, [(x - half, y), (x + half, y)], pen)
    return canvas


def crossed_seven(digit, rng):
    """A 7 (float (28, 28), ink 1) with a short bar across its stem. None
    when no stem crosses the height where the bar goes."""
    extent = _ink_extent(digit)
    if extent is None:
        return None
    _, _, top, _, height = extent
    row = int(round(top + height * rng.uniform(*BAR_HEIGHT)))
    stem = np.flatnonzero(digit[row] > INK)
    if not stem.size or np.ptp(stem) + 1 > 0.35 * height:  # not one stroke there
        return None
    canvas = _upscaled(digit)
    s = UPSCALE
    pen = _pen(digit, rng)
    half = height * rng.uniform(*BAR_HALF) * s
    rise = half * np.tan(np.radians(rng.uniform(-BAR_TILT, BAR_TILT)))
    x, y = (stem.mean() + 0.5) * s, (row + 0.5) * s
    draw_polyline(canvas, [(x - half, y + rise), (x + half, y - rise)], pen)
    return canvas


DRAWERS = {1: flagged_one, 7: crossed_seven}


def with_conventions(train, share, seed):
    """``train`` (uint8 images (n, 28, 28), int labels) with ``share`` of its
    1s and of its 7s redrawn the other way (:data:`DRAWERS`), in place of the
    originals: the same count and labels, a new image array."""
    x, y = train
    x = x.copy()
    rng = np.random.default_rng(seed)
    for label, draw in DRAWERS.items():
        chosen = np.flatnonzero(y == label)
        chosen = chosen[rng.random(chosen.size) < share]
        for i in chosen:
            canvas = draw(x[i].astype(np.float32) / 255, rng)
            if canvas is None:
                continue
            try:
                x[i] = np.round(imaging.mnist_style(canvas, thin_strokes=False) * 255)
            except ImageError:
                continue
    return x, y
