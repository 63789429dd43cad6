"""Read the handwritten digits in a photo or scan with a trained CNN.

The pipeline behind ``read_digits.py``, one step per function::

    ensemble = confidence.load_reader(model_path)  # the models and their calibration
    grey = images.read_image(path)                 # (h, w) 0-1
    page = prepare_page(grey)                      # characters, (n, 28, 28) inputs
    probs = classify_pieces(ensemble, page.crops)  # (n, 10), one batch
    lines, probs, crops, cut = resolve(page, probs)  # split touching digits or not
    judged = judge(ensemble, lines, crops, cut, probs)  # P(right) per digit
    reading = describe(lines, judged, page.ink_dark, ensemble=ensemble)  # JSON-ready dict

:func:`read_page` and :func:`read_file` run them all. Heavy sensor noise
is smoothed, the lighting evened out and the ink polarity decided once for
the whole page; :mod:`digitsuite.reading.segment` finds the characters; each is cut
out with its soft stroke edges, made foreground against its own
surroundings (:func:`digitsuite.data.images.to_foreground` with the page's
polarity) and prepared by :func:`digitsuite.data.images.mnist_style`, the same
preparation ``visualize_layers.py --image`` uses. A character wider than a
digit usually is may be touching digits: it is classified whole and in
every piece between its thinnest columns, and the reading the model is
surer of wins. :mod:`digitsuite.reading.confidence` then judges each
digit read and each number: a calibrated probability of being right, from
which a digit prints as '?' and a number is vouched for or not.
"""

import functools
import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from digitsuite.data import images
from digitsuite.errors import ImageError, ModelFileError, NoDigit, printable
from digitsuite.fileio import json_ready
from digitsuite.markdown import bar_decimals, decimals_apart, percent
from digitsuite.reading import confidence, printed, segment
from digitsuite.reading.steps import ALL

MIN_CONFIDENCE = confidence.UNCALIBRATED_MIN  # a plain model's '?' threshold
PIECE_COST = 0.1      # log-confidence a reading pays per character it cuts a glyph into
EDGE = 2              # pixels of soft stroke edge kept around a glyph's thresholded ink
PAPER_MARGIN = 0.25   # paper around a glyph, x its height, that sets its contrast
# Pages are shrunk to at most this many pixels a side before reading: a
# 300 dpi A4 scan keeps 5 mm digits over 30 pixels tall, and the time and
# memory of a read stay bounded whatever the file holds.
PAGE_MAX_SIDE = 2000
# The most glyphs and pieces of glyphs prepared and classified on one page.
# Written pages take about 3 per digit, 5 where digits touch (a wide glyph
# is also read cut every way the lattice offers), so several hundred digits
# fit. Each costs a few milliseconds: a picture of noise or texture, which
# breaks into thousands, is refused in seconds instead of read for a minute.
MAX_PIECES = 2000
# A number whose every glyph the models spread this evenly over the classes
# (top probability under NOT_DIGIT_TOP) and, calibrated, give a chance of
# being right under NOT_DIGIT_P is no digit: a mark, a scribble, print.
NOT_DIGIT_TOP = 0.5
NOT_DIGIT_P = 0.05
# A loopy glyph whose every piece is under this likely right is a scrawl.
SCRAWL_P = 0.5
# Why a number with a scribble beside it is not vouched for.
SCRAWL_DOUBT = "a scribble beside it was not read (a digit written over or struck out?)"
# The digits of a date between its slashes: day and month (or month and
# day) and a year of two or four digits, or the year first.
DATE_GROUPS = {(d, m, y) for d in (1, 2) for m in (1, 2) for y in (2, 4)} | {
    (4, m, d) for m in (1, 2) for d in (1, 2)}
DATE_DOUBT = "it may be the date {}: its leaning 1s may be slashes"
# A glyph this many times wider than tall is a dash or a line.
DASH_SHAPE = 2.0
# A number on a line of writing much smaller than the page's needs this
# share of its digits sure, or it is taken for a row of small print.
SMALL_SURE = 0.5
# The lighter ink the pattern step left out is a form's printed lines,
# lighter than the pen, when rules and boxes make up this share of it.
FORM_LINES = 0.6
# A removed upright piece taller than this x the characters is a frame's
# or a margin's side, not a box cell's or a digit's.
UPRIGHT_MAX = 2.5


@dataclass
class Page:
    """A page's characters before classification.

    ``lines[i][j]`` is the :class:`digitsuite.reading.segment.Lattice` of
    glyph j of line i: itself, or for a wide one also the pieces it may be
    cut into; ``marks[i]`` are line i's punctuation glyphs (``glyph.mark``
    set); ``crops`` holds the model input of every piece of every lattice,
    in order; ``unread`` the boxes of ink no character or mark took
    (:func:`digitsuite.reading.segment.unread`) and of the box sides taken
    off (:func:`upright_pieces`), either of which may be a digit lost;
    ``walls`` the boxes of every box side and comb tick taken off, which
    tell the cells of a box field (:func:`digitsuite.reading.segment.word_breaks`);
    ``small[i]`` whether line i is writing much smaller than the page's
    (:func:`digitsuite.reading.segment.small_writing`); ``scribbles`` the
    glyphs not read because they are scribbles
    (:func:`digitsuite.reading.segment.scribble`).
    """

    lines: list
    marks: list
    crops: np.ndarray  # float32 (n, 28, 28) in 0-1
    ink_dark: bool
    unread: list = field(default_factory=list)
    walls: list = field(default_factory=list)
    small: list = field(default_factory=list)
    scribbles: list = field(default_factory=list)


def prepare_page(grey, steps=ALL):
    """Grey page (0-1) -> :class:`Page`. Raises NoDigit when it shows no digit.
    ``steps`` (:class:`digitsuite.reading.steps.Steps`) switches the document
    steps on or off."""
    grey = images.reduce_noise(grey)
    margin = printed.dark_margin(grey) if steps.edges else None
    if margin is not None:
        grey = printed.without_margin(grey, margin)
    flat = images.even_out_lighting(grey)
    ink_dark = images.ink_is_dark(flat)
    if steps.shadows:
        flat = images.even_out_shadows(flat, ink_dark)
    # A light, grainy pencil: smoothed, so its grain does not break its
    # strokes into specks.
    flat, min_contrast = images.smooth_faint_ink(flat, ink_dark)
    dense = False
    try:
        ink = images.to_foreground(flat, ink_dark, min_contrast)
    except ImageError:
        # The paper's own median and the ink's are close: a dense printed
        # pattern can do that to a page with writing on it (over part of
        # it, say). Its strongest ink still stands out: take the darkest
        # tenth of a percent as ink, and look for the pattern as on a page
        # that it covers.
        level = 1.0 - flat if ink_dark else flat
        low, high = np.median(level), np.percentile(level, 99.9)
        if high - low < images.MIN_CONTRAST:
            raise
        ink = np.clip((level - low) / (high - low), 0.0, 1.0).astype(np.float32)
        dense = True
    mask, whole = segment.ink_mask(flat, ink_dark, faint=ink > 0, pattern=steps.pattern,
                                   whole=True, dense=dense)
    inked = mask  # before rules, box sides and edges are taken off it
    rules = np.zeros_like(mask)
    if steps.edges:
        mask, rules = printed.remove_edges(mask, margin)
    upright = np.zeros_like(mask)
    if steps.rules:
        if whole is not None and steps.edges:
            whole = printed.remove_edges(whole, margin)[0]
        mask, lines, upright = remove_rules(mask, whole)
        rules |= lines
    found, scribbles = [], []
    for line in segment.find_lines(mask, marks=steps.punctuation):
        characters = [glyph for glyph in line if not glyph.mark]
        height = segment.line_height(characters) if characters else 0
        # A scribble is read as no digit, not cut into pieces that look like some.
        loops = [segment.holes(glyph.mask) for glyph in characters]
        scrawls = [segment.scribble(glyph, height, n) for glyph, n in zip(characters, loops)]
        scribbles += [glyph for glyph, scrawl in zip(characters, scrawls) if scrawl]
        ways = []
        for glyph, n, scrawl in zip(characters, loops, scrawls):
            if scrawl:
                continue
            way = (segment.lattice(glyph, height) if steps.lattice
                   else segment.Lattice([0, glyph.width], {(0, 1): glyph}))
            if n > segment.MAX_HOLES and glyph.width <= segment.SCRAWL_WIDTH * height:
                way.pieces = {span: replace(part, loopy=glyph.box)
                              for span, part in way.pieces.items()}
            ways.append((glyph, way))
        found.append((line, ways))
    pieces = sum(len(ways.pieces) for _, glyphs in found for _, ways in glyphs)
    if pieces > MAX_PIECES:
        raise ImageError(f"the picture holds {pieces:,} shapes to read, more than the "
                         f"{MAX_PIECES:,} a page is read for: is it noise or a texture? "
                         "Crop it to the numbers, or use a cleaner scan")
    lines, marks, crops, taken, small = [], [], [], [], []
    for line, glyphs in found:
        readable = []
        for glyph, ways in glyphs:
            inputs = {}
            for span, piece in ways.pieces.items():
                try:
                    inputs[span] = glyph_input(flat, ink_dark, ink, mask, piece, rules,
                                               thin_strokes=steps.thinning)
                except ImageError:
                    pass  # no ink of its own once print and neighbours are left out
            ways = segment.Lattice(ways.cuts, {span: ways.pieces[span] for span in inputs})
            if best_path(ways, dict.fromkeys(inputs, 0.0)) is not None:
                readable.append(ways)
                crops += inputs.values()
                taken.append(glyph)
        if readable:  # a line of nothing but punctuation has nothing to read
            small.append(all(glyph.small for glyph, _ in glyphs))
            lines.append(readable)
            marks.append([glyph for glyph in line if glyph.mark])
            taken += marks[-1]
    if not lines:
        if scribbles:
            raise NoDigit("only a scribble stands out from the paper; use a picture of "
                          "written digits", [g.box for g in scribbles])
        raise NoDigit("only specks of ink stand out from the paper; use a picture with "
                      "larger, darker writing")
    # Light ink the size of a character, which the threshold left out, is
    # unread too, unless it may be the printed pattern's or the soft edge
    # of ink taken off (a rule, a neighbour's fragment at the cell's side).
    faint = (segment.faint_glyphs(ink > 0, inked, segment.typical_height(taken))
             if whole is None else [])
    return Page(lines, marks, np.stack(crops), ink_dark,
                segment.unread(mask, taken) + upright_pieces(upright, taken)
                + [g.box for g in faint],
                [g.box for g in segment.components(upright)], small, scribbles)


def remove_rules(mask, whole=None):
    """:func:`digitsuite.reading.printed.remove_rules` on the page's ink
    ``mask``: (mask, rules taken off, box sides and comb ticks taken off).

    ``whole``: the page's ink with the lighter ink the pattern step left
    out of ``mask`` (None when it left none out). A form's printed lines
    lighter than the pen pass for a pattern: they are left out away from
    the strokes and kept beside them, and the stubs left are too short to
    be found as rules and are read as digits. So the rules are first
    looked for in the whole ink and put back whole, to be taken off whole
    with the others; what is put back and not taken off is left out again.
    This is done only when the lighter ink is mostly such lines
    (FORM_LINES): of a printed pattern, the rules found are a few of its
    strokes, and taking those off as print would cut into the digits they
    cross. Both searches use the character height of ``mask``: the whole
    ink of a page printed with a fine pattern has no character height."""
    height, restored = None, np.zeros_like(mask)
    if whole is not None:
        height = printed.character_height(mask)
        found = printed.remove_rules(whole, height).removed & ~mask
        if np.count_nonzero(found) >= FORM_LINES * np.count_nonzero(whole & ~mask):
            restored = found
    mask, lines, upright = printed.remove_rules(mask | restored, height)
    return mask & ~restored, lines, upright


def upright_pieces(upright, taken):
    """The boxes of the removed box sides and comb ticks (bool mask
    ``upright``) no taller than UPRIGHT_MAX x the median height of the
    characters ``taken``: the ink taken off as a box around a digit, where
    a 1 mistaken for a box side also goes."""
    heights = [g.height for g in taken if not g.mark]
    if not heights or not upright.any():
        return []
    tallest = UPRIGHT_MAX * float(np.median(heights))
    return [g.box for g in segment.components(upright)
            if g.width < g.height <= tallest]


def glyph_input(grey, ink_dark, ink, mask, glyph, printed_ink=None, thin_strokes=True):
    """The glyph's 28x28 MNIST-style input.

    The glyph's surroundings (PAPER_MARGIN x its height each way) of the
    grey page become foreground with the page's polarity, so each digit's
    strokes reach full strength however light its pen (the page-wide
    foreground ``ink`` stands in when that fails).
    Only the glyph's own ink is kept: its thresholded ``mask`` pixels plus
    EDGE pixels of soft edge, none of the neighbours' strokes, nor the
    ``printed_ink`` (bool, the guide lines taken off the page).
    ``thin_strokes``: see :func:`digitsuite.data.images.mnist_style`.
    """
    x0, y0, x1, y1 = glyph.box
    height, width = mask.shape
    pad = max(EDGE, int(round(PAPER_MARGIN * glyph.height)))
    ex0, ey0 = max(0, x0 - pad), max(0, y0 - pad)
    ex1, ey1 = min(width, x1 + pad), min(height, y1 + pad)
    around = np.s_[ey0:ey1, ex0:ex1]
    own = np.zeros((ey1 - ey0, ex1 - ex0), bool)
    own[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0] = glyph.mask
    keep = ndimage.binary_dilation(own, iterations=EDGE) & ~(mask[around] & ~own)
    if printed_ink is not None:
        keep &= ~ndimage.binary_dilation(printed_ink[around] & ~own)
    try:
        return images.mnist_style(images.to_foreground(grey[around], ink_dark) * keep,
                                  thin_strokes)
    except ImageError:
        # No contrast around the glyph, or none of its own ink above that
        # contrast: the page-wide foreground is positive on all its ink.
        return images.mnist_style(ink[around] * keep, thin_strokes)


def check_classifier(model, path):
    """Raise ModelFileError unless ``model`` gives one score per digit 0-9."""
    if model.output_shape != (None, 10):
        raise ModelFileError(f"{path} outputs shape {model.output_shape}; reading digits "
                             "needs a classifier with 10 class scores, e.g. "
                             "runs/cnn/model.keras from train_cnn.py")


def classify(model, crops):
    """Class probabilities (n, 10) for float crops (n, 28, 28) in 0-1: a
    Keras classifier's, or an :class:`~digitsuite.reading.confidence.Ensemble`'s
    average."""
    return confidence.as_ensemble(model).probabilities(crops)


def classify_pieces(model, crops):
    """Class probabilities (n, 10) of every piece of every lattice, which
    choose how to cut a glyph: the reader model's alone
    (:meth:`~digitsuite.reading.confidence.Ensemble.piece_probabilities`)."""
    return confidence.as_ensemble(model).piece_probabilities(crops)


def resolve(page, probs):
    """Choose, for each glyph, the pieces the model reads best: the path
    through its lattice with the highest sum of log top probabilities, less
    PIECE_COST per piece (so a digit is not cut in two without cause).

    ``probs`` are the classifier's outputs for ``page.crops``. Returns
    (lines of glyphs, their probs (m, 10), their crops (m, 28, 28), and
    whether each was cut out of a wider glyph (bool (m,))).
    """
    score = np.log(np.maximum(probs.max(axis=1), 1e-12)) - PIECE_COST
    lines, chosen, cut, k = [], [], [], 0
    for line in page.lines:
        glyphs = []
        for ways in line:
            index = {span: k + n for n, span in enumerate(ways.pieces)}
            k += len(ways.pieces)
            path = best_path(ways, {span: score[i] for span, i in index.items()})
            glyphs += [ways.pieces[span] for span in path]
            chosen += [index[span] for span in path]
            cut += [len(path) > 1] * len(path)
        lines.append(glyphs)
    return lines, probs[chosen], page.crops[chosen], np.array(cut, bool)


def geometry(lines, cut):
    """Per glyph of ``lines`` (reading order): width, height, its line's
    height, ink share of its box and whether it was cut (float (m, 5)): what
    :func:`digitsuite.reading.confidence.digit_features` weighs."""
    rows = [(g.width, g.height, segment.line_height(line), float(g.mask.mean()))
            for line in lines for g in line]
    return np.column_stack([np.array(rows, np.float64).reshape(-1, 4),
                            np.asarray(cut, np.float64)])


def judge(model, lines, crops, cut, probs=None):
    """The :class:`~digitsuite.reading.confidence.Judgement` of the chosen
    glyphs (from :func:`resolve`)."""
    return confidence.as_ensemble(model).judge(crops, geometry(lines, cut), probs)


def best_path(ways, score):
    """The spans (i, j) of the best-scoring path from cut 0 to the last cut
    of lattice ``ways`` (dynamic programming over its cuts); None when no
    path of its pieces gets there."""
    best = {0: (0.0, [])}
    for j in range(1, ways.last + 1):
        options = [(best[i][0] + score[(i, j)], best[i][1] + [(i, j)])
                   for i in range(j) if i in best and (i, j) in ways.pieces]
        if options:
            best[j] = max(options, key=lambda option: option[0])
    return best[ways.last][1] if ways.last in best else None


def describe(lines, judged, ink_dark, min_confidence=None, marks=None, ensemble=None,
             not_digits=(), unread=(), walls=(), scribbles=()):
    """The reading as a JSON-ready dict.

    ``judged``: the :class:`~digitsuite.reading.confidence.Judgement` of the
    glyphs of ``lines`` (or their softmax probabilities (m, 10), judged as a
    plain model's). ``ensemble`` (the reader that judged them) sets when a
    digit or number is unsure: a digit whose probability of being right is
    under ``min_confidence`` (default: the ensemble's own threshold), a
    number holding an unsure digit or whose own probability is under the
    ensemble's number threshold.

    ``calibrated``: whether those probabilities are calibrated (a reader
    with ``calibration.json``) or a plain model's softmax. ``thresholds``:
    the ``digit`` probability under which a digit is unsure and the
    ``number`` one under which a number is (None uncalibrated). ``lines``: the
    text of each line of writing, '?' for an unsure digit, a space where a
    wide gap parts two numbers; punctuation is left out. ``digits``: per
    glyph in reading order, its ``box`` [x0, y0, x1, y1] (pixels, ends
    exclusive), ``line`` (index into ``lines``), ``digit`` (the most likely),
    ``confidence`` (its probability of being right), ``unsure`` and ``top2``
    [[digit, probability], [digit, probability]] (the models' softmax).
    ``numbers``: per number (:func:`numbers_of`), its ``line``, ``text``,
    ``box``, ``confidence`` and ``unsure``, the punctuation ``marks`` seen in
    or just after it and ``decimal_after``, with ``amount`` the text with a
    decimal point and ``written`` the text with its marks where they stand;
    ``unread_beside``, the largest piece of ink left unread beside it in its
    heights (:func:`digitsuite.reading.confidence.unread_beside`; 0 none);
    ``doubts``, why a number of shown digits is not vouched for, where
    what lies beside it decided that
    (:meth:`digitsuite.reading.confidence.Ensemble.doubts`).
    ``marks`` (one list of mark glyphs per line) come from :class:`Page`.
    ``not_digits``: the glyphs set aside as no digit
    (:func:`set_aside_non_digits`, and scribbles); ``unread``: the page's
    unread ink (:attr:`Page.unread`), which a number's probability weighs;
    ``walls``: the cell walls taken off (:attr:`Page.walls`), which join
    the digits of a box field into one number; ``scribbles``: the boxes of
    scribbles and scrawls (:func:`scrawled`). A number with one beside it
    is never vouched for: it may be a digit written over or struck out,
    which the calibration never saw, so no probability can say. Nor is any
    number read without a calibration: a model's softmax over 0.9 is no
    chance of being right on other people's writing.
    """
    ensemble = confidence.as_ensemble(ensemble) if ensemble is not None else None
    if not isinstance(judged, confidence.Judgement):
        probs = np.asarray(judged, np.float64)
        judged = confidence.Judgement(probs.argmax(axis=1), probs.max(axis=1), probs)
    calibrated = ensemble is not None and ensemble.calibrated
    if min_confidence is None:
        min_confidence = ensemble.digit_threshold if ensemble is not None else MIN_CONFIDENCE
    digits, texts, numbers = [], [], []
    guess = {}  # each glyph's most likely digit, shown or not (as_date)
    k = 0
    for number, line in enumerate(lines):
        text, members = "", []
        for glyph, space in zip(line, segment.word_breaks(line, walls)):
            p, best, sure = judged.probs[k], int(judged.digits[k]), float(judged.p_right[k])
            # The runner-up to the chosen digit, which need not be p's own top.
            second = int(next(c for c in np.argsort(p)[::-1] if c != best))
            unsure = bool(sure < min_confidence)
            text += (" " if space else "") + ("?" if unsure else str(best))
            members.append((glyph, space, "?" if unsure else str(best), sure))
            guess[id(glyph)] = str(best)
            digits.append({"box": [int(v) for v in glyph.box], "line": number,
                           "digit": best, "confidence": round(sure, 4), "unsure": unsure,
                           "top2": [[best, round(float(p[best]), 4)],
                                    [second, round(float(p[second]), 4)]]})
            k += 1
        texts.append(text)
        numbers += numbers_of(number, members, marks[number] if marks else [])
    unread = np.asarray(unread, np.float64).reshape(-1, 4)  # once, not per number
    scribbles = np.asarray(scribbles, np.float64).reshape(-1, 4)
    for found, gap in zip(numbers, confidence.neighbour_gaps(numbers)):
        p_digits, glyphs = found.pop("p_digits"), found.pop("glyphs")
        boxes = [g.box for g in glyphs]
        beside = confidence.unread_beside(boxes, unread)
        scrawl = confidence.unread_beside(boxes, scribbles) > 0
        ambiguous = confidence.ambiguous_gap(boxes, walls)
        p_number = (ensemble.number_p(p_digits, boxes, gap, beside, ambiguous)
                    if calibrated else float(np.prod(p_digits)))
        found["unread_beside"] = round(beside, 2)
        found["confidence"] = round(p_number, 4)
        found["unsure"] = bool("?" in found["text"] or scrawl or not calibrated or ambiguous
                               or p_number < ensemble.number_threshold)
        found["doubts"] = (ensemble.doubts(p_digits, boxes, gap, beside, ambiguous, walls)
                           if calibrated and "?" not in found["text"] else [])
        if scrawl and "?" not in found["text"]:
            found["doubts"].append(SCRAWL_DOUBT)
        # A stroke's lean is measured only where two 1s could be slashes;
        # an unsure digit is looked at as its most likely one (a slash read
        # as '?', guessed '1'), and shown as '?' in the date.
        guesses = "".join(guess[id(g)] for g in glyphs)
        date = (as_date(guesses, [segment.slash_like(g) for g in glyphs], found["text"])
                if guesses.count("1") >= 2 else None)
        if date is not None:
            found["unsure"] = True
            found["doubts"].append(DATE_DOUBT.format(date))
    # The reading leaves the package as JSON (CLI, app, readings.json): checked
    # here, once, rather than trusted to every field above.
    thresholds = {"digit": round(float(min_confidence), 4),
                  "number": round(float(ensemble.number_threshold), 4) if calibrated else None}
    return json_ready({"ink": "dark on light" if ink_dark else "light on dark",
                       "calibrated": calibrated, "thresholds": thresholds, "lines": texts,
                       "digits": digits, "numbers": numbers,
                       "not_digits": [[int(v) for v in g.box] for g in not_digits]})


def set_aside_non_digits(lines, judged, calibrated, walls=(), small=(), threshold=None):
    """Take out the numbers that are no digit at all: every glyph of them
    read with an even spread over the classes (top probability under
    NOT_DIGIT_TOP, which the reader model learned to give marks, scribbles
    and print) and almost surely wrong (under NOT_DIGIT_P). Only a calibrated
    reader judges this: a plain model never learned what is no digit.
    A number with one such glyph among digits keeps it as a '?': the
    digit could be a badly written one. ``walls``: as for :func:`describe`,
    which numbers are. On a line of small writing (``small[i]`` true), a
    number fewer than SMALL_SURE of whose digits reach ``threshold`` (the
    '?' threshold) is taken out too: a row of small print reads as '?'s.
    Returns (lines, judged, the index of each line kept, the index of each
    glyph kept, the glyphs set aside). A number of nothing but dots or
    blobs (:func:`digitsuite.reading.segment.blob`) is set aside whatever
    the model says: a lone dot has no line to be punctuation in, and a
    model trained on digits reads it as a '0'. A glyph of more loops than a
    digit has (:attr:`digitsuite.reading.segment.Glyph.loopy`) each of whose
    pieces reads as more likely wrong than right is a scrawl
    (:func:`scrawled`): set aside whole, as one glyph,
    before the numbers are told apart (a scrawl beside a number is no digit
    of it)."""
    scrawls = scrawled(lines, judged)
    keep, kept_lines, kept_index, set_aside, k = [], [], [], [], 0
    set_aside += scrawls.values()
    for index, line in enumerate(lines):
        kept = []
        start, k = k, k + len(line)
        mine = [i for i, g in enumerate(line) if g.loopy not in scrawls]
        line = [line[i] for i in mine]
        if not line:
            continue
        groups = np.cumsum(segment.word_breaks(line, walls))
        for group in np.unique(groups):
            members = [start + mine[i] for i in np.flatnonzero(groups == group)]
            glyphs = [line[i] for i in np.flatnonzero(groups == group)]
            # The model's say first: it is already computed, a glyph's
            # stroke width (segment.blob) is not.
            noise = calibrated and all(
                judged.probs[m].max() < NOT_DIGIT_TOP and judged.p_right[m] < NOT_DIGIT_P
                for m in members) or all(segment.blob(g) for g in glyphs)
            if index < len(small) and small[index] and threshold is not None:
                sure = np.mean([judged.p_right[m] >= threshold for m in members])
                noise = noise or sure < SMALL_SURE
            if noise:
                set_aside += glyphs
            else:
                kept += glyphs
                keep += members
        if kept:
            kept_lines.append(kept)
            kept_index.append(index)
    keep = np.array(keep, int)
    return (kept_lines, confidence.Judgement(judged.digits[keep], judged.p_right[keep],
                                             judged.probs[keep]), kept_index, keep, set_aside)


def scrawled(lines, judged):
    """The scrawls among the glyphs of ``lines`` (reading order, as
    ``judged``): {the box of a loopy glyph
    (:attr:`digitsuite.reading.segment.Glyph.loopy`): that glyph, its
    pieces joined} for each whose pieces all read under SCRAWL_P. Two
    touching digits may have as many loops, but read as likelier right."""
    pieces, unsure = {}, {}
    for m, glyph in enumerate(g for line in lines for g in line):
        if glyph.loopy:
            pieces.setdefault(glyph.loopy, []).append(glyph)
            unsure[glyph.loopy] = unsure.get(glyph.loopy, True) and (
                judged.p_right[m] < SCRAWL_P)
    return {box: replace(functools.reduce(segment.join, parts), loopy=box)
            for box, parts in pieces.items() if unsure[box]}


def numbers_of(line_index, members, marks):
    """The numbers of one line: ``members`` are its characters as (glyph,
    starts a number, text) in reading order; each mark of ``marks`` goes to
    the number it lies in or just after (within WORD_GAP x its height).

    ``decimal_after``: digits before the decimal separator, the last dot or
    comma followed by one or two digits to the end of the number (``1,500.00``:
    4; ``1.480``, a thousands separator: None). ``amount`` is ``text`` with
    that separator written as a point.
    """
    groups = []
    for glyph, starts, char, sure in members:
        if starts or not groups:
            groups.append([])
        groups[-1].append((glyph, char, sure))
    out = []
    for group in groups:
        x0 = min(g.box[0] for g, *_ in group)
        x1 = max(g.box[2] for g, *_ in group)
        height = float(np.median([g.height for g, *_ in group]))
        near = [m for m in marks
                if x0 < (m.box[0] + m.box[2]) / 2 < x1 + segment.WORD_GAP * height]
        # int(): a sum of NumPy booleans is a NumPy integer, which JSON cannot hold.
        found = [{"mark": m.mark,
                  "after": int(sum(g.box[0] + g.box[2] < m.box[0] + m.box[2]
                                   for g, *_ in group)),
                  "box": [int(v) for v in m.box]}
                 for m in sorted(near, key=lambda m: m.box[0])]
        text = "".join(char for _, char, _ in group)
        decimal = next((m["after"] for m in reversed(found) if m["mark"] in ".,"), None)
        if decimal is not None and not 1 <= len(text) - decimal <= 2:
            decimal = None
        out.append({"line": line_index, "text": text, "written": written(text, found),
                    "box": [int(x0), int(min(g.box[1] for g, *_ in group)), int(x1),
                            int(max(g.box[3] for g, *_ in group))],
                    "marks": found, "decimal_after": decimal,
                    "amount": text if decimal is None else f"{text[:decimal]}.{text[decimal:]}",
                    "p_digits": [sure for *_, sure in group],
                    "glyphs": [g for g, *_ in group]})
    return out


def as_date(text, slashes, shown=None):
    """A number's digits ``text`` read as a date, when two of its '1's are
    slash-like (``slashes[i]`` for character i, see
    :func:`digitsuite.reading.segment.slash_like`) and part it as a date's
    slashes would (DATE_GROUPS, a month no higher than 12 and a day no
    higher than 31, neither 0): ``12/05/26`` read as ``12105126``. None
    otherwise. The date is written with the characters of ``shown`` (the
    number as shown, '?' for an unsure digit; default ``text``). A 1
    leaning so is as likely a slash there, and a number that may be a date
    is never vouched for as a number."""
    shown = text if shown is None else shown
    at = [i for i, (char, slash) in enumerate(zip(text, slashes)) if char == "1" and slash]
    for a, b in itertools.combinations(at, 2):
        parts = text[:a], text[a + 1:b], text[b + 1:]
        groups = tuple(len(part) for part in parts)
        if groups not in DATE_GROUPS or not all(part.isdigit() for part in parts):
            continue
        # Year first, or day and month either way round.
        day_month = [int(part) for part in (parts[1:] if groups[0] == 4 else parts[:2])]
        if min(day_month) >= 1 and max(day_month) <= 31 and min(day_month) <= 12:
            return "/".join((shown[:a], shown[a + 1:b], shown[b + 1:]))
    return None


def written(text, marks):
    """A number's ``text`` with its ``marks`` ([{"mark", "after"}, ...])
    put back where they stand: ``1,234.56``, ``10:45``, ``250,-``."""
    after = {}
    for m in marks:
        after.setdefault(m["after"], []).append(m["mark"])
    return "".join("".join(after.get(i, [])) + char for i, char in enumerate(text)) + "".join(
        after.get(len(text), []))


def read_page(model, grey, min_confidence=None, steps=ALL):
    """Read a grey page (0-1) with a Keras classifier or an
    :class:`~digitsuite.reading.confidence.Ensemble`: returns (reading dict,
    crops (n, 28, 28)). ``steps``: the document steps to run
    (:class:`digitsuite.reading.steps.Steps`, default all)."""
    return read_prepared(model, prepare_page(grey, steps), min_confidence)


def read_prepared(model, page, min_confidence=None):
    """:func:`read_page` from its :func:`prepare_page`'s page onwards."""
    ensemble = confidence.as_ensemble(model)
    lines, probs, crops, cut = resolve(page, classify_pieces(ensemble, page.crops))
    # Those are the reader model's probabilities: a judge of more models
    # reads the chosen crops again.
    judged = judge(ensemble, lines, crops, cut, probs if len(ensemble.models) == 1 else None)
    lines, judged, kept_lines, kept, set_aside = set_aside_non_digits(
        lines, judged, ensemble.calibrated, page.walls, page.small, ensemble.digit_threshold)
    scribbles = page.scribbles + [g for g in set_aside if g.loopy]
    reading = describe(lines, judged, page.ink_dark, min_confidence,
                       [page.marks[i] for i in kept_lines], ensemble, set_aside + page.scribbles,
                       page.unread, page.walls, [g.box for g in scribbles])
    crops = crops[kept]
    if not reading["digits"]:
        raise NoDigit(f"{nothing_but(set_aside)}; use a picture of written digits",
                      reading["not_digits"])
    return reading, crops


def nothing_but(glyphs):
    """What a page of nothing but ``glyphs``, set aside as no digit, shows,
    in a few words: dots or blobs (:func:`digitsuite.reading.segment.blob`),
    dashes or lines (DASH_SHAPE times wider than tall, as the one-digit
    path says), or marks of no one kind."""
    one = len(glyphs) == 1
    if glyphs and all(segment.blob(g) for g in glyphs):
        what = "a dot or a blob" if one else "dots or blobs"
    elif glyphs and all(g.width >= DASH_SHAPE * g.height for g in glyphs):
        what = "a dash or a line" if one else "dashes or lines"
    else:
        return ("what stands out from the paper reads as no digit (a mark, a scribble "
                "or print)")
    return f"only {what} {'stands' if one else 'stand'} out from the paper"


@contextmanager
def _naming(path):
    """Raise the reading's ImageError again with the file's name in front."""
    try:
        yield
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from exc


def read_file(model, path, min_confidence=None, steps=ALL):
    """Read an image file, shrunk to PAGE_MAX_SIDE: returns (reading dict
    with ``file`` first, grey page, crops). A picture with no digit is an
    answer, :func:`no_digit`'s reading with no crops. Raises ImageError,
    naming the file, for a file that cannot be read."""
    return _read(lambda: model, path, min_confidence, steps)


def _read(get_model, path, min_confidence=None, steps=ALL):
    """:func:`read_file` with the classifier from ``get_model()``, asked for
    only once the page has characters to classify."""
    grey = images.read_image(path, max_side=PAGE_MAX_SIDE, min_side=images.MIN_READ_SIDE)
    with _naming(path):
        try:
            page = prepare_page(grey, steps)
            reading, crops = read_prepared(get_model(), page, min_confidence)
        except NoDigit as exc:
            reading, crops = no_digit(exc), np.zeros((0, 28, 28), np.float32)
    return named(printable(path), grey, reading), grey, crops


def no_digit(exc):
    """The reading of a picture with no digit, from its :class:`NoDigit`:
    nothing read, ``no_digit`` saying why (and what to do) and
    ``not_digits`` the marks set aside, as a reading's."""
    return {"no_digit": exc.reason, "lines": [], "digits": [], "numbers": [],
            "not_digits": exc.boxes}


def named(name, grey, reading):
    """The reading of picture ``name`` with ``file`` and ``size`` first: the
    boxes are in the pixels of the picture as read (``grey``), which a large
    one was shrunk to, and its size says so."""
    return {"file": name, "size": [grey.shape[1], grey.shape[0]], **reading}


def read_files(load_model, paths, min_confidence=None, debug=False):
    """Read image files one by one, yielding ``((reading, grey, crops), None)``
    or, for a file that cannot be read, ``(None, one-line message)``.

    ``load_model()`` gives the classifier. It is called once, when the
    first page has characters to classify: a run whose images are all
    refused (not images, too small, noise) or blank answers at once instead
    of after loading Keras and the models. Its ModelFileError is raised.
    A failure of the reader itself on one file is reported as that file's
    message, so the other files' readings are kept (with ``debug`` it is
    raised instead).
    """
    model = functools.cache(load_model)
    for path in map(Path, paths):
        try:
            yield _read(model, path, min_confidence), None
        except ModelFileError:
            raise  # the run's, not this file's
        except ImageError as exc:
            yield None, str(exc)
        except OSError as exc:
            yield None, f"cannot read {path}: {exc.strerror or exc}; check its permissions"
        except Exception as exc:
            if debug:
                raise
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            yield None, (f"{path}: the reader failed on this image ({reason}); the other "
                         "images are still read, and --debug shows the traceback")


UNCALIBRATED_NOTE = ("no number is vouched for: this model has no calibration, and its "
                     "softmax is no chance of being right; the reader shipped in "
                     "models/reader/ has one (benchmarks/calibrate_reader.py fits one)")


def written_lines(reading):
    """Each line of a reading as written: its numbers' ``written`` text,
    marks where they stand (``12.50``, ``1,250.00``), a space between
    numbers (a line no number names stays as it is). ``reading["lines"]``
    holds the digits alone (``1250``), which copied as text would be a
    hundred times the amount."""
    per_line = {}
    for number in reading["numbers"]:
        per_line.setdefault(number["line"], []).append(number["written"])
    return [" ".join(per_line[i]) if i in per_line else line
            for i, line in enumerate(reading["lines"])]


def format_reading(reading):
    """The reading as text lines: the file, then each line of writing with
    every digit's confidence, then each number with its probability of being
    right ("check" when the reader does not vouch for it), then each unsure
    digit with its top two."""
    if reading.get("no_digit"):
        return [f"{reading['file']}: no digit found: {reading['no_digit']}"]
    lines, digits = written_lines(reading), reading["digits"]
    per_line = [[d for d in digits if d["line"] == number] for number in range(len(lines))]
    width = max(len(text) for text in lines)
    thresholds = reading.get("thresholds") or {}
    # Each probability rounded down, with a decimal or two more where that
    # alone keeps a digit under the bar from reading like one over it.
    places = {id(d): decimals_apart(d["confidence"], thresholds.get("digit")) for d in digits}
    out = [f"{reading['file']} ({len(lines)} line{'s' * (len(lines) != 1)}, "
           f"{len(digits)} digit{'s' * (len(digits) != 1)}, ink {reading['ink']})"]
    for text, members in zip(lines, per_line):
        scores = "  ".join(f"{'?' if d['unsure'] else d['digit']} "
                           f"{percent(d['confidence'], places[id(d)])}" for d in members)
        out.append(f"  {text:<{width}}    {scores}")
    # A calibrated reader gives each digit its chance of being right, which
    # for an unsure digit is far below the models' own top probability:
    # both are shown, each named, so that 51 % and 96 % do not contradict.
    calibrated = reading.get("calibrated")
    kind = "likely right" if calibrated else "(softmax, uncalibrated)"
    whose = "the models'" if calibrated else "the model's"
    vouch = thresholds.get("number")
    for found in reading.get("numbers", []):
        verdict = "check" if found["unsure"] else "sure"
        # As written, separators and all; the amount beside it when its
        # decimal point is not plain to see (1,234.56 or 1.500,00).
        shown = found.get("written", found["amount"])
        amount = found["amount"]
        amount = f" (amount {amount})" if amount not in (shown, found["text"]) else ""
        decimals = decimals_apart(found["confidence"], vouch)
        # What beside the number lowered its chance, where that decided it;
        # else, for digits all shown, how sure the reader must be to vouch.
        why = "".join(f"; {doubt}" for doubt in found.get("doubts", []))
        if found["unsure"] and not why and "?" not in found["text"] and vouch:
            why = (f", under the {percent(vouch, bar_decimals(vouch, decimals))} needed to "
                   "vouch for it")
        out.append(f"  number {shown}{amount}: {verdict}, "
                   f"{percent(found['confidence'], decimals)} {kind}{why}")
    if thresholds.get("digit") and any(d["unsure"] for d in digits):
        # Rounded down, with as many decimals as the digits above needed.
        bar = thresholds["digit"]
        bar = percent(bar, bar_decimals(bar, max(places.values())))
        out.append(f"  a digit under {bar} {kind} prints as '?'")
    if not calibrated and reading.get("numbers"):
        out.append(f"  {UNCALIBRATED_NOTE}")
    for number, members in enumerate(per_line, start=1):
        for place, d in enumerate(members, start=1):
            if d["unsure"]:
                (a, pa), (b, pb) = d["top2"]
                out.append(f"  unsure: line {number}, digit {place}, "
                           f"{percent(d['confidence'], places[id(d)])} {kind}; {whose} "
                           f"guesses: {a} ({percent(pa)}), {b} ({percent(pb)})")
    return out
