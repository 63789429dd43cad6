"""Characters that are not digits, prepared the way the reader prepares a glyph.

A page holds more than digits: dashes and dots in amounts, stray marks,
pieces of a printed background, a digit cut in the wrong place, two
digits that touch and were not split. The reader model learns to give these
an even spread over the ten classes (a uniform target, as in "outlier
exposure", Hendrycks et al. 2019), so a low top probability tells the
reader "not a digit" and a wrong cut of touching digits loses to the right
one. Commas are left out: enlarged to a digit's size, a comma is a slanted
stroke under a blob, too close to some people's 1; the segmentation knows
them by their size instead. Each example is drawn at page scale and passed through
:func:`digitsuite.data.images.mnist_style`, exactly as a glyph on a page is.

    images = make_nondigits(rng, 6000, x_train)   # uint8 (6000, 28, 28)
"""

import numpy as np
from scipy import ndimage

from digitsuite.data import images as imaging
from digitsuite.errors import ImageError

KINDS = ("dash", "dot", "pattern", "partial", "pair")
ONE_LIKE = 1.8    # a piece this many times taller than wide could be a 1: not used
NOT_A_DIGIT = -1  # the label of a non-digit: the training loop gives it a uniform target


def draw_polyline(canvas, points, width):
    """Add an anti-aliased stroke through ``points`` [(x, y), ...] of
    ``width`` pixels to ``canvas`` (float, 0-1, in place)."""
    h, w = canvas.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.full(canvas.shape, np.inf, np.float32)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
        dist = np.minimum(dist, np.hypot(xx - x0 - t * dx, yy - y0 - t * dy))
    np.maximum(canvas, np.clip(width / 2 - dist + 0.5, 0, 1), out=canvas)
    return canvas


def dash(rng):
    """A short stroke lying down: a dash, a minus, the end of an amount."""
    width = rng.uniform(2, 7)
    length = width * rng.uniform(2.5, 8)
    angle = np.radians(rng.uniform(-12, 12))
    canvas = np.zeros((int(length) + 20, int(length) + 20), np.float32)
    cx = cy = canvas.shape[0] / 2
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    bend = rng.uniform(-0.15, 0.15) * width
    return draw_polyline(canvas, [(cx - dx, cy - dy), (cx, cy + bend), (cx + dx, cy + dy)], width)


def dot(rng):
    """A full stop or a speck of ink: a small filled ellipse."""
    r = rng.uniform(2, 6)
    canvas = np.zeros((int(4 * r) + 8,) * 2, np.float32)
    c = canvas.shape[0] / 2
    yy, xx = np.mgrid[0:canvas.shape[0], 0:canvas.shape[1]]
    sx, sy = r * rng.uniform(0.7, 1.3), r * rng.uniform(0.7, 1.3)
    return np.clip(1.5 - np.hypot((xx - c) / sx, (yy - c) / sy) * 1.5, 0, 1).astype(np.float32)


def pattern(rng):
    """A piece of printed background: parallel lines, a grid of dots or
    waves, at a random angle and spacing."""
    size = int(rng.integers(24, 48))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    spacing = rng.uniform(3, 9)
    kind = rng.integers(3)
    if kind == 1:      # waves: hatching bent along its lines
        u = u + spacing * 0.6 * np.sin(v / rng.uniform(3, 10))
    if kind < 2:       # distance to the nearest line
        distance = spacing / 2 - np.abs((u % spacing) - spacing / 2)
    else:              # distance to the nearest dot's centre
        distance = np.hypot((u % spacing) - spacing / 2, (v % spacing) - spacing / 2)
    width = rng.uniform(0.6, 0.35 * spacing)
    return np.clip(width - distance + 0.5, 0, 1).astype(np.float32)


def partial(rng, digits):
    """The left or right quarter to half of a digit: a cut in the wrong
    place. None when the piece is a tall thin stroke, which is a 1."""
    digit = digits[rng.integers(len(digits))].astype(np.float32) / 255
    cols = np.flatnonzero(digit.max(axis=0) > 0.3)
    if cols.size < 4:
        return digit
    keep = int(round(cols.size * rng.uniform(0.25, 0.45)))
    out = np.zeros_like(digit)
    part = (slice(cols[0], cols[0] + keep) if rng.random() < 0.5
            else slice(cols[-1] + 1 - keep, cols[-1] + 1))
    out[:, part] = digit[:, part]
    rows, cols = np.nonzero(out > 0.3)
    if not rows.size or np.ptp(rows) + 1 > ONE_LIKE * (np.ptp(cols) + 1):
        return None
    return out


def pair(rng, digits):
    """Two digits side by side, touching or overlapping: one glyph that
    should have been split."""
    a, b = (digits[rng.integers(len(digits))].astype(np.float32) / 255 for _ in range(2))
    overlap = int(rng.integers(8, 14))   # MNIST digits sit in 20 of 28 columns
    canvas = np.zeros((28, 56 - overlap), np.float32)
    canvas[:, :28] = a
    np.maximum(canvas[:, 28 - overlap:], b, out=canvas[:, 28 - overlap:])
    return canvas


def make_nondigits(rng, count, digits):
    """``count`` non-digit inputs (uint8 (count, 28, 28), ink bright), about
    an equal share of each of :data:`KINDS`; ``digits`` (uint8 (n, 28, 28))
    give the pieces of the partial and paired kinds."""
    makers = {"dash": dash, "dot": dot, "pattern": pattern,
              "partial": lambda r: partial(r, digits), "pair": lambda r: pair(r, digits)}
    out = np.zeros((count, 28, 28), np.uint8)
    k = attempt = 0
    while k < count:
        # Kinds take turns by attempt, so a kind that fails (no piece of
        # these digits is anything but a 1) cannot hold up the others.
        ink = makers[KINDS[attempt % len(KINDS)]](rng)
        attempt += 1
        if ink is None:
            continue
        if rng.random() < 0.5:  # some soft, scanned edges
            ink = ndimage.gaussian_filter(ink, rng.uniform(0.3, 1.0))
        try:
            out[k] = np.round(imaging.mnist_style(ink) * 255)
        except ImageError:
            continue  # nothing left to draw; try another
        k += 1
    return out


def count_nondigits(labels):
    """How many of ``labels`` are :data:`NOT_A_DIGIT`: the drawn non-digits
    among training images, which are no images of the dataset."""
    return int(np.count_nonzero(np.asarray(labels) == NOT_A_DIGIT))


def with_nondigits(train, share, seed):
    """``train`` (uint8 images, int labels) with non-digits added, labelled
    :data:`NOT_A_DIGIT`: ``share`` of the result's images."""
    x, y = train
    count = int(round(len(x) * share / (1 - share)))
    extra = make_nondigits(np.random.default_rng(seed), count, x)
    return (np.concatenate([x, extra]),
            np.concatenate([y, np.full(count, NOT_A_DIGIT, y.dtype)]))
