"""Take the printed matter of a form or cheque off a page's ink mask.

Handwriting on real documents shares the page with print: a background
pattern (the fine lines of a cheque's security print, a form's tint) and
guide lines (a rule to write on, boxes with one cell per digit). Both
would otherwise join the digits into one large component. Two steps::

    strong = ink_core(level, strong)       # drop a lighter printed pattern
    mask, rules = remove_rules(mask)        # drop ruled lines, box sides and comb ticks

A printed pattern is told from the pen by two things at once: it is
lighter than the handwriting and most of it lies away from any stroke
(a pen's own soft edges are lighter too, but they hug its strokes).
Guide lines are told by their length: a horizontal run of ink far longer
than a character is wide, or a vertical one that spans from one ruled line
to the next; a comb's ticks by standing on a rule, several of one length.
Strokes that cross a removed line are joined up again.
"""

import numpy as np
from scipy import ndimage

from digitsuite.data.images import otsu_threshold

PATTERN_GAP = 0.15     # the handwriting is at least this much darker (0-1) than a pattern...
PATTERN_AWAY = 0.5     # ...and more than this share of the lighter ink lies away from it
NEAR_STROKE = 2        # pixels: lighter ink this close to a dark stroke is the stroke's edge
RULE_LENGTH = 2.5      # a horizontal run this many character heights long is a ruled line
RULE_THICKNESS = 0.3   # x the character height: thicker runs are ink, not a printed line
BOX_SIDE = 0.8         # a vertical run between two rules, this x the height, is a box side
ELONGATED = 1.5        # components wider than this x their height do not set the height
COMB_TICKS = 3         # a comb has at least this many ticks of one length on one rule,
TICK_LENGTH = (0.1, 0.9)  # each this long (x the character height)...
TICK_WIDTH = 0.12      # ...and at most this wide


def ink_core(level, strong):
    """``strong`` (bool, the ink above Otsu's threshold of ``level``, 0-1
    ink strength) without a lighter printed pattern, if the page has one.

    The strong pixels are split again by Otsu's method. If the darker group
    is clearly darker (PATTERN_GAP) and most of the lighter group
    (PATTERN_AWAY) lies more than NEAR_STROKE pixels from it, the lighter
    group is print under the writing and only the darker group is ink.
    """
    values = level[strong]
    if values.size < 50:
        return strong
    split = otsu_threshold(values)
    dark = strong & (level > split)
    light = strong & ~dark
    if not dark.any() or not light.any():
        return strong
    if np.median(level[dark]) - np.median(level[light]) < PATTERN_GAP:
        return strong
    near = ndimage.binary_dilation(dark, iterations=NEAR_STROKE)
    away = np.count_nonzero(light & ~near) / np.count_nonzero(light)
    return dark if away > PATTERN_AWAY else strong


def character_height(mask):
    """A rough character height (pixels) of a page's ink mask, before its
    characters are known: the median height of the components that are not
    elongated (a ruled line, or digits joined by one, would mislead), else
    the longest vertical ink runs (their 95th percentile)."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    heights = []
    for rows, cols in ndimage.find_objects(labels):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if max(h, w) >= 6 and w <= ELONGATED * h:
            heights.append(h)
    if len(heights) >= 3:
        return float(np.median(heights))
    runs = _runs(mask.T)[2]
    return float(np.percentile(runs, 95)) if runs.size else 0.0


def _runs(mask):
    """The horizontal runs of True in a 2-D bool array: (rows, starts, lengths)."""
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return rows, starts, stops - starts


def runs_at_least(mask, length):
    """The horizontal runs of ``mask`` at least ``length`` long: what an
    opening by a 1 x ``length`` line keeps, in time linear in the pixels
    (the opening takes ``length`` times longer: seconds on a photo of one
    large digit, whose rule length is hundreds of pixels)."""
    rows, starts, lengths = _runs(mask)
    keep = lengths >= length
    kept = np.zeros(mask.shape, np.int8)
    np.add.at(kept, (rows[keep], starts[keep]), 1)
    stops = starts[keep] + lengths[keep]
    inside = stops < mask.shape[1]
    np.add.at(kept, (rows[keep][inside], stops[inside]), -1)
    return np.cumsum(kept, axis=1, dtype=np.int32) > 0


def horizontal_rules(mask, height):
    """Bool mask of the pixels of ruled lines: horizontal runs at least
    RULE_LENGTH x ``height`` long, in bands no thicker than RULE_THICKNESS
    x ``height``. A slightly tilted rule (a phone photo) still has long
    runs once each pixel is allowed one row of slack."""
    length = max(12, int(round(RULE_LENGTH * height)))
    slack = ndimage.binary_dilation(mask, structure=np.ones((3, 1)))
    long_runs = runs_at_least(slack, length) & mask
    if not long_runs.any():
        return long_runs
    # A thick band of long runs is a blot or a filled shape, not a printed rule.
    thickness = max(2, int(round(RULE_THICKNESS * height)))
    too_thick = ndimage.binary_opening(long_runs, structure=np.ones((thickness + 1, 1)))
    return long_runs & ~ndimage.binary_dilation(too_thick, structure=np.ones((3, 3)))


def box_sides(mask, rules, height):
    """Bool mask of the vertical sides of boxes: vertical runs of ``mask``
    at least BOX_SIDE x ``height`` long that start just under a ruled line
    and end just over one (``rules``, from :func:`horizontal_rules`)."""
    sides = np.zeros_like(mask)
    if not rules.any():
        return sides
    near_rule = ndimage.binary_dilation(rules, structure=np.ones((5, 1)))
    cols, starts, lengths = _runs(mask.T)
    stops = starts + lengths - 1
    side = (lengths >= BOX_SIDE * height) & near_rule[starts, cols] & near_rule[stops, cols]
    for col, start, stop in zip(cols[side], starts[side], stops[side]):
        sides[start:stop + 1, col] = True
    return sides


def comb_ticks(mask, rules, height):
    """Bool mask of a comb's ticks: the short printed strokes that rise from
    a ruled line between the cells of a form field. A tick is a thin
    vertical run standing on a rule (``rules``); a comb has at least
    COMB_TICKS of them of one length on one rule, which a digit's strokes
    that happen to reach the rule do not."""
    ticks = np.zeros_like(mask)
    if not rules.any():
        return ticks
    cols, starts, lengths = _runs(mask.T)
    stops = starts + lengths  # the row just under each run
    below = np.zeros(len(cols), bool)
    for drop in (0, 1):
        rows = np.minimum(stops + drop, mask.shape[0] - 1)
        below |= rules[rows, cols]
    short = below & (lengths >= TICK_LENGTH[0] * height)
    cols, starts, lengths = cols[short], starts[short], lengths[short]
    if cols.size < COMB_TICKS:
        return ticks
    # Neighbouring columns with runs ending on the same row are one tick.
    order = np.lexsort((cols, starts + lengths))
    cols, starts, lengths = cols[order], starts[order], lengths[order]
    new_tick = (np.diff(cols, prepend=-10) > 1) | (
        np.diff(starts + lengths, prepend=-10) != 0)
    tick_id = np.cumsum(new_tick) - 1
    widths = np.bincount(tick_id)
    tick_len = np.bincount(tick_id, weights=lengths) / widths
    tick_row = np.bincount(tick_id, weights=starts + lengths) / widths
    thin = widths <= max(3, TICK_WIDTH * height)
    tolerance = max(2.0, 0.05 * height)
    for t in np.flatnonzero(thin):
        same = thin & (np.abs(tick_len - tick_len[t]) <= tolerance) & (
            np.abs(tick_row - tick_row[t]) <= 2) & (tick_len <= TICK_LENGTH[1] * height)
        if same.sum() >= COMB_TICKS:
            for k in np.flatnonzero(tick_id == t):
                ticks[starts[k]:starts[k] + lengths[k], cols[k]] = True
    return ticks


def remove_rules(mask, height=None):
    """``mask`` without its ruled lines and box sides; returns (mask, the
    removed pixels). Where a stroke crossed a removed line, the gap left in
    the stroke is closed again. ``height``: the character height (default
    :func:`character_height`)."""
    height = height or character_height(mask)
    if height <= 0:
        return mask, np.zeros_like(mask)
    rules = horizontal_rules(mask, height)
    removed = rules | box_sides(mask & ~rules, rules, height)
    removed |= comb_ticks(mask & ~removed, rules, height)
    if not removed.any():
        return mask, removed
    kept = mask & ~removed
    # Bridge the gap a removed line cut in a crossing stroke: ink on both
    # sides of it within the line's width (vertical gaps for rules,
    # horizontal ones for box sides).
    gap = max(3, int(round(RULE_THICKNESS * height)) + 2)
    bridged = (ndimage.binary_closing(kept, structure=np.ones((gap, 1))) & rules) | (
        ndimage.binary_closing(kept, structure=np.ones((1, gap))) & removed & ~rules)
    return kept | bridged, removed & ~bridged
