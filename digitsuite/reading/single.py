"""Find the one digit in a photo, scan or drawing, or say there is none.

``visualize_layers.py --image`` and the app's one-digit upload and drawing
pad prepare their picture here, with the page reader's own steps, so a
phone photo of one digit is read as well as a page of them::

    found = find_digit(grey)            # Found: .digit (28, 28), .box, or NoDigit
    found, probs = read_digit(model, grey)   # and the reader model's doubt (is_digit)

Sensor noise is smoothed as on a page
(:func:`digitsuite.reading.reader.prepare_page`); shadows and uneven
lighting are lifted (:func:`lift_shadows`: a hand's shadow, the table
beyond the paper's edge, a lamp to one side), which also decides the ink's
polarity; then, as on a page, the ink is thresholded, ruled lines and
print removed, and the characters found
(:func:`digitsuite.reading.segment.find_lines`), leaving out ink along the
picture's border. Of those
characters the most plausible digit is taken (:func:`plausible`,
:func:`choose`): not a dot, a dash, a scribble or a strip along the
picture's border; of a digit's size; the largest, near the centre. The
whole picture cropped to its ink, as before, took a hand's shadow for the
digit. A picture cropped tight round its digit, which touches the border
as a shadow's edge does, is looked at once more with paper round it.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitsuite.data import images
from digitsuite.errors import ImageError, NoDigit
from digitsuite.reading import printed, reader, segment

# Shadows: dark areas wider than this share of the picture's shorter side
# are lighting, not ink (a pen's stroke is far thinner).
SHADOW_SIZE = 0.25
SHADOW_WORK_SIDE = 400   # the shadow is found on a copy this large (it is smooth and wide)
SHADOW_FLOOR = 0.1       # the darkest background a shadow is lifted from (0-1)
# What a digit looks like, as shares of its own box or the picture's side.
MIN_SIZE = 0.08          # its longer side is at least this x the picture's shorter side
BORDER_CONTACT = 0.25    # ink along this share of a side of the picture is its edge...
BORDER_BAND = 0.01       # ...within this x the shorter side of the border...
TIGHT_CROP = 0.8         # ...unless the glyph fills this share of it both ways (a crop)
CENTRE_WEIGHT = 0.5      # a glyph in a corner scores this much less than one in the middle
# A picture whose only digit-sized ink lies along its border may be cropped
# tight round its digit (a dataset's digit image, a cell cut from a form):
# it is looked at again with this much paper (x its longer side) round it.
TIGHT_PAD = 0.25
TIGHT_FILL = 0.7     # ...and taken if it spans this share of the picture both ways
FRAME_BORDER = 0.5   # ...and under this share of the picture's rim is ink (not a frame)
EDGE_REASON = "only a shadow or the paper's edge along the picture's border"
# The model's say, until the reader's confidence is calibrated: the one
# place these numbers live (:func:`is_digit`).
MIN_TOP = 0.5            # top probability under this: not a digit the model knows
MIN_MARGIN = 0.2         # top-2 margin under this: two digits as likely, none read


@dataclass
class Found:
    """The digit chosen in a picture."""

    digit: np.ndarray   # float32 (28, 28) in 0-1, MNIST-style
    box: list           # [x0, y0, x1, y1] in the picture's pixels, ends exclusive
    ink_dark: bool      # dark ink on light paper
    candidates: int     # characters that looked like a digit


def remove_shadows(grey, ink_dark):
    """A grey picture (0-1) with its shadows lifted: each pixel divided by
    the paper's own brightness around it.

    That brightness is a morphological closing of the picture (turned over
    for light ink) with a square SHADOW_SIZE x the shorter side: strokes,
    far thinner, vanish from it, while a shadow's or the table's sharp edge
    stays where it is (a closing keeps steps), so the edge leaves no stroke
    of its own. Unlike a page's (:func:`digitsuite.data.images.paper_level`)
    it is neither smoothed first nor opened after: a digit's picture is
    mostly paper, and a shadow as dark as a quarter of the light must come
    off whole. It is computed on a copy shrunk to SHADOW_WORK_SIDE, which
    bounds its cost on a large photo.
    """
    grey = np.asarray(grey, np.float32)
    paper = grey if ink_dark else 1.0 - grey
    small, _ = images.shrunk_copy(paper, SHADOW_WORK_SIDE)
    size = max(3, int(round(SHADOW_SIZE * min(small.shape))))
    # A closing of the paper's brightness: dark strokes narrower than size go.
    background = ndimage.minimum_filter(ndimage.maximum_filter(small, size), size)
    # Smooth the small copy's blocks before it is enlarged; it stays under the paper.
    background = images.enlarged(ndimage.uniform_filter(background, 3), paper.shape)
    level = np.percentile(background, 90)  # the picture's own paper, unshadowed
    lifted = np.clip(paper / np.maximum(background, SHADOW_FLOOR) * level, 0.0, 1.0)
    return (lifted if ink_dark else 1.0 - lifted).astype(np.float32)


def lift_shadows(grey):
    """(ink_dark, the picture with its shadows lifted): :func:`remove_shadows`
    under both polarities, keeping the one whose ink then stands out most
    (its 99.5th percentile over its median). Under the wrong one the
    strokes sink into the background estimate; deciding by the share of
    dark pixels, as a page does, takes a shadow over half the picture for
    the ink's background."""
    def contrast(lifted, dark):
        level = 1.0 - lifted if dark else lifted
        return float(np.percentile(level, 99.5) - np.median(level))

    lifted = {dark: remove_shadows(grey, dark) for dark in (True, False)}
    ink_dark = contrast(lifted[True], True) >= contrast(lifted[False], False)
    return ink_dark, lifted[ink_dark]


def border_contact(glyph, shape):
    """The shares of each side of a picture of ``shape`` (h, w) that the
    glyph's ink lies along, within BORDER_BAND of it: [top, bottom, left,
    right]. (The paper's edge often runs a pixel or two inside the picture.)"""
    height, width = shape
    band = max(2, round(BORDER_BAND * min(height, width)))
    x0, y0, x1, y1 = glyph.box
    top, bottom = glyph.mask[:max(0, band - y0)], glyph.mask[max(0, height - band - y0):]
    left, right = glyph.mask[:, :max(0, band - x0)], glyph.mask[:, max(0, width - band - x0):]
    return [top.any(axis=0).sum() / width, bottom.any(axis=0).sum() / width,
            left.any(axis=1).sum() / height, right.any(axis=1).sum() / height]


def along_border(glyph, shape):
    """True for ink lying along a side of the picture (BORDER_CONTACT of
    it) or reaching across it from one side to the other: a shadow's edge
    or the table beyond the paper. A glyph that fills the picture both ways
    is a picture cropped tight to its digit (a '7' may lie along its top)
    unless it lies along two sides (a frame of table round the paper)."""
    height, width = shape
    along = sum(share >= BORDER_CONTACT for share in border_contact(glyph, shape))
    if glyph.width >= TIGHT_CROP * width and glyph.height >= TIGHT_CROP * height:
        return along >= 2
    return along >= 1 or glyph.height == height or glyph.width == width


def drop_border_ink(mask):
    """``mask`` without its :func:`along_border` components (before the
    characters are found: a strip as tall as the picture would set the
    line's height and make the digit beside it a fragment); also returns them."""
    edges = [g for g in segment.components(mask) if along_border(g, mask.shape)]
    if not edges:
        return mask, edges
    mask = mask.copy()
    for glyph in edges:
        x0, y0, x1, y1 = glyph.box
        mask[y0:y1, x0:x1] &= ~glyph.mask
    return mask, edges


def plausible(glyph, shape):
    """Why ``glyph`` is not a digit in a picture of ``shape`` (h, w), in a
    few words, or "" when it may be one."""
    height, width = shape
    long_side = max(glyph.width, glyph.height)
    if long_side < MIN_SIZE * min(height, width):
        return "only specks or a dot, too small for a digit"
    if along_border(glyph, shape):
        return EDGE_REASON
    if glyph.width >= reader.DASH_SHAPE * glyph.height:
        return "only a dash or a line"
    if segment.blob(glyph):
        return "only a dot, a short dash or a blob"
    if segment.holes(glyph.mask) > segment.MAX_HOLES:
        return "only a scribble"
    return ""


def score(glyph, shape):
    """How likely ``glyph`` is the digit: its size, less for a glyph far
    from the picture's centre (a stray mark at the side)."""
    height, width = shape
    cx, cy = (glyph.box[0] + glyph.box[2]) / 2, (glyph.box[1] + glyph.box[3]) / 2
    off = math.hypot(cx / width - 0.5, cy / height - 0.5) / math.hypot(0.5, 0.5)
    return max(glyph.width, glyph.height) * (1.0 - CENTRE_WEIGHT * off)


def choose(glyphs, shape):
    """(the most plausible digit of ``glyphs`` or None, the reason of the
    most promising one turned down, its glyph, how many were plausible)."""
    ranked = sorted(glyphs, key=lambda g: score(g, shape), reverse=True)
    verdicts = [(g, plausible(g, shape)) for g in ranked]
    fine = [g for g, why in verdicts if not why]
    if fine:
        return fine[0], "", None, len(fine)
    glyph, why = verdicts[0] if verdicts else (None, "")
    return None, why, glyph, 0


def find_digit(grey):
    """The one digit of a grey picture (0-1): a :class:`Found` with its
    MNIST-style input and its box in ``grey``'s pixels. Raises
    :class:`NoDigit` (one line: why, and what to do) when the picture is
    blank or shows only specks, a dot, a dash, a scribble or a shadow.

    Where the only ink of a digit's size lies along the border, the
    picture may be cropped tight round its digit: it is looked at once more
    with paper round it (TIGHT_PAD), and that digit, if it is one, is
    taken. A shadow or a table's edge, framed so, is a block or a line
    (:func:`plausible`) and still no digit."""
    # The page reader's preparation (reader.prepare_page), up to its
    # characters, but the lighting is evened out by lifting the shadows:
    # its quadratic fit, on a picture that is a third ink, darkens the
    # paper round the digit until the polarity turns, and bends a shadow's
    # sharp edge into a slope.
    ink_dark, flat = lift_shadows(images.reduce_noise(grey))
    try:
        return _find_digit(flat, ink_dark)
    except NoDigit as exc:
        if not exc.reason.startswith(EDGE_REASON):
            raise
        edge_only = exc
    paper = float(np.percentile(grey, 90 if ink_dark else 10))
    pad = max(2, round(TIGHT_PAD * max(grey.shape)))
    padded_dark, padded = lift_shadows(images.reduce_noise(np.pad(grey, pad,
                                                                  constant_values=paper)))
    try:
        found = _find_digit(padded, padded_dark)
    except NoDigit:
        raise edge_only from None
    height, width = grey.shape
    x0, y0, x1, y1 = found.box
    box = [max(0, x0 - pad), max(0, y0 - pad), min(width, x1 - pad), min(height, y1 - pad)]
    # Tight round it: the digit spans the picture both ways. A table's
    # frame round the paper does too, but lies along most of the border.
    spans = box[2] - box[0] >= TIGHT_FILL * width and box[3] - box[1] >= TIGHT_FILL * height
    if not spans or found.ink_dark != ink_dark or border_ink(grey, ink_dark) >= FRAME_BORDER:
        raise edge_only
    return Found(found.digit, box, found.ink_dark, found.candidates)


def border_ink(grey, ink_dark):
    """The share of a grey picture's outermost pixels (0-1) that are ink,
    by Otsu's threshold."""
    level = 1.0 - grey if ink_dark else grey
    ink = level > images.otsu_threshold(level)
    rim = np.concatenate([ink[0], ink[-1], ink[1:-1, 0], ink[1:-1, -1]])
    return float(rim.mean())


def _find_digit(flat, ink_dark):
    """:func:`find_digit` on a picture with its shadows lifted (``flat``,
    :func:`lift_shadows`), as it is."""
    try:
        ink = images.to_foreground(flat, ink_dark)
    except ImageError as exc:
        raise NoDigit("the picture is blank or its ink barely differs from the paper; "
                      "if it has a digit on it, use a sharper, evenly lit picture") from exc
    mask = segment.ink_mask(flat, ink_dark, faint=ink > 0)
    mask, rules, _ = printed.remove_rules(mask)
    mask, edges = drop_border_ink(mask)
    found = [glyph for line in segment.find_lines(mask) for glyph in line]
    glyphs = [glyph for glyph in found if not glyph.mark]
    glyph, why, closest, count = choose(glyphs, mask.shape)
    if glyph is None:
        if not glyphs:
            why = ("only a dot or a dash" if found else
                   EDGE_REASON if edges
                   else "only specks of ink stand out from the paper")
            closest = max(edges, key=lambda g: g.mask.sum()) if edges and not found else None
        raise NoDigit(f"{why}; write one digit 0-9, large and dark, in the middle of the "
                      "picture", [closest.box] if closest is not None else ())
    try:
        digit = reader.glyph_input(flat, ink_dark, ink, mask, glyph, rules)
    except ImageError as exc:
        raise NoDigit(f"its ink is too faint to read ({exc}); use a darker picture",
                      [glyph.box]) from exc
    return Found(digit, [int(v) for v in glyph.box], ink_dark, count)


def is_digit(probs):
    """Whether the model's class probabilities (10,) read a digit: "" if
    so, else why not, in a few words. The one place the model's doubt
    decides "no digit" for a single glyph; ``probs`` are the reader's
    models' average (both of them, for the shipped reader)."""
    p = np.asarray(probs, np.float64)
    first, second = np.sort(p)[::-1][:2]
    if first < MIN_TOP:
        return f"the reader model sees no digit in it (at most {first:.0%} for any)"
    if first - second < MIN_MARGIN:
        best, runner = np.argsort(-p, kind="stable")[:2]
        return (f"the reader model cannot tell {best} from {runner} "
                f"({first:.0%} against {second:.0%})")
    return ""


def read_digit(model, grey):
    """:func:`find_digit`, then ``model`` (the reader) on its input:
    (Found, probabilities (10,)). Raises :class:`NoDigit` when the picture
    shows none or the model does not read a digit in it (:func:`is_digit`)."""
    found = find_digit(grey)
    probs = reader.classify(model, found.digit[None])[0]
    why = is_digit(probs)
    if why:
        raise NoDigit(f"{why}; write one digit 0-9, clearly, in the middle of the picture",
                      [found.box])
    return found, probs
