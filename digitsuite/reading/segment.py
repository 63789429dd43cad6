"""Find the characters on a page of handwriting, in reading order.

The steps, each a function here::

    mask = ink_mask(grey, ink_dark, faint)   # Otsu threshold with hysteresis
    mask, rules, _ = printed.remove_rules(mask)  # guide lines, box sides, comb ticks out
    lines = find_lines(mask)                 # [[Glyph, ...] per line, top to bottom]
    ways = lattice(glyph, line_height(line))  # pieces, if touching digits

:func:`ink_mask` leaves out a printed background pattern
(:mod:`digitsuite.reading.printed`). :func:`find_lines` labels the
connected ink components (8-connected), drops specks (keeping those as
wide as the pen as possible dots), merges the pieces of a digit written
with a break (a 5 whose flag does not touch its body), groups the
characters into lines, tells punctuation (dots, commas, colons, dashes)
from characters, joins other small fragments to the character beside
them and orders each line left to right. :func:`scribble` tells a pen
going round and round from touching digits. :func:`lattice` proposes
cuts, at its thinnest columns, of a component wider than a character
usually is, and the pieces between them; the reader lets the classifier
choose the pieces that read best. Sizes are judged against the typical
character height (a dot's also against the pen's width), so the same
rules hold for a scan at 50 pixels a digit and a phone photo at 500.

A glyph's ``box`` is ``(x0, y0, x1, y1)`` in page pixels, ends exclusive as
in slicing: ``page[y0:y1, x0:x1]``.
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from digitsuite.data.images import mean_stroke_width, otsu_threshold, stroke_width
from digitsuite.reading import printed

MIN_GLYPH = 6         # pixels: the longer side of the smallest character read
MIN_DOT = 3           # pixels: the smallest dot or comma of a thin pen looked for
# The other sizes are fractions of the typical character height (or the line's).
SPECK_SIZE = 0.1      # a component whose longer side is under this is a speck
PIECE_HEIGHT = 0.75   # pieces merge only if one is shorter than a whole character...
MERGE_OVERLAP = 0.5   # ...they overlap horizontally by this share of the narrower...
MERGE_GAP = 0.3       # ...they are at most this far apart vertically...
MERGED_HEIGHT = 1.4   # ...and together they are no taller than this
UNDERLINE_SHAPE = 2.5  # a piece this many times wider than tall...
UNDERLINE_WIDTH = 1.25  # ...and this many times wider than the glyph above it underlines it
LINE_OVERLAP = 0.5    # share of the shorter glyph's height shared with its line
LINE_BAND = 3         # a line's height band is that of its last this many glyphs
FRAGMENT = 0.5        # a glyph shorter than this x its line's height is a fragment...
ATTACH_GAP = 0.25     # ...joined to the nearest glyph this close, else dropped (a mark)
SMALL_WRITING = 0.4   # a line of glyphs under FRAGMENT x the page's writing is dirt unless
SMALL_ROW = 2         # ...this many of them are at least this x its height: small writing
MAX_HOLES = 3         # more closed loops than this is a scribble (an '8' has two)...
HOLE_SIZE = 0.03      # ...each at least this x the glyph's longer side across...
HOLES_PER_WIDTH = 4   # ...plus this many per line height of its width (touching digits)
SCRAWL_WIDTH = 1.0    # fewer loops, on a glyph no wider than this x its line: maybe a scrawl
BLOB = 0.5            # strokes this x a glyph's longer side thick: a dot or blob, no digit
SLASH_LEAN = 20       # one straight stroke leaning forward this many degrees...
STRAIGHT = 0.2        # ...its ink spread across it under this x along it: a '1' or a '/'
FAINT_SIZE = (0.5, 1.5)  # light ink this tall (x the characters') may be a digit...
FAINT_FILL = 0.6      # ...if it fills at most this share of its box (a stroke, not a wash)
LATTICE_WIDTH = 0.8   # a glyph wider than this may be touching characters...
MAX_CUTS = 12         # ...cut at up to this many of its thinnest columns...
CUT_WINDOW = 0.08     # ...each the thinnest this far either way...
MIN_PIECE = 0.1       # ...into pieces at least this wide (a '1')...
MAX_PIECE = 1.3       # ...and at most this wide
WORD_GAP = 1.0        # a wider gap between glyphs separates two numbers...
CELL_GAP = 2.0        # ...but one box field's neighbouring cells may part digits this far
# Punctuation, as fractions of the line's character height (glyph sizes as stated).
MARK_OVERLAP = 0.5    # a mark shares at most this share of its width with a character...
MARK_GAP = 0.04       # ...and a dot stands at least this far from every character
DASH_WIDTH = 1.5      # a dash is at least this many times wider than tall...
DASH_LENGTH = 0.25    # ...at least this long...
DASH_HEIGHT = 0.3     # ...at most this tall...
DASH_BAND = (0.2, 0.85)  # ...with its middle this far down the line
DOT_SIZE = 0.4        # a dot is no larger than this (a comma, with its tail, COMMA_SIZE)...
DOT_MIN = 0.1         # ...no thinner than this (about a pen's width)...
DOT_PEN = 0.8         # ...or than this x the pen's stroke width, if that is less...
DOT_FILL = 0.35       # ...fills at least this share of its box...
DOT_LOW = 0.75        # ...with its middle at least this far down the line;
COMMA_DROP = 0.1      # it is a comma if its middle is this far below the line
COMMA_SHAPE = 1.4     # or is this many times taller than wide
COMMA_SIZE = 0.5      # a comma is no larger than this...
COMMA_PEN = 0.35      # ...and its stroke at least this x the pen's, unless it is solid...
HAIR = 1.5            # ...and at least this many pixels wide (a hair of dust is one)
COLON_HIGH = (0.1, 0.6)  # a dot this far down the line over a low dot is a colon with it


@dataclass
class Glyph:
    """One character: its box on the page and its own ink pixels inside it."""

    box: tuple          # (x0, y0, x1, y1), ends exclusive
    mask: np.ndarray    # bool (y1 - y0, x1 - x0)
    mark: str = ""      # "." "," ":" or "-" for punctuation, "" for a character
    small: bool = False  # in a line of writing much smaller than the page's (small_writing)
    speck: bool = False  # under the speck size: kept only if it is a dot or comma
    # The box of the glyph it was read from, if that glyph has more closed
    # loops than a digit (MAX_HOLES), too few for a scribble, and is no
    # wider than SCRAWL_WIDTH: a scrawl when each of its pieces reads as
    # more likely wrong than right (reader.scrawled).
    loopy: tuple = ()

    @property
    def width(self):
        return self.box[2] - self.box[0]

    @property
    def height(self):
        return self.box[3] - self.box[1]

    @property
    def centre_y(self):
        return (self.box[1] + self.box[3]) / 2


def ink_mask(grey, ink_dark, faint, pattern=True, whole=False, dense=False):
    """Grey page (0-1) -> bool mask of the ink; ``ink_dark`` is the page's polarity.

    Ink is what Otsu's threshold splits from the paper, plus the ``faint``
    pixels (a bool mask of what may be light ink, e.g. ``ink > 0`` from
    :func:`digitsuite.data.images.to_foreground`) joined to it: hysteresis, so a
    thin, light stroke does not break a digit in two while faint specks on
    their own stay out. With ``pattern`` a lighter printed background
    pattern is left out (:func:`digitsuite.reading.printed.ink_core`).
    With ``whole``, returns (that mask, the mask with the pattern kept, or
    None when no pattern was left out). ``dense``: the caller found the
    page's ink no darker than its paper, as a dense pattern leaves it
    (see :func:`digitsuite.reading.printed.ink_core`).
    """
    grey = np.asarray(grey, np.float32)
    level = 1.0 - grey if ink_dark else grey
    strong = level > otsu_threshold(level)
    core = printed.ink_core(level, strong, dense) if pattern else strong
    if core is strong:
        mask = hysteresis(strong, faint)
        return (mask, None) if whole else mask
    # A printed pattern lies under the writing: faint pixels join the ink
    # only as the edges of its strokes, or the pattern would.
    mask = hysteresis(core, faint & ndimage.binary_dilation(core, iterations=printed.NEAR_STROKE))
    return (mask, hysteresis(strong, faint)) if whole else mask


def hysteresis(strong, faint):
    """The ``faint`` pixels 8-connected to a ``strong`` one, and the strong."""
    labels, count = ndimage.label(faint | strong, structure=np.ones((3, 3)))
    keep = np.zeros(count + 1, bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return keep[labels]


def components(mask):
    """The 8-connected components of ``mask`` as glyphs, in label order."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    glyphs = []
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = found
        glyphs.append(Glyph((cols.start, rows.start, cols.stop, rows.stop),
                            labels[found] == index))
    return glyphs


def unread(mask, glyphs):
    """The boxes (x0, y0, x1, y1) of the ink of ``mask`` that none of
    ``glyphs`` holds, at least MIN_GLYPH on the longer side: pieces the
    reader saw and did not read (a faint or small digit taken for a
    fragment, a line of small writing taken for dirt, a speck)."""
    used = np.zeros_like(mask)
    for g in glyphs:
        x0, y0, x1, y1 = g.box
        used[y0:y1, x0:x1] |= g.mask
    return [g.box for g in components(mask & ~used) if max(g.width, g.height) >= MIN_GLYPH]


def faint_glyphs(faint, mask, height):
    """The glyphs of ``faint`` ink (a bool mask of what may be light ink)
    that touch no ink of ``mask`` and are the size of a character on a
    page whose characters are ``height`` pixels tall: FAINT_SIZE of it to
    its height either way, no wider than FAINT_SIZE[1] of it, and with a
    pen's stroke, not a wash (at most FAINT_FILL of its box). A digit
    written much lighter than the others, an erased one, one showing
    through the paper: too light to be read with the page's ink, seen
    all the same."""
    low, high = FAINT_SIZE
    eight = np.ones((3, 3))
    labels, count = ndimage.label(faint | mask, structure=eight)
    # The pieces hysteresis(mask, faint) leaves out, counted in the same
    # labelling: light paper grain leaves thousands of specks, so only
    # those with pixels enough for a stroke that long are looked at.
    keep = np.bincount(labels.ravel(), minlength=count + 1) >= low * height
    keep[np.unique(labels[mask])] = False
    keep[0] = False
    labels, _ = ndimage.label(keep[labels], structure=eight)
    found = []
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        tall, wide = rows.stop - rows.start, cols.stop - cols.start
        if low * height <= tall <= high * height and wide <= high * height:
            ink = labels[rows, cols] == index
            if ink.mean() <= FAINT_FILL:
                found.append(Glyph((cols.start, rows.start, cols.stop, rows.stop), ink))
    return found


def typical_height(glyphs, by_ink=False):
    """Median height of the glyphs holding at least a tenth of the largest's
    ink; ``by_ink``, each counted by its ink, so a few handwritten digits
    outweigh a line of small print or many cut-off pieces (but a page of
    small and large writing leans to the large)."""
    if not glyphs:
        return 0.0
    ink = np.array([g.mask.sum() for g in glyphs], np.float64)
    heights = np.array([g.height for g in glyphs])
    big = ink >= 0.1 * ink.max()
    if not by_ink:
        return float(np.median(heights[big]))
    order = np.argsort(heights[big])
    cumulative = np.cumsum(ink[big][order])
    return float(heights[big][order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def drop_specks(glyphs, height, pen=0.0):
    """The glyphs whose longer side is at least SPECK_SIZE x ``height``, and
    the smaller ones that may be a thin ``pen``'s dot (:func:`solid`), with
    ``speck`` set: the punctuation finder keeps them only as marks."""
    kept = []
    for g in glyphs:
        if max(g.width, g.height) >= SPECK_SIZE * height:
            kept.append(g)
        elif pen and solid(g, height, pen):
            kept.append(replace(g, speck=True))
    return kept


def pen_width(glyphs):
    """The mean stroke width in pixels of ``glyphs`` together
    (:func:`digitsuite.data.images.mean_stroke_width`), 0.0 for none."""
    if not glyphs:
        return 0.0
    x0, y0 = min(g.box[0] for g in glyphs), min(g.box[1] for g in glyphs)
    x1, y1 = max(g.box[2] for g in glyphs), max(g.box[3] for g in glyphs)
    mask = np.zeros((y1 - y0 + 2, x1 - x0 + 2), bool)  # a pixel of paper all round
    for g in glyphs:
        mask[g.box[1] - y0 + 1:g.box[3] - y0 + 1, g.box[0] - x0 + 1:g.box[2] - x0 + 1] |= g.mask
    return mean_stroke_width(mask)


def solid(glyph, height, pen):
    """Whether a glyph is solid enough for a pen's dot: no thinner than
    DOT_MIN x ``height`` or, for a thin pen, DOT_PEN x its stroke width
    ``pen``, and filling at least DOT_FILL of its box (not a sliver of
    print or a hair of dust)."""
    return (min(glyph.width, glyph.height) >= min(DOT_MIN * height, DOT_PEN * pen)
            and glyph.mask.mean() >= DOT_FILL)


def join(a, b):
    """One glyph made of the ink of ``a`` and ``b``."""
    x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x1, y1 = max(a.box[2], b.box[2]), max(a.box[3], b.box[3])
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for g in (a, b):
        mask[g.box[1] - y0:g.box[3] - y0, g.box[0] - x0:g.box[2] - x0] |= g.mask
    return Glyph((x0, y0, x1, y1), mask)


def piece_pairs(glyphs, height):
    """Bool matrix (n, n): True where two glyphs look like strokes of one
    broken digit. One is shorter than a whole character, they share most of
    the narrower one's columns, and they sit close above one another or side
    by side, no taller together than a character."""
    x0, y0, x1, y1 = np.array([g.box for g in glyphs], np.float64).reshape(-1, 4).T
    w, h = x1 - x0, y1 - y0
    overlap = np.minimum.outer(x1, x1) - np.maximum.outer(x0, x0)
    gap = np.maximum.outer(y0, y0) - np.minimum.outer(y1, y1)  # < 0: rows overlap
    merged = np.maximum.outer(y1, y1) - np.minimum.outer(y0, y0)
    pairs = ((np.minimum.outer(h, h) < PIECE_HEIGHT * height)
             & (overlap >= MERGE_OVERLAP * np.minimum.outer(w, w))
             & (gap <= MERGE_GAP * height) & (merged <= MERGED_HEIGHT * height))
    # An underline: a flat stroke under a glyph and wider than it (a digit's
    # own bottom stroke, written apart, is no wider than the digit).
    under = ((w >= UNDERLINE_SHAPE * h)[:, None] & (w[:, None] >= UNDERLINE_WIDTH * w[None, :])
             & (y0[:, None] >= ((y0 + y1) / 2)[None, :]))
    pairs &= ~(under | under.T)
    np.fill_diagonal(pairs, False)
    return pairs


def merge_pieces(glyphs, height):
    """Merge the pieces of broken digits (see :func:`piece_pairs`), pair by
    pair, until no pair is left (a digit in three pieces takes two rounds)."""
    glyphs = list(glyphs)
    while len(glyphs) > 1:
        pairs = np.argwhere(np.triu(piece_pairs(glyphs, height)))
        if not len(pairs):
            break
        used, merged = set(), []
        for i, j in pairs:
            if i not in used and j not in used:
                used.update((i, j))
                merged.append(join(glyphs[i], glyphs[j]))
        glyphs = [g for k, g in enumerate(glyphs) if k not in used] + merged
    return glyphs


def group_lines(glyphs):
    """Group glyphs into lines of writing, top to bottom, each left to right.

    Glyphs are taken left to right; each joins the line that shares the most
    rows with it, at least LINE_OVERLAP of the shorter height, comparing it
    with the line's last glyph (so a line may drift up or down across the
    page) and with the line's band, the median top and bottom of its last
    LINE_BAND glyphs of at least FRAGMENT x its tallest height (so a small
    glyph high or low in the line still joins it, and a comma and a dot
    after a digit do not drag the band down).
    Rows, not shares, choose between lines: a dot or a stub of a box side
    shares all its few rows with a digit beside it, and would otherwise
    draw the rest of the number into a line of its own.
    """
    def band(line, tallest):
        # The band of the line's characters: commas and dots after the
        # last digit would pull it down to their few rows.
        recent = []
        for g in reversed(line):
            if g.height >= FRAGMENT * tallest:
                recent.append(g)
                if len(recent) == LINE_BAND:
                    break
        return np.median([g.box[1] for g in recent]), np.median([g.box[3] for g in recent])

    # Per line, kept up to date as glyphs join, so that each glyph is
    # compared with every line at once: a page of noise can hold thousands.
    n = len(glyphs)
    last, bands = np.zeros((n, 2)), np.zeros((n, 2))  # (top, bottom) per line
    lines, tallest = [], []  # each line's glyphs and its tallest glyph's height
    for glyph in sorted(glyphs, key=lambda g: (g.box[0], g.box[1])):
        best = None
        if lines:
            k = len(lines)
            shared = np.zeros(k)
            for spans in (last[:k], bands[:k]):
                common = (np.minimum(glyph.box[3], spans[:, 1])
                          - np.maximum(glyph.box[1], spans[:, 0]))
                enough = common >= LINE_OVERLAP * np.minimum(glyph.height,
                                                             spans[:, 1] - spans[:, 0])
                shared = np.maximum(shared, np.where(enough, common, 0))
            if shared.max() > 0:
                # The last of the lines sharing the most rows, as before.
                best = int(k - 1 - np.argmax(shared[::-1]))
        if best is None:
            best = len(lines)
            lines.append([])
            tallest.append(0)
        lines[best].append(glyph)
        tallest[best] = max(tallest[best], glyph.height)
        last[best] = glyph.box[1], glyph.box[3]
        bands[best] = band(lines[best], tallest[best])
    lines.sort(key=lambda line: np.median([g.centre_y for g in line]))
    return [sorted(line, key=lambda g: g.box[0] + g.box[2]) for line in lines]


def tighten(glyph):
    """The glyph with its box shrunk to its ink (None if it has none)."""
    rows, cols = np.nonzero(glyph.mask)
    if not rows.size:
        return None
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    x0, y0 = glyph.box[0], glyph.box[1]
    return Glyph((x0 + c0, y0 + r0, x0 + c1, y0 + r1), glyph.mask[r0:r1, c0:c1])


def cut_columns(glyph, height, count=MAX_CUTS):
    """Up to ``count`` columns at which a glyph might be cut between two
    characters, left to right: the local minima of its ink per column
    (within CUT_WINDOW x ``height`` either way), at least MIN_PIECE x
    ``height`` from either side, those with the least ink first."""
    margin = max(1, int(round(MIN_PIECE * height)))
    if glyph.width <= 2 * margin:
        return []
    profile = ndimage.uniform_filter1d(glyph.mask.sum(axis=0).astype(np.float32), 3)
    window = max(1, int(round(CUT_WINDOW * height)))
    lowest = ndimage.minimum_filter1d(profile, 2 * window + 1)
    columns = np.flatnonzero(profile[margin:-margin] == lowest[margin:-margin]) + margin
    # A flat minimum gives a run of columns: keep the middle one of each run.
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    middles = [int(run[len(run) // 2]) for run in runs if len(run)]
    return sorted(sorted(middles, key=lambda c: profile[c])[:count])


def piece(glyph, start, stop):
    """The part of ``glyph`` between its columns ``start`` and ``stop``,
    box shrunk to its ink (None if it has none)."""
    x0, y0, _, y1 = glyph.box
    return tighten(Glyph((x0 + start, y0, x0 + stop, y1), glyph.mask[:, start:stop]))


@dataclass
class Lattice:
    """The ways to read one glyph as one or more touching characters.

    ``pieces`` maps (i, j) to the glyph between cut i and cut j (cut 0 is
    the glyph's left edge, the last its right edge); a reading is a path of
    pieces from the first cut to the last. A narrow glyph has one piece,
    itself.
    """

    cuts: list
    pieces: dict

    @property
    def last(self):
        return len(self.cuts) - 1


def lattice(glyph, height):
    """The :class:`Lattice` of a glyph on a line ``height`` pixels tall.

    A glyph wider than LATTICE_WIDTH x ``height`` may be touching
    characters: it is cut at its thinnest columns (:func:`cut_columns`)
    into every piece from MIN_PIECE to MAX_PIECE x ``height`` wide, and the
    reader lets the classifier choose the path that reads best. Otherwise
    the glyph is its only piece.
    """
    if glyph.width <= LATTICE_WIDTH * height:
        return Lattice([0, glyph.width], {(0, 1): glyph})
    cuts = [0, *cut_columns(glyph, height), glyph.width]
    pieces = {(0, len(cuts) - 1): glyph}
    for i in range(len(cuts) - 1):
        for j in range(i + 1, len(cuts)):
            width = cuts[j] - cuts[i]
            if (i, j) in pieces or width > MAX_PIECE * height:
                continue
            part = piece(glyph, cuts[i], cuts[j]) if width >= MIN_PIECE * height else None
            if part is not None:
                pieces[(i, j)] = part
    return Lattice(cuts, pieces)


def holes(mask):
    """Closed loops in a glyph's ink: the regions of paper it encloses of at
    least HOLE_SIZE x its longer side squared (a pinhole in a thick stroke
    is none). Of 2,000 MNIST test digits 7 have three, none more; a pen
    scribbled 15 times across the pad leaves four to ten."""
    paper, count = ndimage.label(~np.pad(mask, 1))
    if count <= 1:
        return 0
    sizes = ndimage.sum(np.ones(paper.shape), paper, index=np.arange(1, count + 1))
    smallest = max(4.0, (HOLE_SIZE * max(mask.shape)) ** 2)
    outside = paper[0, 0]
    return int(sum(1 for label, size in enumerate(sizes, start=1)
                   if label != outside and size >= smallest))


def scribble(glyph, height, loops=None):
    """Whether a glyph on a line ``height`` pixels tall is a scribble: more
    closed loops (``loops``, counted here if None) than MAX_HOLES plus
    HOLES_PER_WIDTH for each ``height`` of its width. A digit has at most
    two; touching digits about three each (their own and where they
    touch), and each is at least half a line height wide; a pen going
    round and round leaves many more. A small scrawl has too few to tell
    it from touching digits by its loops alone: see :attr:`Glyph.loopy`."""
    loops = holes(glyph.mask) if loops is None else loops
    return loops > MAX_HOLES + HOLES_PER_WIDTH * glyph.width / max(height, 1)


def blob(glyph):
    """Whether a glyph is a dot or blob rather than a digit: its strokes
    (:func:`digitsuite.data.images.stroke_width`) are at least BLOB x its
    longer side thick. A filled disk's are about 0.8 of it; a digit's
    strokes, even a marker's, leave paper inside or beside them."""
    side = max(glyph.width, glyph.height)
    return stroke_width(glyph.mask.astype(np.float32)) >= BLOB * side


def slash_like(glyph):
    """Whether a glyph is one straight stroke whose top leans forward by
    SLASH_LEAN degrees or more: a '/' as much as a '1'. Of the 674 1s of
    MNIST's validation split 30 % lean so, so its shape cannot tell which;
    only where it stands can (:func:`digitsuite.reading.reader.as_date`)."""
    ys, xs = np.nonzero(glyph.mask)
    if len(xs) < 3:
        return False
    spread, axes = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    if spread[1] <= 0:
        return False
    down = axes[:, 1] if axes[1, 1] >= 0 else -axes[:, 1]  # the long axis, down the page
    lean = np.degrees(np.arctan2(-down[0], down[1]))
    return bool(np.sqrt(max(spread[0], 0.0) / spread[1]) < STRAIGHT and lean >= SLASH_LEAN)


def line_height(line):
    """The median height of a line's glyphs."""
    return float(np.median([g.height for g in line]))


def box_gap(a, b):
    """Pixels between two glyphs' boxes (0 when they touch or overlap)."""
    dx = max(a.box[0], b.box[0]) - min(a.box[2], b.box[2])
    dy = max(a.box[1], b.box[1]) - min(a.box[3], b.box[3])
    return max(dx, dy, 0)


def line_band(line):
    """(top, bottom, height) of a line's full-size characters: the median
    top and bottom of its glyphs at least FRAGMENT x its tallest."""
    tallest = max(g.height for g in line)
    full = [g for g in line if g.height >= FRAGMENT * tallest]
    top = float(np.median([g.box[1] for g in full]))
    bottom = float(np.median([g.box[3] for g in full]))
    return top, bottom, bottom - top


def characters_near(glyph, line, height):
    """(the most columns ``glyph`` shares with one of its ``line``'s
    characters, those at least FRAGMENT x ``height`` tall; the pixels
    between its ink and the nearest of theirs, as far as MARK_GAP x
    ``height``: a comma may tuck under a digit's corner, inside its box)."""
    others = [g for g in line if g is not glyph and g.height >= FRAGMENT * height]
    shared = max((min(glyph.box[2], g.box[2]) - max(glyph.box[0], g.box[0]) for g in others),
                 default=0)
    gaps = [box_gap(glyph, g) for g in others]
    gaps = [ink_gap(glyph, g) if gap < MARK_GAP * height else gap
            for g, gap in zip(others, gaps)]
    return shared, min(gaps, default=np.inf)


def ink_gap(a, b):
    """Pixels between the ink of glyphs ``a`` and ``b`` (0 when they touch),
    rounded down."""
    x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x1, y1 = max(a.box[2], b.box[2]), max(a.box[3], b.box[3])
    ink = np.zeros((y1 - y0, x1 - x0), bool)
    ink[b.box[1] - y0:b.box[3] - y0, b.box[0] - x0:b.box[2] - x0] = b.mask
    near = ndimage.distance_transform_edt(~ink)[a.box[1] - y0:a.box[3] - y0,
                                                a.box[0] - x0:a.box[2] - x0]
    return max(int(near[a.mask].min()) - 1, 0) if a.mask.any() else np.inf


def dot_like(glyph, height, pen):
    """A glyph small and :func:`solid` enough to be a pen's dot."""
    return (glyph.height < FRAGMENT * height and solid(glyph, height, pen)
            and max(glyph.width, glyph.height) <= DOT_SIZE * height)


def punctuation(glyph, line, band, pen=0.0):
    """The mark ``glyph`` is in its ``line`` ("." "," "-"), or "" if it is
    none: a small glyph standing apart between the characters (sharing at
    most MARK_OVERLAP of its width with one, at least MARK_GAP x the
    height from each: nearer, it is a stroke cut off a character). A
    dash is wide and flat and sits mid-line; a dot or comma sits low. A dot
    is :func:`solid` for the line's ``pen`` (its stroke width in pixels);
    a comma is taller than wide, or sits below the line, may be larger
    than a dot (its tail) and is drawn with the pen, or solid."""
    top, bottom, height = band
    if glyph.height >= FRAGMENT * height:
        return ""
    shared, gap = characters_near(glyph, line, height)
    if shared > MARK_OVERLAP * glyph.width:
        return ""  # under or over a character: a piece of it
    centre = (glyph.centre_y - top) / height
    if (glyph.width >= DASH_WIDTH * glyph.height and glyph.width >= DASH_LENGTH * height
            and glyph.height <= DASH_HEIGHT * height
            and DASH_BAND[0] <= centre <= DASH_BAND[1]):
        return "-"
    if (gap < MARK_GAP * height or centre < DOT_LOW
            or glyph.box[1] >= bottom + COMMA_DROP * height):
        return ""  # a stroke cut off a character; not low; or well under the line (dirt)
    size = max(glyph.width, glyph.height)
    if (glyph.centre_y > bottom + COMMA_DROP * height
            or glyph.height > COMMA_SHAPE * glyph.width):
        # A comma may be a thin slanted stroke, which fills little of its
        # box: it is told from a hair of dust by its stroke, the pen's own
        # (its ink over its length, taken as the box's diagonal).
        stroke = glyph.mask.sum() / np.hypot(glyph.width, glyph.height)
        pen_drawn = solid(glyph, height, pen) or stroke >= max(COMMA_PEN * pen, HAIR)
        return "," if size <= COMMA_SIZE * height and pen_drawn else ""
    return "." if dot_like(glyph, height, pen) else ""


def colons(line, band, pen=0.0):
    """The colons of a line as pairs of glyphs (upper dot, lower dot): two
    :func:`dot_like` glyphs one over the other (sharing at least
    MERGE_OVERLAP of the narrower's width), the upper's middle within
    COLON_HIGH of the line's height from its top, the lower's at least
    DOT_LOW down, as a dot's. Neither is under or over a character; the
    pair is evidence enough that they may stand as close to one as they
    like without touching it."""
    top, _, height = band

    def free(glyph):
        shared, gap = characters_near(glyph, line, height)
        return shared <= MARK_OVERLAP * glyph.width and gap > 0

    dots = [g for g in line if dot_like(g, height, pen) and free(g)]
    pairs, used = [], set()
    for a in dots:
        for b in dots:
            if id(a) in used or id(b) in used or a is b:
                continue
            over = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
            if (over >= MERGE_OVERLAP * min(a.width, b.width)
                    and COLON_HIGH[0] <= (a.centre_y - top) / height <= COLON_HIGH[1]
                    and (b.centre_y - top) / height >= DOT_LOW):
                pairs.append((a, b))
                used.update((id(a), id(b)))
    return pairs


def attach_fragments(line, marks=True):
    """Mark the punctuation of a line (:func:`colons`, then
    :func:`punctuation`, unless ``marks`` is False: then every small glyph
    is a fragment); join each other fragment (a glyph shorter than
    FRAGMENT x the line height: a stroke cut off its digit) to the nearest
    whole glyph if it is at most ATTACH_GAP x the line height away, and
    drop it otherwise (a stray mark). A ``speck`` that is no mark is
    dropped. Returns the line's characters and marks, left to right."""
    band = line_band(line)
    height = band[2]
    whole = [g for g in line if g.height >= FRAGMENT * height]
    pen = pen_width(whole)
    pairs = colons(line, band, pen) if marks else []
    found = {id(g): ":" for pair in pairs for g in pair}
    found.update({id(g): mark for g in line if marks and id(g) not in found
                  and (mark := punctuation(g, line, band, pen))})
    marks = ([replace(join(a, b), mark=":") for a, b in pairs]
             + [replace(g, mark=found[id(g)], speck=False) for g in line
                if found.get(id(g), ":") != ":"])
    for fragment in (g for g in line if g.height < FRAGMENT * height
                     and id(g) not in found and not g.speck):
        gaps = [box_gap(fragment, g) for g in whole]
        nearest = int(np.argmin(gaps))
        if gaps[nearest] <= ATTACH_GAP * height:
            whole[nearest] = join(whole[nearest], fragment)
    return sorted(whole + marks, key=lambda g: g.box[0] + g.box[2])


def find_lines(mask, marks=True):
    """Bool ink mask of a page -> its characters and punctuation marks, as
    lines of glyphs in reading order (see the module docstring); [] when
    there are none. Marks have ``glyph.mark`` set (none when ``marks`` is
    False)."""
    found = components(mask)
    glyphs = [g for g in found if max(g.width, g.height) >= MIN_GLYPH]
    height = typical_height(glyphs)
    # Which lines are writing is judged against the height the ink says:
    # small print or many cut-off pieces must not pass for the writing's
    # size. Specks and broken digits are judged against the plain median,
    # or the small lines of a page of mixed sizes would lose their pieces.
    writing = typical_height(glyphs, by_ink=True)
    # A thin pen's dot may be smaller than any character: looked for
    # among the smaller components too, kept only if it is a mark.
    dots = [g for g in found if MIN_DOT <= max(g.width, g.height) < MIN_GLYPH] if marks else []
    pen = pen_width([g for g in glyphs if g.height >= FRAGMENT * height])
    kept = drop_specks(glyphs + dots, height, pen if marks else 0.0)
    # A speck kept as a possible dot is no piece of a digit.
    glyphs = (merge_pieces([g for g in kept if not g.speck], height)
              + [g for g in kept if g.speck])
    # A "line" of nothing but small marks is dirt or a stray scribble, or
    # the commas hanging below a line. A row of small characters is kept,
    # flagged: the reader asks more of it.
    kept, dirt = [], []
    for line in group_lines(glyphs):
        if max(g.height for g in line) >= FRAGMENT * writing:
            kept.append((line, False))
        elif small_writing(line, writing):
            kept.append((line, True))
        else:
            dirt += line
    if marks:  # a comma's own "line" goes back to its line, to be a mark there
        hang(dirt, [line for line, _ in kept])
    return [[replace(g, small=True) for g in attach_fragments(line, marks)] if small
            else attach_fragments(line, marks) for line, small in kept]


def hang(pieces, lines):
    """Put each of ``pieces`` (small glyphs grouped into no line of
    writing) into the line of ``lines`` whose band of characters
    (:func:`line_band`) it shares the most rows with, if it is shorter than
    FRAGMENT x that band and lies along the line: a comma's tail hangs
    below the line, so most of its rows are outside it."""
    bands = [line_band(line) for line in lines]
    spans = [(min(g.box[0] for g in line), max(g.box[2] for g in line)) for line in lines]
    for piece in pieces:
        best, most = None, 0
        for line, (top, bottom, height), (x0, x1) in zip(lines, bands, spans):
            common = min(piece.box[3], bottom) - max(piece.box[1], top)
            if (common > most and piece.height < FRAGMENT * height
                    and x0 - height <= piece.box[0] and piece.box[2] <= x1 + height):
                best, most = line, common
        if best is not None:
            best.append(piece)


def small_writing(line, writing):
    """Whether a line of glyphs all shorter than FRAGMENT x the page's
    ``writing`` height may be writing all the same: SMALL_ROW or more of
    its glyphs at least SMALL_WRITING x that height and FRAGMENT x the
    line's tallest. Dirt is a mark or two; a row of small print is set
    aside by the reader when under half of a number on it reads as sure
    digits (:func:`digitsuite.reading.reader.set_aside_non_digits`)."""
    tallest = max(g.height for g in line)
    row = [g for g in line
           if g.height >= SMALL_WRITING * writing and g.height >= FRAGMENT * tallest]
    return len(row) >= SMALL_ROW


def walls_between(left, right, walls):
    """How many of the cell ``walls`` (boxes x0, y0, x1, y1) stand between
    the boxes ``left`` and ``right`` of one line: centred in the gap and
    overlapping the two in height."""
    walls = np.asarray(walls, np.float64).reshape(-1, 4)
    centre = (walls[:, 0] + walls[:, 2]) / 2
    return int(((centre > left[2]) & (centre < right[0])
                & (walls[:, 1] < max(left[3], right[3]))
                & (walls[:, 3] > min(left[1], right[1]))).sum())


def word_breaks(line, walls=()):
    """For each glyph of a line (characters only), True when a gap wider
    than WORD_GAP x the line height comes before it (the start of another
    number).

    ``walls``: boxes (x0, y0, x1, y1) of the cell walls taken off the page
    (box sides, comb ticks). Two glyphs in neighbouring cells of a box
    field, each alone in its cell and exactly one wall apart, are one
    number however wide the gap (up to CELL_GAP x the height): a narrow 1
    in a wide cell leaves one. An empty cell between them (two walls) still
    parts two numbers, and so does a wall between cells holding several
    digits each (a table's columns)."""
    size = line_height(line)

    def gap(i):  # between glyph i - 1 and glyph i
        return line[i].box[0] - line[i - 1].box[2]

    def walls_in(i):
        return walls_between(line[i - 1].box, line[i].box, walls)

    def shares_cell(i):  # glyphs i - 1 and i close, with no wall between
        return 0 < i < len(line) and gap(i) <= WORD_GAP * size and walls_in(i) == 0

    def alone(j):
        return not (shares_cell(j) or shares_cell(j + 1))

    breaks = [False] if line else []
    for i in range(1, len(line)):
        wide = gap(i) > WORD_GAP * size
        cells = (wide and gap(i) <= CELL_GAP * size and walls_in(i) == 1
                 and alone(i - 1) and alone(i))
        breaks.append(wide and not cells)
    return breaks
