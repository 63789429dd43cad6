"""Pages of handwritten numbers for the reading benchmark
(:mod:`benchmarks.reading.benchmark`), written with real digit images from
any source and kept with their truth.

A page holds 2-5 lines, each a number of 1-8 digits drawn from a digit set,
scaled to a random size (per line), rotated slightly and spaced at random,
laid as ink on paper with uneven lighting and noise. A :class:`Drawing`
says how a source's digit sits in its image (MNIST: a 20-pixel box in 28;
optdigits: 32 rows in 32, binary), so both sources are written alike.
:class:`PageStyle` varies one thing at a time; :data:`CONDITIONS` are the
benchmark's: today's pen, blur, slant, light, polarity, spacing and size
variations, and what real documents add: printed security patterns, ruled
guide lines, comb/box fields, punctuation in amounts, touching digits,
marker/ballpoint/pencil, low resolution, phone photos, a sheet
photographed on a table and several numbers on one line.

A page's truth is a list of numbers, one per line but where a line holds
several, each ``{"text": "150000", "boxes":
[[x0, y0, x1, y1], ...], "marks": [{"mark": ",", "after": 1, "box": [...]},
...], "decimal_after": 4 or None}``, boxes in page pixels, ends exclusive;
lines with a guide line or a box field also hold its ``rule`` or ``field``
box (and ``cells``), lines with touching digits the ``touching`` ones
(digit j touches digit j - 1), and numbers that share a line with others
the ``row`` they are written on (the same for all of them).
"""

import io
from dataclasses import asdict, dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from digitsuite.data.images import disk

LINES_PER_PAGE = (2, 5)
DIGITS_PER_LINE = (1, 8)
# Between two numbers on one line, x the line's height. People leave from
# a little under the gap the reader joins digits across (segment.WORD_GAP)
# to several heights: numbers closer than that are read as one, and the
# calibration must see them so, or it vouches for a pair run together.
NUMBER_GAP = (0.8, 3.0)
INK_LEVEL = 0.3       # ink coverage that counts towards a digit's true box
PEN_WIDTH = 0.13      # a digit's stroke width, x its height (MNIST 0.13, optdigits 0.17)
SUPERSAMPLE = 4       # marks are drawn this much larger, then averaged down: soft edges
BITMAP_SMOOTHING = 0.6  # bitmap pixels: rounds a binary bitmap's staircase into an outline


@dataclass(frozen=True)
class Drawing:
    """How a source's digits sit in their images: the digit's height in
    pixels of its (square) image, and whether the image is a binary bitmap
    (drawn as ink coverage with soft edges when scaled, as a scanner gives)."""

    digit_height: int
    binary: bool = False


MNIST_DRAWING = Drawing(20)              # size-normalised into a 20x20 box, centred in 28x28
OPTDIGITS_DRAWING = Drawing(32, binary=True)  # each digit's height fills the 32 rows
# MNIST's digits thresholded at half their ink (:func:`bitmaps`) and drawn
# as a bilevel scanner or a fax gives them: hard ink with one-pixel edges.
MNIST_BITMAP_DRAWING = Drawing(20, binary=True)
BITMAP_LEVEL = 128


def bitmaps(images, level=BITMAP_LEVEL):
    """Grey digit images (uint8, ink bright) as binary bitmaps (uint8 0/255)."""
    return np.where(np.asarray(images) >= level, 255, 0).astype(np.uint8)


@dataclass(frozen=True)
class PageStyle:
    """How pages are written; the defaults are the main benchmark's."""

    height: tuple = (28, 64)    # pixels, a digit's height, per line
    gap: tuple = (0.15, 0.6)    # space between digits, x the line's height
    rotation: float = 6.0       # degrees, each digit turned by up to this either way
    slant: float = 0.0          # shear of the whole page's writing (0.3: ~17 degrees)
    stroke: float = 0.0         # pen width change, x the line's height (+ thicker)
    blur: float = 0.0           # Gaussian blur sigma, x the median line height
    light: float = 0.35         # darkest corner's light loss (0: even lighting)
    noise: float = 0.03         # sensor noise standard deviation (0-1 scale)
    inverted: bool = False      # light ink on dark paper (a blackboard, a negative)
    ink: tuple = (0.05, 0.30)   # the pen's reflectance, drawn per page (paper: 0.78-0.95)
    soften: float = 0.0         # blur of the pen's ink alone, x the median line height
    pressure: float = 0.0       # uneven pressure: coverage lowered by up to this, smoothly
    grain: float = 0.0          # pencil grain: coverage lowered by up to this, per pixel
    touch: bool = False         # neighbours slid together until their strokes overlap
    pattern: bool = False       # a printed security pattern over the page or a band
    rules: bool = False         # a printed guide line under (or through) each number
    boxes: bool = False         # each number in a printed comb or box field, a cell a digit
    punctuation: bool = False   # separators and dashes in the same pen: 1,500.00 / 10-
    photo: bool = False         # phone photo: perspective, shadow, blur, noise, JPEG
    table: bool = False         # photographed lying on a darker table that shows all round
    stretch: tuple = (1.0, 1.0)  # digits' width x this, drawn per line (narrow < 1 < wide)
    pens: tuple = (0.0, 0.0)    # pen width change (as ``stroke``), drawn per line
    register: bool = False      # one cell cut from a scanned register, not a page
    numbers: int = 1            # numbers a line's digits are split into, at most

    def as_dict(self):
        return asdict(self)


STANDARD = PageStyle()
BALLPOINT = {"stroke": -0.025, "ink": (0.18, 0.40), "pressure": 0.4}
CONDITIONS = {
    "standard": STANDARD,
    "thick pen": replace(STANDARD, stroke=0.06),
    "thin pen": replace(STANDARD, stroke=-0.035),
    "blur": replace(STANDARD, blur=0.06),
    "slant": replace(STANDARD, slant=0.35),
    "strong uneven light": replace(STANDARD, light=0.7),
    "light ink on dark": replace(STANDARD, inverted=True),
    "touching digits": replace(STANDARD, touch=True, gap=(0.02, 0.2)),
    "small digits": replace(STANDARD, height=(14, 20)),
    "heavy noise": replace(STANDARD, noise=0.08),
    "printed pattern": replace(STANDARD, pattern=True),
    "ruled lines": replace(STANDARD, rules=True),
    "boxes": replace(STANDARD, boxes=True),
    "punctuation": replace(STANDARD, punctuation=True),
    "marker": replace(STANDARD, stroke=0.05, ink=(0.02, 0.12), soften=0.02),
    "ballpoint": replace(STANDARD, **BALLPOINT),
    "pencil": replace(STANDARD, stroke=-0.025, ink=(0.42, 0.60), grain=0.55, pressure=0.25),
    "low resolution": replace(STANDARD, height=(12, 16), blur=0.03),
    "phone photo": replace(STANDARD, photo=True, noise=0.0),
    "sheet on a table": replace(STANDARD, table=True, noise=0.0),
    "document": replace(STANDARD, pattern=True, rules=True, punctuation=True, **BALLPOINT),
    "clean strips": replace(STANDARD, rotation=3.0, light=0.2, noise=0.02,
                            stretch=(0.7, 1.35), pens=(-0.03, 0.05)),
    "register cells": replace(STANDARD, register=True, **BALLPOINT),
    "numbers side by side": replace(STANDARD, numbers=3),
}
# The conditions the ablation (read_bench.py --ablation) reads with each
# document step switched off: clean pages, where a step can only cost, and
# those that need one.
ABLATION_CONDITIONS = ("clean strips", "standard", "document", "boxes", "touching digits",
                       "marker", "register cells")
CONDITION_NOTES = {
    "standard": "dark ink on light paper, uneven light, noise; digits 28-64 px tall",
    "thick pen": "strokes widened by 6 % of the line's height",
    "thin pen": "strokes narrowed by 3.5 % of the line's height",
    "blur": "Gaussian blur, sigma 6 % of the line height",
    "slant": "writing sheared ~19 degrees",
    "strong uneven light": "light falls to 30 % towards one side",
    "light ink on dark": "polarity reversed",
    "touching digits": "about half the neighbours (at least one pair a number) slid "
                       "together until their strokes overlap by 1 px to 7 % of the height; "
                       "the others 2-20 % apart",
    "small digits": "digits 14-20 px tall",
    "heavy noise": "sensor noise sigma 0.08",
    "printed pattern": "printed wavy lines, guilloche, hatching or a dot screen, lighter "
                       "than the ink, over the page or a band",
    "ruled lines": "a printed guide line under each number, touching or crossing the "
                   "digits' bottoms",
    "boxes": "each number in a printed box or comb field, one cell a digit, digits may "
             "touch the lines",
    "punctuation": "amounts such as 1,500.00 / 1.480 / 10- / 250,- in the same pen",
    "marker": "thick, near-black strokes with soft edges",
    "ballpoint": "thin, mid-dark strokes, uneven pressure",
    "pencil": "light grey, grainy, thin strokes",
    "low resolution": "digits 12-16 px tall, slightly blurred",
    "phone photo": "perspective warp, soft shadow, blur, noise, JPEG quality 30-70",
    "sheet on a table": "the page photographed lying on a darker table that shows all round "
                        "it: the sheet 45-80 % of the photo's width, turned up to 8 degrees, "
                        "slight perspective, the table 0.1-0.5 grey with a gradient, JPEG",
    "document": "printed pattern + ruled lines + punctuation + ballpoint, together",
    "clean strips": "no print, even light, little noise; per line the digits drawn narrow "
                    "(x0.7) to wide (x1.35) and the pen thin to thick",
    "register cells": "one cell cut from a scanned register: a 1-3 digit number between two "
                      "printed vertical rules, a black scanner margin filling about a third "
                      "of the crop at one side, pieces of the neighbouring cells' writing cut "
                      "by the crop's edges, sometimes an underline, a trailing comma or "
                      "printed footer text; ballpoint",
    "numbers side by side": "a line's digits written as two or three numbers, as in a date, "
                            "a phone number or a table's row, 0.8-3 digit heights apart",
}


# --------------------------------------------------------------------------
# Digits and marks as ink coverage


def digit_tile(image, scale, angle, shear, stroke, binary=False, aspect=1.0):
    """One digit image (uint8, square, ink bright) as ink coverage 0-1 at
    page scale: enlarged ``scale`` times (its width ``aspect`` times more),
    sheared, turned ``angle`` degrees
    and its strokes widened (``stroke`` > 0) or narrowed by ``abs(stroke)``
    pixels. A ``binary`` bitmap is drawn from a smoothed outline with soft,
    one-pixel edges (a scanner's coverage), not as blocky pixels."""
    size = max(2, round(image.shape[0] * scale))
    if binary:
        tile = Image.fromarray(np.round(255 * soft_bitmap(image, size)).astype(np.uint8))
    else:
        tile = Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)
    if aspect != 1.0:
        tile = tile.resize((max(2, round(size * aspect)), size), Image.Resampling.BICUBIC)
    if shear:
        pad = round(abs(shear) * size / 2) + 1
        tile = tile.transform((size + 2 * pad, size), Image.Transform.AFFINE,
                              (1, shear, -pad - shear * size / 2, 0, 1, 0),
                              Image.Resampling.BICUBIC)
    tile = tile.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    ink = np.asarray(tile, np.float32) / 255.0
    radius = abs(stroke)
    if radius >= 0.5:
        footprint = disk(radius)
        filt = ndimage.grey_dilation if stroke > 0 else ndimage.grey_erosion
        ink = filt(np.pad(ink, footprint.shape[0]), footprint=footprint)
    return np.clip(ink, 0.0, 1.0)


def soft_bitmap(image, size):
    """A binary bitmap (uint8, ink > 0) as ink coverage (size x size, 0-1).

    Shrinking averages the area each page pixel covers. Enlarging smooths
    the bitmap, resamples it and sharpens the 0.5 level back into an edge
    about one page pixel wide, so strokes keep their width and get the
    anti-aliased edge of a scanned pen line.
    """
    bits = (np.asarray(image) > 0).astype(np.float32)
    scale = size / bits.shape[0]
    if scale <= 1:
        return np.asarray(Image.fromarray(bits).resize((size, size), Image.Resampling.BOX))
    smooth = ndimage.gaussian_filter(bits, BITMAP_SMOOTHING)
    up = np.asarray(Image.fromarray(smooth).resize((size, size), Image.Resampling.BICUBIC))
    # The smoothed edge rises ~1/(2.5 sigma) per bitmap pixel at 0.5.
    gain = scale * np.sqrt(2 * np.pi) * BITMAP_SMOOTHING
    return np.clip((up - 0.5) * gain + 0.5, 0.0, 1.0)


def mark_tile(kind, height, pen, rng):
    """A handwritten '.', ',' or '-' as ink coverage (soft edges), for a line
    ``height`` pixels tall and a pen ``pen`` pixels wide. Returns (tile,
    where): ``where`` is the tile's top relative to the line's baseline
    (dots and commas sit on it, a comma's tail hangs below, a dash floats
    at mid height)."""
    s = SUPERSAMPLE
    if kind == "-":
        length = height * (0.3 + 0.25 * rng.random())
        rise = height * 0.06 * (2 * rng.random() - 1)   # a hand's dash is rarely level
        w, h = length + 2 * pen, abs(rise) + 2 * pen
        points = [(pen, pen + max(0.0, rise)), (pen + length / 2, pen + abs(rise) / 2
                                                 + 0.03 * height * (2 * rng.random() - 1)),
                  (pen + length, pen + max(0.0, -rise))]
        where = -height * (0.42 + 0.12 * rng.random()) - h / 2
    else:
        dot = pen * (1.0 + 0.35 * rng.random())
        tail = height * (0.16 + 0.12 * rng.random()) if kind == "," else 0.0
        w, h = dot + 0.45 * tail + 2, dot + tail + 2
        where = -dot - 1 - 0.04 * height * rng.random()
    img = Image.new("L", (max(1, int(np.ceil(w * s))), max(1, int(np.ceil(h * s)))), 0)
    draw = ImageDraw.Draw(img)
    if kind == "-":
        draw.line([(x * s, y * s) for x, y in points], fill=255, width=max(1, round(pen * s)),
                  joint="curve")
        r = pen * s / 2
        for x, y in (points[0], points[-1]):  # round pen ends
            draw.ellipse([x * s - r, y * s - r, x * s + r, y * s + r], fill=255)
    else:
        x0 = 1 + 0.45 * tail
        draw.ellipse([x0 * s, s, (x0 + dot) * s, (1 + dot * (0.85 + 0.2 * rng.random())) * s],
                     fill=255)
        if tail:
            cx, cy = x0 + 0.75 * dot, 1 + 0.6 * dot
            arc = [(cx, cy), (cx - 0.15 * tail, cy + 0.5 * tail), (cx - 0.45 * tail,
                                                                   cy + 0.95 * tail)]
            draw.line([(x * s, y * s) for x, y in arc], fill=255,
                      width=max(1, round(0.7 * pen * s)), joint="curve")
    tile = np.asarray(img.resize((max(1, round(img.width / s)), max(1, round(img.height / s))),
                                 Image.Resampling.BOX), np.float32) / 255.0
    return tile, where


def punctuate(n, rng):
    """Separators for an amount of ``n`` digits, as [(after, mark), ...]:
    thousands groups (1,500 / 1.480), two decimals (12.50 / 1.500,00), a
    dash after the amount (10- / 250,-), or none."""
    options = [[], [(n, "-")], [(n, ","), (n, "-")]]
    if n >= 3:
        options += [[(n - 2, ".")], [(n - 2, ",")]]
    if n >= 4:
        options += [[(k, ",") for k in range(n % 3 or 3, n, 3)],
                    [(k, ".") for k in range(n % 3 or 3, n, 3)]]
    if n >= 6:
        whole = n - 2
        for group, point in ((",", "."), (".", ",")):
            options.append([(k, group) for k in range(whole % 3 or 3, whole, 3)]
                           + [(whole, point)])
    return options[rng.integers(len(options))]


def decimal_after(n, marks):
    """Digits before the decimal separator of a number of ``n`` digits with
    ``marks`` ([{"mark", "after"}, ...]), or None: the decimal separator is
    the last '.' or ',' when exactly two digits follow it to the number's
    end (``1,500.00``: 4; ``12.50-``: 2; ``1.480`` and ``250,-``: None)."""
    seps = [m for m in marks if m["mark"] in ".,"]
    if seps and n - seps[-1]["after"] == 2:
        return seps[-1]["after"]
    return None


# --------------------------------------------------------------------------
# Writing pages


def make_page(rng, images, labels, style=STANDARD, *, drawing=MNIST_DRAWING,
              lines=LINES_PER_PAGE, digits=DIGITS_PER_LINE):
    """Write one page; returns (uint8 grey page, truth).

    ``images``/``labels`` are the digits to draw from (uint8 (n, s, s), ink
    bright; ints), laid out as ``drawing`` says; ``lines`` and ``digits``
    bound the lines per page and digits per line. Every page draws the same
    random numbers from ``rng`` whatever the style (what the newer
    conditions add is drawn from a generator jumped off it), so conditions
    compare the same digits at the same sizes.
    """
    if style.register:
        return make_register_cell(rng, images, labels, style, drawing)
    side = np.random.Generator(rng.bit_generator.jumped())
    placed, truth, printed = [], [], []  # in unshifted page pixels
    y = 0.0
    for number in range(rng.integers(lines[0], lines[1] + 1)):
        u = rng.random(3)
        height = style.height[0] + u[0] * (style.height[1] - style.height[0])
        aspect, pen = 1.0, style.stroke
        if style.stretch != (1.0, 1.0) or style.pens != (0.0, 0.0):
            aspect, pen = side.uniform(*style.stretch), side.uniform(*style.pens)
        if number:
            y += (0.4 + 0.8 * u[1]) * height   # space between lines
        centre = y + height / 2
        tiles = []
        for _ in range(rng.integers(digits[0], digits[1] + 1)):
            k = rng.integers(len(images))
            v = rng.random(4)
            tile = digit_tile(images[k], height / drawing.digit_height * (0.9 + 0.2 * v[0]),
                              style.rotation * (2 * v[1] - 1), style.slant,
                              pen * height, drawing.binary, aspect)
            rows, cols = np.nonzero(tile > INK_LEVEL)
            if not rows.size:  # a thin pen rubbed the digit out
                continue
            top = int(round(centre + 0.08 * height * (2 * v[2] - 1)
                            - (rows.min() + rows.max()) / 2))
            tiles.append({"tile": tile, "rows": rows, "cols": cols, "top": top,
                          "label": int(labels[k]), "gap": v[3]})
        x = u[2] * height
        groups = side_by_side(tiles, style.numbers, side)
        for k, group in enumerate(groups):
            if k:   # drawn only here: other conditions keep their pages
                x = truth[-1]["boxes"][-1][2] + side.uniform(*NUMBER_GAP) * height
            line = lay_out_line(group, x, height, style, side, placed, printed)
            if len(groups) > 1:
                line["row"] = number
            truth.append({**line, "height": height})
        y += height
    return render(rng, side, placed, truth, printed, style)


def side_by_side(tiles, numbers, side):
    """A line's digit ``tiles`` as the numbers written on it: one, or (with
    ``numbers`` > 1) split at random places into two to ``numbers``, each of
    at least one digit."""
    if numbers < 2 or len(tiles) < 2:
        return [tiles] if tiles else []
    k = min(int(side.integers(2, numbers + 1)), len(tiles))
    cuts = sorted(side.choice(np.arange(1, len(tiles)), k - 1, replace=False))
    return [tiles[a:b] for a, b in zip([0, *cuts], [*cuts, len(tiles)])]


def lay_out_line(tiles, x, height, style, side, placed, printed):
    """Place one number's digit ``tiles`` from ``x`` (adding them to
    ``placed``, printed shapes to ``printed``); returns its truth line."""
    n = len(tiles)
    marks = {}
    for after, mark in (punctuate(n, side) if style.punctuation else []):
        marks.setdefault(after, []).append(mark)
    pen = max(1.2, (PEN_WIDTH * (0.85 + 0.3 * side.random()) + 2 * style.stroke) * height)
    baseline = float(np.median([t["top"] + t["rows"].max() + 1 for t in tiles]))
    cell = height * (1.05 + 0.35 * side.random())
    # An amount field often has more cells than digits: the number is right-aligned.
    lead = int(side.integers(0, 3)) if style.boxes else 0
    field_x0 = x
    # Touching pairs: about half the neighbours, at least one pair a number.
    touching = set()
    if style.touch and n > 1:
        touching = {j for j in range(1, n) if side.random() < 0.5} or {int(side.integers(1, n))}
    boxes, line_marks = [], []
    for j, t in enumerate(tiles):
        tile, rows, cols = t["tile"], t["rows"], t["cols"]
        if style.boxes:
            centre_x = field_x0 + (lead + j + 0.5) * cell + 0.1 * cell * (2 * side.random() - 1)
            left = int(round(centre_x - (cols.min() + cols.max()) / 2))
        elif j and j in touching:
            left = touching_left(placed[-1], t, height * 0.07 * t["gap"] + 1)
        else:
            left = int(round(x - cols.min()))
        placed.append((tile, left, t["top"]))
        boxes.append([left + int(cols.min()), t["top"] + int(rows.min()),
                      left + int(cols.max()) + 1, t["top"] + int(rows.max()) + 1])
        x = boxes[-1][2] + (style.gap[0] + t["gap"] * (style.gap[1] - style.gap[0])) * height
        edge = boxes[-1][2]
        for mark in marks.get(j + 1, []):
            m, where = mark_tile(mark, height, pen, side)
            mr, mc = np.nonzero(m > INK_LEVEL)
            if not mr.size:
                continue
            left = int(round(edge + height * (0.08 + 0.12 * side.random()) - mc.min()))
            top = int(round(baseline + where))
            placed.append((m, left, top))
            line_marks.append({"mark": mark, "after": j + 1,
                               "box": [left + int(mc.min()), top + int(mr.min()),
                                       left + int(mc.max()) + 1, top + int(mr.max()) + 1]})
            edge = line_marks[-1]["box"][2]
            x = max(x, edge + height * (0.1 + 0.15 * side.random()))
    line = {"text": "".join(str(t["label"]) for t in tiles), "boxes": boxes,
            "marks": line_marks, "decimal_after": decimal_after(n, line_marks)}
    if style.touch:
        line["touching"] = sorted(touching)  # digit j's strokes overlap digit j - 1's
    x0, x1 = min(b[0] for b in boxes), max(b[2] for b in boxes)
    y0, y1 = min(b[1] for b in boxes), max(b[3] for b in boxes)
    if style.rules:
        # A form's line sits a little under the writing; people write onto and through it.
        thick = max(1.0, 0.035 * height * (0.7 + 0.6 * side.random()))
        ry = float(np.median([b[3] for b in boxes])) + height * (-0.12 + 0.16 * side.random())
        rule = [x0 - height * (0.2 + 0.8 * side.random()), ry,
                x1 + height * (0.3 + 1.5 * side.random()), ry + thick]
        printed.append((*rule, 0.45 + 0.35 * side.random()))
        line["rule"] = [int(np.floor(rule[0])), int(np.floor(rule[1])),
                        int(np.ceil(rule[2])), int(np.ceil(rule[3]))]
    if style.boxes:
        top = (y0 + y1) / 2 - height * (0.55 + 0.18 * side.random())
        bottom = (y0 + y1) / 2 + height * (0.55 + 0.18 * side.random())
        field = [field_x0, top, field_x0 + (lead + n) * cell, bottom]
        printed.extend(field_lines(field, lead + n, side, height))
        line["field"] = [int(np.floor(v)) if k < 2 else int(np.ceil(v))
                         for k, v in enumerate(field)]
        line["cells"] = lead + n
    return line


def touching_left(previous, t, overlap):
    """The left edge that makes tile ``t`` (on its own top) overlap the
    ``previous`` placed tile's strokes by ``overlap`` pixels in the row where
    they come closest, and by no more in any other row."""
    tile, left, top = previous
    prev_rows, prev_cols = np.nonzero(tile > INK_LEVEL)
    right = np.full(tile.shape[0], -np.inf)
    np.maximum.at(right, prev_rows, prev_cols)
    first = np.full(t["tile"].shape[0], np.inf)
    np.minimum.at(first, t["rows"], t["cols"])
    shift = t["top"] - top  # row r of the new tile is row r + shift of the previous
    r = np.arange(len(first))
    both = (r + shift >= 0) & (r + shift < len(right))
    both[both] &= np.isfinite(first[both]) & np.isfinite(right[(r + shift)[both]])
    if not both.any():
        return int(round(left + prev_cols.max() + 1 - t["cols"].min()))
    need = left + right[(r + shift)[both]] - first[both]
    return int(np.floor(need.max() + 1 - overlap))


def field_lines(field, cells, side, height):
    """The printed lines of a box field [x0, y0, x1, y1] with ``cells``
    cells: a full box with separators, or a comb (bottom line and ticks)."""
    x0, y0, x1, y1 = field
    t = max(1.0, 0.03 * height * (0.7 + 0.6 * side.random()))
    dark = 0.45 + 0.4 * side.random()
    comb = side.random() < 0.5
    out = [(x0, y1 - t, x1, y1, dark)]
    if not comb:
        out += [(x0, y0, x1, y0 + t, dark)]
    tick = y0 if not comb else y1 - (y1 - y0) * (0.3 + 0.3 * side.random())
    width = (x1 - x0) / cells
    for k in range(cells + 1):
        cx = x0 + k * width
        out.append((cx - t / 2, tick, cx + t / 2, y1, dark))
    return out


def rect_coverage(shape, rect, shift):
    """Anti-aliased coverage of an axis-aligned rectangle (float pixel edges)."""
    h, w = shape
    x0, y0, x1, y1 = rect[0] + shift[0], rect[1] + shift[1], rect[2] + shift[0], \
        rect[3] + shift[1]
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    cx = np.clip(np.minimum(xs + 1, x1) - np.maximum(xs, x0), 0, 1)
    cy = np.clip(np.minimum(ys + 1, y1) - np.maximum(ys, y0), 0, 1)
    return cy[:, None] * cx[None, :]


def security_pattern(shape, side, height):
    """A printed background pattern's coverage (0-1) over a page of ``shape``:
    fine wavy lines, guilloche, hatching or a dot screen, over the whole page
    or a horizontal band; ``height`` (pixels, a typical digit) sets the scale."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = height * (0.12 + 0.18 * side.random())
    half = 0.35 + 0.45 * side.random()  # half a line's width, pixels
    kind = side.integers(4)

    def lines_at(phase):
        d = np.abs(phase - np.round(phase)) * period
        return np.clip(half + 0.5 - d, 0.0, 1.0)

    wave = height * (0.4 + 1.6 * side.random())
    amp = period * (0.5 + 2.0 * side.random())
    phi = 2 * np.pi * side.random()
    if kind == 0:    # fine wavy lines
        cover = lines_at((yy + amp * np.sin(2 * np.pi * xx / wave + phi)) / period)
    elif kind == 1:  # guilloche: two wave families crossing each other
        cover = np.maximum(lines_at((yy + amp * np.sin(2 * np.pi * xx / wave + phi)) / period),
                           lines_at((yy - amp * np.sin(2 * np.pi * xx / wave + phi)) / period))
    elif kind == 2:  # hatching, sometimes crossed
        angle = np.pi * (0.15 + 0.7 * side.random())
        cover = lines_at((xx * np.cos(angle) + yy * np.sin(angle)) / period)
        if side.random() < 0.5:
            cover = np.maximum(cover, lines_at((xx * np.cos(-angle) + yy * np.sin(-angle))
                                               / period))
    else:            # a dot screen at 45 degrees
        a, b = (xx + yy) / (period * np.sqrt(2)), (xx - yy) / (period * np.sqrt(2))
        d = np.hypot(a - np.round(a), b - np.round(b)) * period
        cover = np.clip(half * 1.6 + 0.5 - d, 0.0, 1.0)
    if side.random() < 0.5:  # a band, as the amount box of a cheque
        top, size = side.random() * 0.6 * h, (0.3 + 0.5 * side.random()) * h
        cover *= rect_coverage(shape, (0, top, w, top + size), (0, 0))
    return cover


def render(rng, side, placed, truth, printed, style):
    """Lay the placed ink and printed shapes on lit, noisy paper with a
    margin; returns (uint8 page, truth) with the truth's boxes in page pixels."""
    margin = int(round(0.5 * style.height[1])) + 4
    lefts = [x for _, x, _ in placed] + [int(np.floor(r[0])) for r in printed]
    tops = [y for _, _, y in placed] + [int(np.floor(r[1])) for r in printed]
    shift_x, shift_y = margin - min(lefts), margin - min(tops)
    page_w = max([x + t.shape[1] for t, x, _ in placed]
                 + [int(np.ceil(r[2])) for r in printed]) + shift_x + margin
    page_h = max([y + t.shape[0] for t, _, y in placed]
                 + [int(np.ceil(r[3])) for r in printed]) + shift_y + margin
    coverage = np.zeros((page_h, page_w), np.float32)
    for tile, x, y in placed:
        region = coverage[y + shift_y:y + shift_y + tile.shape[0],
                          x + shift_x:x + shift_x + tile.shape[1]]
        np.maximum(region, tile, out=region)
    u = rng.random(5)
    median_height = float(np.median([line["height"] for line in truth]))
    if style.blur:
        coverage = ndimage.gaussian_filter(coverage, style.blur * median_height)
    coverage = pen_texture(coverage, style, side, median_height)
    paper, ink = 0.78 + 0.17 * u[0], style.ink[0] + (style.ink[1] - style.ink[0]) * u[1]
    if style.inverted:
        paper, ink = 1.0 - paper, 1.0 - ink
    reflectance = paper + (ink - paper) * coverage
    # Printed ink is laid down first and the pen's on top: their darkening multiplies.
    print_cover = np.zeros_like(coverage)
    for *rect, dark in printed:
        np.maximum(print_cover, dark * rect_coverage(coverage.shape, rect, (shift_x, shift_y)),
                   out=print_cover)
    if style.pattern:
        strength = 0.12 + 0.2 * side.random()   # well under the pen's 0.6-0.9 contrast
        np.maximum(print_cover, strength * security_pattern(coverage.shape, side,
                                                            median_height), out=print_cover)
    reflectance = reflectance * (1.0 - print_cover)
    # Light falls off linearly towards a random side, with a soft bright spot.
    yy, xx = np.mgrid[0:page_h, 0:page_w].astype(np.float32)
    xx, yy = xx / page_w, yy / page_h
    ramp = np.cos(2 * np.pi * u[2]) * xx + np.sin(2 * np.pi * u[2]) * yy
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    spot = np.exp(-((xx - u[3]) ** 2 + (yy - u[4]) ** 2) / 0.08)
    light = 1.0 - style.light * ramp + 0.15 * style.light * spot
    # Noise from its own generator: the page's size, which the style
    # changes, must not change what the main generator draws next.
    noise = np.random.default_rng(rng.integers(2 ** 63)).normal(0.0, 1.0, coverage.shape)
    page = reflectance * light + style.noise * noise

    def moved(box):
        return [box[0] + shift_x, box[1] + shift_y, box[2] + shift_x, box[3] + shift_y]

    out = []
    for line in truth:
        entry = {"text": line["text"], "boxes": [moved(b) for b in line["boxes"]],
                 "marks": [{**m, "box": moved(m["box"])} for m in line["marks"]],
                 "decimal_after": line["decimal_after"]}
        for key in ("rule", "field"):
            if key in line:
                entry[key] = moved(line[key])
        for key in ("cells", "touching", "row"):
            if key in line:
                entry[key] = line[key]
        out.append(entry)
    if style.photo:
        return photograph(page, out, side)
    if style.table:
        return on_a_table(page, out, side)
    return np.clip(np.round(page * 255), 0, 255).astype(np.uint8), out


def pen_texture(coverage, style, side, height):
    """The pen's look on the paper: soft edges (marker), uneven pressure
    along the strokes (ballpoint, pencil), grain (pencil)."""
    if style.soften:
        coverage = ndimage.gaussian_filter(coverage, style.soften * height)
    if style.pressure:
        # Pressure changes over a stroke's length, a few times per digit.
        field = ndimage.gaussian_filter(side.random(coverage.shape).astype(np.float32),
                                        0.25 * height)
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        coverage = coverage * (1.0 - style.pressure * field)
    if style.grain:
        grain = ndimage.gaussian_filter(side.random(coverage.shape).astype(np.float32), 0.6)
        grain = (grain - grain.min()) / max(float(np.ptp(grain)), 1e-6)
        coverage = coverage * (1.0 - style.grain * grain)
    return coverage


# --------------------------------------------------------------------------
# Register cells


FOOTER_WORDS = ("Summe", "Seite", "Name", "Wohnort", "Bemerkungen", "Eintrag", "Stand",
                "Register", "Uebertrag", "Datum")


def make_register_cell(rng, images, labels, style, drawing):
    """One cell cut from a scanned register; returns (uint8 grey crop, truth).

    A handwritten row number of 1-3 digits stands between two printed
    vertical rules; beyond each rule a piece of the neighbouring cell's
    writing is cut by the crop's edge (and sometimes one from the row above
    or below by its top or bottom); a black scanner margin fills about a
    third of the crop at one side. Sometimes the number is underlined or
    followed by a comma, and printed footer text stands under it. The truth
    is the number: one line, its comma (if any) among its marks.
    """
    side = np.random.Generator(rng.bit_generator.jumped())
    height = style.height[0] + rng.random() * (style.height[1] - style.height[0])
    count = int(rng.choice([1, 2, 3], p=[0.25, 0.4, 0.35]))

    def tile_of(k):
        v = rng.random(2)
        return digit_tile(images[k], height / drawing.digit_height * (0.9 + 0.2 * v[0]),
                          style.rotation * (2 * v[1] - 1), style.slant,
                          style.stroke * height, drawing.binary)

    tiles = []
    while len(tiles) < count:
        k = rng.integers(len(images))
        tile = tile_of(k)
        rows, cols = np.nonzero(tile > INK_LEVEL)
        if rows.size:
            tiles.append({"tile": tile, "rows": rows, "cols": cols, "label": int(labels[k]),
                          "top": int(round(0.08 * height * (2 * rng.random() - 1)
                                           - (rows.min() + rows.max()) / 2)),
                          "gap": rng.random()})
    placed, printed = [], []
    line = lay_out_line(tiles, 0.0, height, replace(style, punctuation=False), side,
                        placed, printed)
    pen = max(1.2, (PEN_WIDTH * (0.85 + 0.3 * side.random()) + 2 * style.stroke) * height)
    x0, y0 = min(b[0] for b in line["boxes"]), min(b[1] for b in line["boxes"])
    x1, y1 = max(b[2] for b in line["boxes"]), max(b[3] for b in line["boxes"])
    right = x1
    if side.random() < 0.3:  # "12," as a register's row number is often written
        comma, where = mark_tile(",", height, pen, side)
        mr, mc = np.nonzero(comma > INK_LEVEL)
        left = int(round(x1 + height * (0.08 + 0.1 * side.random()) - mc.min()))
        top = int(round(float(np.median([b[3] for b in line["boxes"]])) + where))
        placed.append((comma, left, top))
        box = [left + int(mc.min()), top + int(mr.min()), left + int(mc.max()) + 1,
               top + int(mr.max()) + 1]
        line["marks"] = [{"mark": ",", "after": count, "box": box}]
        right = box[2]
    if side.random() < 0.4:  # underlined, a pen stroke a little under the digits
        length = right - x0 + height * (0.1 + 0.4 * side.random())
        placed.append((pen_stroke(length, 0.05 * height * (2 * side.random() - 1), pen),
                       int(round(x0 - height * 0.2 * side.random())),
                       int(round(y1 + height * (0.06 + 0.14 * side.random())))))
    # The cell: a rule each side, room above and below; beyond each rule a
    # strip of the neighbouring cell, cut by the crop's edge.
    rule_left = x0 - height * (0.25 + 0.8 * side.random())
    rule_right = right + height * (0.3 + 1.4 * side.random())
    top = y0 - height * (0.45 + 0.5 * side.random())
    bottom = y1 + height * (0.6 + 0.6 * side.random())
    beyond = [height * (0.25 + 0.7 * side.random()) for _ in range(2)]
    crop = [rule_left - beyond[0], top, rule_right + beyond[1], bottom]
    rule = max(1.0, height * (0.025 + 0.035 * side.random()))
    dark = 0.6 + 0.3 * side.random()
    for x in (rule_left, rule_right):
        printed.append((x - rule / 2, top - 2, x + rule / 2, bottom + 2, dark))
    for k, edge in enumerate((crop[0], crop[2])):
        if side.random() < 0.85:  # the neighbouring cell's writing, cut by the crop
            tile = tile_of(rng.integers(len(images)))
            rows, cols = np.nonzero(tile > INK_LEVEL)
            if not rows.size:
                continue
            inside = beyond[k] - 0.1 * height  # stops short of the rule
            width = cols.max() - cols.min() + 1
            shown = min(inside, width * (0.25 + 0.5 * side.random()))
            left = (edge - width + shown if k == 0 else edge - shown) - cols.min()
            placed.append((tile, int(round(left)), int(round(
                (y0 + y1) / 2 + height * 0.3 * (2 * side.random() - 1)
                - (rows.min() + rows.max()) / 2))))
    for edge, sign in ((top, -1), (bottom, 1)):
        if side.random() < 0.35:  # the row above or below reaches into the crop
            tile = tile_of(rng.integers(len(images)))
            rows, cols = np.nonzero(tile > INK_LEVEL)
            if not rows.size:
                continue
            poke = height * (0.1 + 0.2 * side.random())
            row = edge + poke - rows.max() - 1 if sign < 0 else edge - poke - rows.min()
            placed.append((tile, int(round(rule_left + (rule_right - rule_left)
                                             * side.random() - cols.mean())), int(round(row))))
    if side.random() < 0.5:  # printed footer text under the number
        # Print of 2-3 mm beside handwriting of 5-8 mm.
        text = text_tile(" ".join(side.choice(FOOTER_WORDS, int(side.integers(1, 3)))),
                         height * (0.3 + 0.15 * side.random()))
        placed.append((text, int(round(rule_left + height * (0.2 + side.random()))),
                       int(round(bottom - text.shape[0] - height * 0.2 * side.random()))))
    # A black scanner margin, about a third of the crop, beyond the paper's edge.
    share = 0.25 + 0.15 * side.random()
    margin = share / (1 - share) * (crop[2] - crop[0])
    if side.random() < 0.5:
        crop[0] -= margin
        printed.append((crop[0] - 2, top - 2, crop[0] + margin, bottom + 2, 0.97))
    else:
        crop[2] += margin
        printed.append((crop[2] - margin, top - 2, crop[2] + 2, bottom + 2, 0.97))
    truth = [{**line, "height": height}]
    page, out = render(rng, side, placed, truth, printed, style)
    # render() moved everything by a margin of its own: cut the cell out.
    shift_x = out[0]["boxes"][0][0] - line["boxes"][0][0]
    shift_y = out[0]["boxes"][0][1] - line["boxes"][0][1]
    cx0, cy0 = int(round(crop[0])) + shift_x, int(round(crop[1])) + shift_y
    cx1, cy1 = int(round(crop[2])) + shift_x, int(round(crop[3])) + shift_y
    cx0, cy0 = max(cx0, 0), max(cy0, 0)

    def moved(box):
        return [box[0] - cx0, box[1] - cy0, box[2] - cx0, box[3] - cy0]

    entry = {"text": out[0]["text"], "boxes": [moved(b) for b in out[0]["boxes"]],
             "marks": [{**m, "box": moved(m["box"])} for m in out[0]["marks"]],
             "decimal_after": None, "cell": moved([cx0, cy0, cx1, cy1])}
    return np.ascontiguousarray(page[cy0:cy1, cx0:cx1]), [entry]


def pen_stroke(length, rise, pen):
    """A handwritten horizontal stroke ``length`` pixels long, rising
    ``rise`` pixels, ``pen`` wide, as ink coverage with soft edges."""
    s = SUPERSAMPLE
    w, h = length + 2 * pen, abs(rise) + 2 * pen
    img = Image.new("L", (int(np.ceil(w * s)), int(np.ceil(h * s))), 0)
    ends = [(pen, pen + max(0.0, rise)), (pen + length, pen + max(0.0, -rise))]
    ImageDraw.Draw(img).line([(x * s, y * s) for x, y in ends], fill=255,
                             width=max(1, round(pen * s)))
    return np.asarray(img.resize((max(1, round(img.width / s)), max(1, round(img.height / s))),
                                 Image.Resampling.BOX), np.float32) / 255.0


def text_tile(text, size):
    """Printed ``text``, its tallest letters about ``size`` pixels tall, as ink coverage."""
    font = ImageFont.load_default(size=max(6, round(size)))
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("L", (x1 - x0 + 4, y1 - y0 + 4), 0)
    ImageDraw.Draw(img).text((2 - x0, 2 - y0), text, fill=255, font=font)
    return np.asarray(img, np.float32) / 255.0


# --------------------------------------------------------------------------
# Phone photos


def homography(src, dst):
    """The 3x3 projective map taking the four points ``src`` to ``dst``."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return np.append(np.linalg.solve(np.array(a, float), np.array(b, float)), 1).reshape(3, 3)


def apply(h, points):
    """Map (n, 2) points through the homography ``h``."""
    p = np.column_stack([points, np.ones(len(points))]) @ h.T
    return p[:, :2] / p[:, 2:]


def photograph(page, truth, side):
    """A phone photo of the (float, 0-1) ``page``: seen at an angle (each
    corner pulled out by up to 10 % of the page, the paper beyond the edge
    continuing), a soft shadow over part of it, slight blur, sensor noise
    and JPEG compression at quality 30-70. Returns (uint8 photo, truth
    with every box moved to where it lands)."""
    h, w = page.shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    outward = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
    seen = corners + outward * side.uniform(0.0, 0.1, (4, 2)) * [w, h]
    # Output pixel -> page point: the page fills the frame less its pulled corners.
    to_page = homography(corners, seen)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    src = apply(to_page, np.column_stack([xx.ravel() + 0.5, yy.ravel() + 0.5])) - 0.5
    photo = ndimage.map_coordinates(page, [src[:, 1], src[:, 0]], order=1,
                                    mode="reflect").reshape(h, w)
    out = truth_seen(truth, np.linalg.inv(to_page))
    # A shadow (a hand, the phone) with a soft edge across part of the page.
    angle = 2 * np.pi * side.random()
    proj = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5))
    edge = side.uniform(-0.3, 0.3)
    soft = 0.03 + 0.1 * side.random()
    shadow = 1.0 - (0.2 + 0.3 * side.random()) / (1.0 + np.exp(-(proj - edge) / soft))
    photo = ndimage.gaussian_filter(photo * shadow, 0.5 + 0.6 * side.random())
    photo = photo + side.normal(0.0, 0.015 + 0.02 * side.random(), photo.shape)
    return jpeg(photo, int(side.integers(30, 71))), out


def on_a_table(page, truth, side):
    """The (float, 0-1) ``page`` photographed lying on a darker table that
    shows all round it: the sheet 45-80 % of the photo's width (the photo
    larger than the page, so the digits keep their size), turned by up to 8
    degrees and seen at a slight angle, the table 0.1-0.5 grey with a
    gradient and a grain, slight blur, noise and JPEG at quality 60-90.
    Returns (uint8 photo, truth with every box moved to where it lands)."""
    h, w = page.shape
    share = side.uniform(0.45, 0.8)
    out_w, out_h = int(round(w / share)), int(round(h / share))
    centre = np.array([out_w, out_h]) / 2 + side.uniform(-0.1, 0.1, 2) * [out_w - w, out_h - h]
    turn = np.radians(side.uniform(-8, 8))
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    # Each corner off by up to 3 % of the page: the phone not quite square to it.
    seen = ((corners - [w / 2, h / 2]) @ rotation.T + centre
            + side.uniform(-0.03, 0.03, (4, 2)) * [w, h])
    to_page = homography(seen, corners)   # photo pixel -> page point
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    src = apply(to_page, np.column_stack([xx.ravel() + 0.5, yy.ravel() + 0.5])) - 0.5
    photo = ndimage.map_coordinates(page, [src[:, 1], src[:, 0]], order=1, mode="constant",
                                    cval=np.nan).reshape(out_h, out_w)
    angle = 2 * np.pi * side.random()
    slope = np.cos(angle) * (xx / out_w - 0.5) + np.sin(angle) * (yy / out_h - 0.5)
    table = side.uniform(0.1, 0.5) + side.uniform(0.0, 0.15) * slope
    grain = ndimage.gaussian_filter(side.normal(0.0, 1.0, photo.shape), (0.5, 6.0))
    table = table + 0.03 * grain / max(float(grain.std()), 1e-6)
    photo = np.where(np.isnan(photo), table, photo)
    photo = ndimage.gaussian_filter(photo, 0.4 + 0.4 * side.random())
    photo = photo + side.normal(0.0, 0.01 + 0.015 * side.random(), photo.shape)
    return jpeg(photo, int(side.integers(60, 91))), truth_seen(truth, np.linalg.inv(to_page))


def truth_seen(truth, to_photo):
    """``truth`` with every box (digits, marks, rules, fields) moved by the
    homography ``to_photo`` (page point -> photo pixel), each to the box
    round its four corners."""
    def moved(box):
        x0, y0, x1, y1 = box
        p = apply(to_photo, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float))
        return [int(np.floor(p[:, 0].min())), int(np.floor(p[:, 1].min())),
                int(np.ceil(p[:, 0].max())), int(np.ceil(p[:, 1].max()))]

    out = []
    for line in truth:
        entry = {**line, "boxes": [moved(b) for b in line["boxes"]],
                 "marks": [{**m, "box": moved(m["box"])} for m in line["marks"]]}
        for key in ("rule", "field"):
            if key in line:
                entry[key] = moved(line[key])
        out.append(entry)
    return out


def jpeg_bytes(pixels, quality=90):
    """A uint8 grey array as JPEG bytes, as a phone saves a photo."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def jpeg(photo, quality):
    """A float (0-1) picture as a phone saves it: uint8 through JPEG."""
    saved = jpeg_bytes(np.clip(np.round(photo * 255), 0, 255).astype(np.uint8), quality)
    return np.asarray(Image.open(io.BytesIO(saved)).convert("L")).copy()
