"""Take the printed matter of a form or cheque off a page's ink mask.

Handwriting on real documents shares the page with print: a background
pattern (the fine lines of a cheque's security print, a form's tint) and
guide lines (a rule to write on, boxes with one cell per digit). Both
would otherwise join the digits into one large component. Two steps::

    strong = ink_core(level, strong)       # drop a lighter printed pattern
    mask, rules, _ = remove_rules(mask)     # drop ruled lines, box sides and comb ticks

A printed pattern is told from the pen by two things at once: it is
lighter than the handwriting and most of it lies away from any stroke
(a pen's own soft edges are lighter too, but they hug its strokes).
Guide lines are told by their length: a horizontal run of ink far longer
than a character is wide, or a vertical one that spans from one ruled line
to the next; a comb's ticks by standing on a rule, several of one length.
Strokes that cross a removed line are joined up again.
"""

from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from digitsuite.data.images import border_sides, otsu_threshold, touches_border

PATTERN_GAP = 0.15     # the handwriting is at least this much darker (0-1) than a pattern...
PATTERN_AWAY = 0.5     # ...and more than this share of the lighter ink lies away from it;
DENSE_INK = 0.2        # above Otsu's threshold over this share of the page, ink is no writing
DENSE_GAP = 0.1        # and a pattern need be only this much lighter than the handwriting
NEAR_STROKE = 2        # pixels: lighter ink this close to a dark stroke is the stroke's edge
RULE_LENGTH = 2.5      # a horizontal run this many character heights long is a ruled line
RULE_THICKNESS = 0.3   # x the character height: thicker runs are ink, not a printed line
BOX_SIDE = 0.8         # a vertical run between two rules, this x the height, is a box side
ELONGATED = 1.5        # components wider than this x their height do not set the height
FRAME_COVER = 0.9      # a short box field's bottom line spans this share of its width,
FRAME_WIDTH = 0.6      # which is at least this x the character height,
FRAME_HEIGHT = 2.5     # and its frame at most this tall; its lines are at most
FRAME_THIN = 0.5       # this x the pen's width (stroke_width), and ink fills at most
FRAME_FILL = 0.5       # this share of the inside (a digit touching it); its lines
FRAME_LINE = 0.06      # are at most this x the character height wide (2 pixels at least)
COMB_TICKS = 3         # a comb has at least this many ticks of one length on one rule,
TICK_LENGTH = (0.25, 1.2)  # each this long (x the character height)...
TICK_WIDTH = 0.12      # ...and at most this wide
TICK_SPACING = 0.1     # ...and evenly spaced, to this share of the cell width
# The edges of a cell cut out of a scanned register (remove_edges).
EDGE_RULE = 0.8        # a thin vertical run this share of the picture's height is a rule...
EDGE_RULE_MIN = 1.5    # ...if at least this x the character height (a 1 is about one)
MARGIN_INK = 2.0       # ink at the edge of more than this x the height squared is a margin
MARGIN_SHARE = (0.05, 0.5)  # a dark margin covers this share of the picture...
MARGIN_FILL = 0.6      # ...fills this share of its bounding box...
MARGIN_STEP = 0.25     # ...and is this much (0-1) darker than the paper just beside it
# ...and lies along at least this share of one side of the picture: a bold
# digit of a picture cropped tight round its writing touches the border
# only where its strokes reach it (a tenth of a side or so).
MARGIN_ALONG = 0.25
MARGIN_REST = 0.7      # ...and leaves a picture this much light paper (ink on a page is far less)
EDGE_SOFT = 2          # pixels of a margin's soft edge taken with it
# A table all round a photographed sheet: dark, touching all four sides,
# covering this share of the picture (a sticky note may leave it most)...
SURROUND_SHARE = (0.05, 0.9)
SURROUND_THICK = 0.02  # ...a band at least this x the picture's short side across (not a rule)
# ...ending in a step to the paper at least this large (0-1): a table may be
# light, and a band round a solid sheet is evidence enough that light
# fading into a vignette, which steps by far less, is not one.
SURROUND_STEP = 0.15
# ...round paper whose light part is this x the short side across somewhere
# and this many times as thick as the thickest ink on it: a light digit on
# black, which is strokes round dark holes (or none), is neither.
SHEET_THICK = 0.04
SHEET_OVER_INK = 3
SHEET_SOLID = 0.85     # the sheet fills this share of its convex hull (a quadrilateral does)
# A photo of a sheet is at least this many pixels a side; a digit saved as
# collections keep them (28x28 light on black, enlarged to be read) is not.
SURROUND_MIN_SIDE = 160
SURROUND_WORK_SIDE = 320  # the table and sheet are judged at about this many pixels a side
SHEET_AT_EDGE = 0.02   # the sheet reaches at most this share of the picture's edge
TABLE_INK = 0.01       # at most this share of the table is ink-dark (SURROUND_STEP below it)


def ink_core(level, strong, dense=False):
    """``strong`` (bool, the ink above Otsu's threshold of ``level``, 0-1
    ink strength) without a lighter printed pattern, if the page has one.

    The strong pixels are split again by Otsu's method. If the darker group
    is clearly darker (PATTERN_GAP), most of the lighter group
    (PATTERN_AWAY) lies more than NEAR_STROKE pixels from it and its lines
    are finer, the lighter group is print under the writing and only the
    darker group is ink. Where the strong pixels cover more of the page
    than writing does (DENSE_INK), or the caller found the page's ink no
    darker than its paper (``dense``), that is evidence of a pattern in
    itself: a smaller step in tone (DENSE_GAP) is enough, and the darker
    group's specks are then the pattern's crossings.
    """
    values = level[strong]
    if values.size < 50:
        return strong
    split = otsu_threshold(values)
    dark = strong & (level > split)
    light = strong & ~dark
    if not dark.any() or not light.any():
        return strong
    dense = dense or strong.mean() > DENSE_INK
    step = np.median(level[dark]) - np.median(level[light])
    if step < (DENSE_GAP if dense else PATTERN_GAP):
        return strong
    near = ndimage.binary_dilation(dark, iterations=NEAR_STROKE)
    away = np.count_nonzero(light & ~near) / np.count_nonzero(light)
    if away <= PATTERN_AWAY:
        return strong
    # A pattern's lines are finer than the pen's; strokes as wide as the
    # darker ink's or wider are a light pen beside darker print (a form's
    # rules), and the pen is what is read.
    pen = line_width(dark)
    if line_width(light) >= pen:
        return strong
    if step < PATTERN_GAP:
        # A pattern nearly as dark as the pen is as dark as the pen where
        # its lines cross: specks smaller than a dot of the pen, which
        # would grow the pattern back around them through the faint ink.
        labels, count = ndimage.label(dark, structure=np.ones((3, 3)))
        keep = np.bincount(labels.ravel(), minlength=count + 1) >= pen ** 2 / 2
        keep[0] = False
        dark = keep[labels]
    return dark


def line_width(mask):
    """Typical width in pixels of the lines of a bool mask: twice the 90th
    percentile of the distance from its pixels to the nearest non-pixel."""
    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    return 2.0 * float(np.percentile(depth[mask], 90))


def stroke_width(mask):
    """The usual width in pixels of the strokes of a bool mask: twice the
    median depth (distance to the nearest non-pixel) along their middles,
    where the depth is highest across; a blob's few deep middle pixels
    do not sway it, as they do :func:`line_width`."""
    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    middle = mask & (depth >= ndimage.grey_dilation(depth, size=(3, 3)))
    return 2.0 * float(np.median(depth[middle])) if middle.any() else 0.0


def character_height(mask):
    """A rough character height (pixels) of a page's ink mask, before its
    characters are known: the median height of the components that are not
    elongated (a ruled line, or digits joined by one, would mislead); in a
    picture of only one or two characters and nothing elongated, the taller
    of them; else the longest vertical ink runs (their 95th percentile)."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    heights, elongated = [], 0
    for rows, cols in ndimage.find_objects(labels):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if max(h, w) >= 6:
            if w <= ELONGATED * h:
                heights.append(h)
            else:
                elongated += 1
    if len(heights) >= 3:
        return float(np.median(heights))
    if heights and not elongated:
        # The runs would be the strokes' widths where a 7's bar or a 4's
        # crossing lies flat, and that bar would pass for a ruled line.
        return float(max(heights))
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


def with_slack(mask, rules):
    """``mask`` grown by a column either side, but not beside the ``rules``.

    A printed line one or two pixels wide falls between the scanner's
    pixels: its ink is broken by the noise, now in one column, now in the
    next. With the slack its vertical runs are whole, so the line is found
    and taken off in all its columns (left in one, it reads as a '1').
    Kept off the rules, every column of a stroke standing on one ends on
    the same row."""
    grow = np.ones((1, 3))
    return ndimage.binary_dilation(mask, structure=grow) & ~ndimage.binary_dilation(
        rules, structure=grow)


def box_sides(mask, rules, height):
    """Bool mask of the vertical sides of boxes: vertical runs of ``mask``
    at least BOX_SIDE x ``height`` long that start just under a ruled line
    and end just over one (``rules``, from :func:`horizontal_rules`)."""
    sides = np.zeros_like(mask)
    if not rules.any():
        return sides
    near_rule = ndimage.binary_dilation(rules, structure=np.ones((5, 1)))
    cols, starts, lengths = _runs(with_slack(mask, rules).T)
    stops = starts + lengths - 1
    side = (lengths >= BOX_SIDE * height) & near_rule[starts, cols] & near_rule[stops, cols]
    for col, start, stop in zip(cols[side], starts[side], stops[side]):
        sides[start:stop + 1, col] = True
    return sides & mask


def comb_ticks(mask, rules, height):
    """Bool mask of a comb's ticks: the short printed strokes that rise from
    a ruled line between the cells of a form field. A tick is a thin
    vertical run standing on a rule (``rules``); a comb has at least
    COMB_TICKS of them of one length on one rule, evenly spaced and
    standing alone once the rule is off, which a digit's strokes that
    happen to reach the rule are not. The spacing, not the length, tells a
    tall tick from a written 1: the character height is a rough one, and a
    comb's many ticks pull it down."""
    ticks = np.zeros_like(mask)
    if not rules.any():
        return ticks
    cols, starts, lengths = _runs(with_slack(mask, rules).T)
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
    # A tick is as long as its longest column: a column of slack beside it
    # breaks where the scanner's noise does.
    tick_len = np.zeros(len(widths))
    np.maximum.at(tick_len, tick_id, lengths)
    tick_row = np.bincount(tick_id, weights=starts + lengths) / widths
    widest = max(3, TICK_WIDTH * height)
    thin = widths - 2 <= widest  # less the slack's two columns
    tick_col = np.bincount(tick_id, weights=cols) / widths
    tolerance = max(2.0, 0.05 * height)
    # A tick standing alone once the rule is off: its piece of ink is no
    # wider than a tick. A digit's stroke that reaches the rule is part of
    # the digit, and handwriting is spaced evenly enough to pass for a comb.
    pieces, _ = ndimage.label(mask & ~rules, structure=np.ones((3, 3)))
    spans = ndimage.find_objects(pieces)
    label = np.zeros(len(widths), int)  # the piece each tick's middle lies in
    np.maximum.at(label, tick_id, pieces[starts + lengths // 2, cols])
    alone = np.array([k > 0 and spans[k - 1][1].stop - spans[k - 1][1].start <= widest
                      for k in label])
    for t in np.flatnonzero(thin):
        row = thin & (np.abs(tick_row - tick_row[t]) <= 2) & (tick_len <= TICK_LENGTH[1] * height)
        same = row & (np.abs(tick_len - tick_len[t]) <= tolerance)
        # The comb is known by ticks standing alone; one a digit touches
        # is taken with them when it stands where a tick should.
        if (same & alone).sum() >= COMB_TICKS and evenly_spaced(
                tick_col[row], tick_col[t], widest + 2):
            for k in np.flatnonzero(tick_id == t):
                ticks[starts[k]:starts[k] + lengths[k], cols[k]] = True
    return ticks & mask


def evenly_spaced(centres, centre, width):
    """True when the tick at ``centre`` stands a whole number of cells from
    another of ``centres`` (the columns of the ticks on its rule, a tick
    perhaps in two parts closer than ``width``), a cell being their usual
    spacing, and at least COMB_TICKS of them do: a comb's ticks are evenly
    spaced, the strokes of digits standing on the rule seldom are."""
    centres = np.sort(centres)
    gaps = np.diff(centres)
    gaps = gaps[gaps > width]
    if not gaps.size:
        return False
    # The cell width: the gap most others match (a digit's strokes among
    # the ticks give odd gaps, a hidden tick a double one).
    support = (np.abs(gaps[:, None] - gaps[None, :]) <= TICK_SPACING * gaps[:, None]).sum(axis=1)
    spacing = float(np.median(gaps[support == support.max()]))
    slack = max(2.0, TICK_SPACING * spacing)

    def regular(c):
        # A whole number of cells from another tick (a digit may hide one).
        apart = np.abs(centres - c)
        cells = np.maximum(np.round(apart / spacing), 1)
        return ((apart > width) & (np.abs(apart - cells * spacing) <= slack)).any()

    return regular(centre) and sum(regular(c) for c in centres) >= COMB_TICKS


def cell_frames(mask, height):
    """(horizontal, vertical) bool masks of the frames of short box fields,
    too short for their lines to be ruled lines (RULE_LENGTH): a box of one
    or two cells, a comb of one. Such a frame is a piece of ink whose
    bottom is one thin straight line across its whole width (FRAME_COVER of
    its columns), with a thin straight side rising from each end at least
    a tick's length (TICK_LENGTH); a closed box also has its top line
    across, and a side between its cells from the bottom line to the top.
    A digit inside, touching the frame, is part of the piece and is kept.
    Handwriting seldom has two straight lines meeting a third at right
    angles, both ends of it, and a printed frame's lines are also at most
    half as wide as the pen's strokes (FRAME_THIN x :func:`stroke_width`
    of the ink that is no frame): a 0 written square keeps its strokes."""
    horizontal, vertical = np.zeros_like(mask), np.zeros_like(mask)
    if height <= 0:
        return horizontal, vertical
    band = max(2, int(round(TICK_WIDTH * height)))  # a printed line's width, at most
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    found = []  # (line width, its slices, its horizontal and vertical lines)
    for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if not (FRAME_WIDTH * height <= w <= RULE_LENGTH * height
                and TICK_LENGTH[0] * height <= h <= FRAME_HEIGHT * height
                and min(h, w) > 2 * band):
            continue  # judged by its box first: a page of noise has many pieces
        piece = labels[rows, cols] == k
        if piece[-band:].any(axis=0).mean() < FRAME_COVER:
            continue  # no straight bottom line across
        if piece[band:-band, band:-band].mean() > FRAME_FILL:
            continue  # a blob, not lines round a cell
        # Each side: the rows, counted up from the bottom line's band, that
        # its columns hold ink in without a break (a speck of noise under
        # the line may be the piece's lowest row).
        sides = [piece[:h - band, :band].any(axis=1), piece[:h - band, -band:].any(axis=1)]
        rise = [band + int(np.argmin(np.append(side[::-1], False))) for side in sides]
        if min(rise) < TICK_LENGTH[0] * height:
            continue
        # Each line straight: two neighbouring rows of the bottom band (or
        # columns of a side's) hold it over FRAME_COVER of its length, as
        # the round bottom of a 3 or a 6 drawn with a marker does not.
        lines = (piece[-band:], piece[h - rise[0]:, :band].T, piece[h - rise[1]:, -band:].T)
        if min(max((b[:-1] | b[1:]).mean(axis=1)) for b in lines) < FRAME_COVER:
            continue
        # Its lines' width: the rows (columns) each fills over half its
        # length, looked for in twice the band.
        wide = (piece[-2 * band:], piece[h - rise[0]:, :2 * band].T,
                piece[h - rise[1]:, -2 * band:].T)
        width = max(np.count_nonzero(b.mean(axis=1) > 0.5) for b in wide)
        across, upright = np.zeros_like(piece), np.zeros_like(piece)
        across[-band:] = piece[-band:]
        if piece[:band].any(axis=0).mean() >= FRAME_COVER and min(rise) >= h - band:
            across[:band] = piece[:band]  # a closed box: its top line,
            # and its sides between cells, columns of ink from top to bottom
            inner = piece.all(axis=0)
            inner[:band] = inner[-band:] = False
            upright[:, inner] = piece[:, inner]
        for side, (first, last) in zip(rise, ((0, band), (w - band, w))):
            upright[h - side:, first:last] = piece[h - side:, first:last]
        found.append((width, (rows, cols), across, upright & ~across))
    if not found:
        return horizontal, vertical
    # Thin beside the pen: the pen's width is measured on the ink that is
    # not these lines, for on a form of boxes the boxes may be most of it.
    # With no other ink, the width beside the characters decides alone.
    frames = np.zeros_like(mask)
    for _, box, across, upright in found:
        frames[box] |= across | upright
    pen = stroke_width(mask & ~frames) or np.inf
    for width, box, across, upright in found:
        if width <= min(FRAME_THIN * pen, max(2.0, FRAME_LINE * height)):
            horizontal[box] |= across
            vertical[box] |= upright
    return horizontal, vertical


class RulesOff(NamedTuple):
    """What :func:`remove_rules` leaves and takes off (bool masks)."""

    mask: np.ndarray     # the ink left, with the gaps crossing strokes got closed again
    removed: np.ndarray  # everything taken off as print
    upright: np.ndarray  # of that, the box sides and comb ticks alone


def remove_rules(mask, height=None):
    """``mask`` without its ruled lines and box sides, as :class:`RulesOff`.
    Where a stroke crossed a removed line, the gap left in the stroke is
    closed again. ``height``: the character height (default
    :func:`character_height`)."""
    height = height or character_height(mask)
    if height <= 0:
        nothing = np.zeros_like(mask)
        return RulesOff(mask, nothing, nothing)
    rules = horizontal_rules(mask, height)
    removed = rules | box_sides(mask & ~rules, rules, height)
    removed |= comb_ticks(mask & ~removed, rules, height)
    frame_lines, frame_sides = cell_frames(mask & ~removed, height)
    rules |= frame_lines
    removed |= frame_lines | frame_sides
    if not removed.any():
        return RulesOff(mask, removed, removed)
    kept = mask & ~removed
    # Bridge the gap a removed line cut in a crossing stroke: ink on both
    # sides of it within the line's width (vertical gaps for rules,
    # horizontal ones for box sides).
    gap = max(3, int(round(RULE_THICKNESS * height)) + 2)
    bridged = (ndimage.binary_closing(kept, structure=np.ones((gap, 1))) & rules) | (
        ndimage.binary_closing(kept, structure=np.ones((1, gap))) & removed & ~rules)
    return RulesOff(kept | bridged, removed & ~bridged, removed & ~rules & ~bridged)


def writing_height(mask, labels, boxes, edge):
    """The character height of the writing away from the picture's edges:
    the median height of those components, each counted by its ink, so the
    few large strokes of a number outweigh many small letters of print."""
    heights, weights = [], []
    for k, found in enumerate(boxes, start=1):
        if found is None or edge[k]:
            continue
        rows, cols = found
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if max(h, w) >= 6 and w <= ELONGATED * h:
            heights.append(h)
            weights.append(np.count_nonzero(labels[found] == k))
    if not heights:
        return 0.0
    order = np.argsort(heights)
    cumulative = np.cumsum(np.asarray(weights, float)[order])
    return float(np.asarray(heights)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def vertical_rules(mask, height):
    """Bool mask of the pixels of printed rules running down the page:
    vertical runs at least EDGE_RULE x the picture's height or RULE_LENGTH
    x ``height`` long (whichever is shorter, but at least EDGE_RULE_MIN x
    ``height``: a handwritten 1 is about one), no thicker than
    RULE_THICKNESS x ``height``; a column of slack for a skewed scan."""
    length = max(EDGE_RULE_MIN * height, min(RULE_LENGTH * height, EDGE_RULE * mask.shape[0]))
    length = max(12, int(round(length)))
    if length > mask.shape[0]:
        return np.zeros_like(mask)
    slack = ndimage.binary_dilation(mask, structure=np.ones((1, 3)))
    long_runs = ndimage.binary_opening(slack, structure=np.ones((length, 1))) & mask
    if not long_runs.any():
        return long_runs
    thickness = max(2, int(round(RULE_THICKNESS * height)))
    too_thick = ndimage.binary_opening(long_runs, structure=np.ones((1, thickness + 1)))
    return long_runs & ~ndimage.binary_dilation(too_thick, structure=np.ones((3, 3)))


def dark_margin(grey):
    """Bool mask of a dark scanner margin (or the table around a photographed
    sheet) in a grey picture (0-1): a region darker than Otsu's threshold
    that lies along the picture's edge (MARGIN_ALONG of a side), covers
    MARGIN_SHARE of the picture, fills most of its bounding box
    (MARGIN_FILL) and ends in a sharp step to the paper (MARGIN_STEP:
    uneven light fades, it does not step). Together such regions cover at
    most half the picture and leave the rest MARGIN_REST light paper.
    A table all round a photographed sheet (:func:`_surrounds_sheet`) may
    cover more. Includes EDGE_SOFT pixels of its soft edge; empty when there
    is none."""
    grey = np.asarray(grey, np.float32)
    found = np.zeros(grey.shape, bool)
    dark = grey < otsu_threshold(grey)
    labels, count = ndimage.label(dark)
    if not count:
        return found
    edge = touches_border(labels)
    area = np.bincount(labels.ravel(), minlength=count + 1)
    surround = np.zeros(grey.shape, bool)
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        share = area[k] / grey.size
        table = SURROUND_SHARE[0] <= share <= SURROUND_SHARE[1]
        margin = (MARGIN_SHARE[0] <= share <= MARGIN_SHARE[1]
                  and area[k] >= MARGIN_FILL * labels[box].size)
        if not edge[k] or not (table or margin):
            continue
        region = labels == k
        if table and _surrounds_sheet(grey, region, dark):
            surround |= region
        elif (margin and max(side.mean() for side in border_sides(region)) >= MARGIN_ALONG
              and _step_down(grey, region, ~region) >= MARGIN_STEP):
            found |= region
    # Beside a margin the rest is light paper with a little dark ink on it.
    # Where it is not (a light digit filling a small picture, its dark
    # background cut into pieces at the edge by the strokes), those pieces
    # are the paper, not a margin.
    if found.mean() > MARGIN_SHARE[1]:
        found[:] = False
    found |= surround
    if not found.any():
        return found
    rest = grey[~found]
    if np.mean(rest > otsu_threshold(rest)) < MARGIN_REST:
        return np.zeros_like(found)
    return ndimage.binary_dilation(found, iterations=EDGE_SOFT)


def _surrounds_sheet(grey, region, dark):
    """Whether the dark ``region`` (touching the picture's border) is a table
    round a photographed sheet: it touches all four sides, is a band, not a
    line (SURROUND_THICK), holds no writing (TABLE_INK: a shadow over a page
    does), lies all round the sheet (SHEET_AT_EDGE), ends in a step to the
    paper (SURROUND_STEP) and encloses a sheet about as solid as a
    quadrilateral (SHEET_SOLID); and what it encloses is paper with writing
    on it, the paper far thicker than the ink (SHEET_THICK,
    SHEET_OVER_INK): not the strokes of a light digit on a dark ground
    round its dark holes, nor the ink of a box drawn round the writing."""
    short = min(grey.shape)
    if short < SURROUND_MIN_SIDE or not all(side.any() for side in border_sides(region)):
        return False
    # Judged on every n-th pixel, so that a large photo costs what a small one
    # does (a 2,000-pixel page took seconds in the distance transforms).
    step = max(1, -(-short // SURROUND_WORK_SIDE))
    grey, region, dark = grey[::step, ::step], region[::step, ::step], dark[::step, ::step]
    short = min(grey.shape)
    # Measured on the band's inside: the picture's edge is no edge of it.
    band = np.pad(region, 1, mode="edge")
    if ndimage.distance_transform_edt(band).max() < SURROUND_THICK * short:
        return False
    # The sheet: the largest piece the band encloses (a table's grain leaves
    # light specks of its own), the writing on it included.
    labels, count = ndimage.label(~region)
    if not count:
        return False
    sheet = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    # The table shows all round the sheet, which touches the picture's edge
    # nowhere (a shadow across a page leaves the lit part at the edge)...
    rim = np.concatenate(border_sides(sheet))
    if rim.mean() > SHEET_AT_EDGE:
        return False
    # ...and nothing is written on the table: a shadow holds the writing
    # under it, darker still than the shadowed paper.
    level = grey[region]
    if np.mean(level < np.median(level) - SURROUND_STEP) > TABLE_INK:
        return False
    paper = ndimage.distance_transform_edt(sheet & ~dark).max()
    ink = sheet & dark
    if not ink.any() or paper < max(SHEET_THICK * short,
                                    SHEET_OVER_INK * ndimage.distance_transform_edt(ink).max()):
        return False
    if _step_down(grey, region, sheet) < SURROUND_STEP:
        return False
    outline = np.argwhere(sheet & ~ndimage.binary_erosion(sheet))
    try:
        hull = ConvexHull(outline).volume  # in 2-D, the hull's area
    except QhullError:  # the sheet is a line of pixels
        return False
    return bool(sheet.sum() >= SHEET_SOLID * hull)


def _step_down(grey, region, beside):
    """How much darker (0-1, medians) the dark ``region`` is than the pixels
    of ``beside`` within 3 pixels of it: a margin or a table ends in a step,
    where uneven light fades; 0 when nothing of ``beside`` is there."""
    ring = ndimage.binary_dilation(region, iterations=3) & beside
    return float(np.median(grey[ring]) - np.median(grey[region])) if ring.any() else 0.0


def without_margin(grey, margin):
    """``grey`` with its ``margin`` (from :func:`dark_margin`) painted the
    colour of the paper beside it, so lighting, polarity and threshold are
    judged on the sheet alone."""
    if not margin.any():
        return grey
    ring = ndimage.binary_dilation(margin, iterations=3) & ~margin
    out = np.array(grey, np.float32)
    out[margin] = np.median(out[ring]) if ring.any() else np.median(out[~margin])
    return out


def remove_edges(mask, margin=None):
    """``mask`` without what the edges of a cut-out cell add to the writing:
    the printed rules down the cell's sides (:func:`vertical_rules`), the
    pieces of the neighbouring cells' writing beyond them, cut by the
    picture's edge or by the dark ``margin`` (bool, :func:`dark_margin`),
    and a margin the threshold left as ink (ink at the edge, far more of it
    than any character has). Returns (mask, the removed pixels).

    It acts only when ink touches the picture's edge or the margin: a page
    with paper all round keeps all its ink.
    """
    nothing = np.zeros_like(mask)
    margin = nothing if margin is None else ndimage.binary_dilation(margin, iterations=2)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if not count:
        return mask, nothing
    edge = touches_border(labels)
    edge[np.unique(labels[margin & mask])] = True
    edge[0] = False
    if not edge.any():
        return mask, nothing
    height = writing_height(mask, labels, ndimage.find_objects(labels), edge)
    if height <= 0:
        return mask, nothing
    ink = np.bincount(labels.ravel(), minlength=count + 1)
    # A digit's strokes cover about a third of its square: ink at the edge
    # worth MARGIN_INK characters is a margin the threshold kept.
    removed = (edge & (ink > MARGIN_INK * height * height))[labels]
    margin = margin | removed
    rules = vertical_rules(mask & ~removed, height)
    removed |= rules
    kept = mask & ~removed
    if not rules.any():
        return kept, removed
    # Pieces beyond a rule that touch the picture's edge or the margin are
    # the neighbours' writing cut by the crop; what is read lies between.
    labels, count = ndimage.label(kept, structure=np.ones((3, 3)))
    outside = touches_border(labels)
    outside[np.unique(labels[ndimage.binary_dilation(margin, iterations=2) & kept])] = True
    outside[0] = False
    inner = kept & ~outside[labels]
    if inner.any():
        centre = float(np.mean(np.nonzero(inner)[1]))
        columns = np.flatnonzero(rules.any(axis=0))
        for k, found in enumerate(ndimage.find_objects(labels), start=1):
            if found is not None and outside[k] and (
                    ((columns < centre) & (columns >= found[1].stop - 1)).any()
                    or ((columns > centre) & (columns <= found[1].start)).any()):
                removed |= labels == k
    kept = mask & ~removed
    # Strokes that crossed a rule are joined again across it.
    gap = max(3, int(round(RULE_THICKNESS * height)) + 2)
    bridged = ndimage.binary_closing(kept, structure=np.ones((1, gap))) & rules
    return kept | bridged, removed & ~bridged
