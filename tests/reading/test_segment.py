"""Finding characters on a page (digitsuite.reading.segment) on synthetic
masks with known boxes."""

import numpy as np
from scipy import ndimage

from digitsuite.data import images
from digitsuite.reading import segment
from tests.support import ring, scribble


def bar(mask, box):
    """Fill a box (a '1', a flag, a speck)."""
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True


def boxes(lines):
    return [[g.box for g in line] for line in lines]


def test_lines_top_to_bottom_and_left_to_right():
    mask = np.zeros((200, 300), bool)
    expected = [[(20, 20, 50, 60), (70, 22, 85, 62), (110, 18, 140, 60)],
                [(30, 110, 60, 150), (90, 112, 120, 152)],
                [(20, 170, 50, 198)]]
    for line in expected:
        for box in line:
            (bar if box[2] - box[0] < 20 else ring)(mask, box)
    assert boxes(segment.find_lines(mask)) == expected


def test_a_line_may_drift_down_the_page():
    mask = np.zeros((140, 420), bool)
    expected = [(10 + 60 * k, 10 + 12 * k, 40 + 60 * k, 50 + 12 * k) for k in range(7)]
    for box in expected:
        ring(mask, box)
    # Its last character sits wholly below its first, yet it is one line.
    assert boxes(segment.find_lines(mask)) == [expected]


def test_broken_digit_is_merged_into_one_character():
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 35, 50, 80))           # the belly of a '5'...
    bar(mask, (24, 20, 52, 25))            # ...and its flag, 10 pixels above it
    ring(mask, (80, 22, 110, 80))          # the next digit
    assert boxes(segment.find_lines(mask)) == [[(20, 20, 52, 80), (80, 22, 110, 80)]]


def characters(lines):
    return [[g.box for g in line if not g.mark] for line in lines]


def marks(lines):
    return [[(g.mark, g.box) for g in line if g.mark] for line in lines]


def test_fragment_joins_its_digit_and_a_full_stop_is_a_mark():
    mask = np.zeros((100, 300), bool)
    ring(mask, (20, 20, 50, 80))
    bar(mask, (52, 66, 60, 80))            # a foot cut off the digit beside it
    ring(mask, (120, 20, 150, 80))
    bar(mask, (190, 66, 200, 76))          # a full stop, apart from the digits
    lines = segment.find_lines(mask)
    assert characters(lines) == [[(20, 20, 60, 80), (120, 20, 150, 80)]]
    assert marks(lines) == [[(".", (190, 66, 200, 76))]]


def test_punctuation_of_an_amount_is_told_apart():
    # 1,5.0-  : digits 60 high; a comma hanging below, a dot, a dash mid-line.
    mask = np.zeros((120, 420), bool)
    bar(mask, (20, 20, 30, 80))                         # 1
    bar(mask, (42, 70, 50, 78))                         # comma: a blob...
    bar(mask, (40, 78, 44, 90))                         # ...with a tail below the line
    ring(mask, (60, 20, 95, 80))                        # 5 (a ring will do)
    bar(mask, (105, 72, 113, 80))                       # full stop
    ring(mask, (125, 20, 160, 80))                      # 0
    bar(mask, (175, 45, 215, 53))                       # dash after the amount
    bar(mask, (250, 5, 254, 12))                        # a speck high up: not a mark
    (line,) = segment.find_lines(mask)
    assert [g.mark for g in line if g.mark] == [",", ".", "-"]
    assert [g.box for g in line if not g.mark] == [(20, 20, 30, 80), (60, 20, 95, 80),
                                                   (125, 20, 160, 80)]


def test_a_comma_hanging_below_the_line_is_read_with_it():
    """A comma with most of its tail below the digits' baseline shares
    under half its rows with their line: it still hangs from that line, as
    its comma ('1,234.56' lost its comma and read 123456)."""
    mask = np.zeros((120, 260), bool)
    ring(mask, (20, 20, 50, 80))
    bar(mask, (60, 74, 66, 96))                         # the comma: 6 of its 22 rows in the line
    ring(mask, (80, 20, 110, 80))
    (line,) = segment.find_lines(mask)
    assert marks([line]) == [[(",", (60, 74, 66, 96))]]
    assert characters([line]) == [[(20, 20, 50, 80), (80, 20, 110, 80)]]


def test_a_comma_after_a_digit_written_high_still_hangs_from_the_line():
    """The line's first digit sits higher than the rest: the comma after it
    shares 2 of its 14 rows with that digit, and 12 with the whole line."""
    mask = np.zeros((120, 200), bool)
    ring(mask, (20, 20, 50, 70))                        # written high
    bar(mask, (56, 68, 61, 82))                         # the comma
    ring(mask, (70, 25, 100, 80))
    ring(mask, (110, 25, 140, 80))
    (line,) = segment.find_lines(mask)
    assert marks([line]) == [[(",", (56, 68, 61, 82))]]


def slash(mask, start, end, width=3):
    """A straight stroke from ``start`` to ``end`` (x, y), ``width`` pixels wide."""
    from PIL import Image, ImageDraw

    picture = Image.new("1", (mask.shape[1], mask.shape[0]), 0)
    ImageDraw.Draw(picture).line([start, end], fill=1, width=width)
    mask |= np.asarray(picture, bool)


def test_a_thin_slanted_comma_is_a_comma_and_a_hair_is_not():
    """A comma flicked in a 3-pixel pen fills a fifth of its box, yet its
    stroke is the pen's own; a one-pixel hair of dust the same shape is no
    mark. A comma tucked under a digit's corner, inside its box, stands
    apart by its ink."""
    mask = np.zeros((160, 400), bool)
    for x0 in (20, 90, 170, 250):
        ring(mask, (x0, 20, x0 + 50, 120), stroke=3)
    slash(mask, (80, 112), (70, 140))                   # a comma after the first digit
    slash(mask, (160, 112), (150, 140), width=1)        # a hair after the second
    slash(mask, (236, 114), (228, 142))                 # under the third's corner
    mask[113:121, 216:220] = False                      # (a 0 open at the corner)
    (line,) = segment.find_lines(mask)
    found = marks([line])[0]
    assert [mark for mark, _ in found] == [",", ","]
    assert [box[0] for _, box in found] == [69, 227]


def test_dirt_off_the_baseline_is_no_dot():
    """A dot a pen's width across is a full stop on the baseline; the same
    dot two thirds of the way down the line, or wholly under it, is dirt."""
    mask = np.zeros((180, 440), bool)
    for x0 in (20, 90, 160, 230, 370):
        ring(mask, (x0, 20, x0 + 50, 120), stroke=4)
    ring(mask, (300, 26, 350, 128), stroke=4)           # a digit written lower
    bar(mask, (76, 112, 81, 117))                       # on the baseline: a full stop
    bar(mask, (146, 82, 151, 87))                       # 65 % down: dirt
    bar(mask, (216, 140, 221, 145))                     # under the line: dirt
    bar(mask, (355, 120, 360, 126))                     # after the low digit: a full stop
    (line,) = segment.find_lines(mask)
    assert marks([line]) == [[(".", (76, 112, 81, 117)), (".", (355, 120, 360, 126))]]


def test_a_thin_pens_dot_is_a_mark_though_smaller_than_a_speck():
    """Digits 100 pixels tall in a 3-pixel pen: its full stop is 4 pixels
    across, under the speck size (a tenth of the height) and the smallest
    character, yet as wide as the pen. A dot of that size high up, or one
    next to a digit, is no mark and joins no digit; a 2-pixel speck is
    not looked at."""
    mask = np.zeros((160, 400), bool)
    digits = [(20, 20, 70, 120), (90, 20, 140, 120), (170, 20, 220, 120)]
    for box in digits:
        ring(mask, box, stroke=3)
    bar(mask, (151, 115, 155, 119))                     # the full stop, on the baseline
    bar(mask, (250, 30, 254, 34))                       # the same dot high up: a speck
    bar(mask, (222, 110, 226, 114))                     # ...and one touching-close to a digit
    bar(mask, (300, 116, 302, 118))                     # a 2-pixel speck on the baseline
    (line,) = segment.find_lines(mask)
    assert marks([line]) == [[(".", (151, 115, 155, 119))]]
    assert characters([line]) == [digits]
    # Without punctuation the small dot is a speck as before.
    assert boxes(segment.find_lines(mask, marks=False)) == [digits]


def test_a_colon_is_one_mark_and_not_part_of_a_digit():
    """'10:45': two dots one over the other are one ':' mark; the upper one
    is not joined to the digit beside it, nor the lower one read as a full
    stop."""
    mask = np.zeros((120, 300), bool)
    digits = [(20, 20, 30, 80), (40, 20, 75, 80), (110, 20, 145, 80), (155, 20, 190, 80)]
    for box in digits:
        (bar if box[2] - box[0] < 20 else ring)(mask, box)
    bar(mask, (88, 36, 96, 44))                         # upper dot
    bar(mask, (88, 72, 96, 80))                         # lower dot, on the baseline
    (line,) = segment.find_lines(mask)
    assert marks([line]) == [[(":", (88, 36, 96, 80))]]
    assert characters([line]) == [digits]
    # Two pixels from the digit before it: the pair is still a colon.
    mask[:, 77:88] = mask[:, 86:97].copy()
    mask[:, 86:97] = False
    (line,) = segment.find_lines(mask)
    assert [mark for mark, _ in marks([line])[0]] == [":"]


def test_a_scribble_is_told_from_touching_digits():
    """Four touching '8's close eight loops; a pen going round and round
    across less width closes many more."""
    mask = np.zeros((100, 320), bool)
    for x0 in (20, 48, 76, 104):                        # each '8' two rings, each touching the next
        ring(mask, (x0, 20, x0 + 30, 52))
        ring(mask, (x0, 48, x0 + 30, 80))
    scribble(mask, (180, 20, 280, 80))
    (eights, scrawl), = segment.find_lines(mask)
    assert segment.holes(eights.mask) == 8 and not segment.scribble(eights, 60)
    assert segment.holes(scrawl.mask) > 8 and segment.scribble(scrawl, 60)
    # One '0' is no scribble.
    ring(mask, (20, 20, 50, 80))
    assert not segment.scribble(segment.find_lines(mask[:, :60])[0][0], 60)


def test_specks_are_dropped():
    mask = np.zeros((120, 200), bool)
    ring(mask, (30, 30, 60, 90))
    ring(mask, (90, 30, 120, 90))
    rng = np.random.default_rng(0)
    for y, x in rng.integers(0, 115, size=(40, 2)):
        if not mask[max(0, y - 3):y + 6, max(0, x - 3):x + 6].any():
            bar(mask, (x, y, x + 3, y + 3))
    assert boxes(segment.find_lines(mask)) == [[(30, 30, 60, 90), (90, 30, 120, 90)]]


def test_blank_mask_has_no_lines():
    assert segment.find_lines(np.zeros((50, 50), bool)) == []


def test_touching_digits_are_offered_cut_apart():
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 20, 55, 80))
    ring(mask, (60, 20, 95, 80))
    bar(mask, (55, 48, 60, 52))            # a thin bridge joins them
    (glyph,), = segment.find_lines(mask)
    assert glyph.box == (20, 20, 95, 80)   # one component, 1.25 times as wide as tall
    ways = segment.lattice(glyph, segment.line_height([glyph]))
    boxes_of = {span: piece.box for span, piece in ways.pieces.items()}
    assert boxes_of[(0, ways.last)] == glyph.box
    cut = next(i for i, c in enumerate(ways.cuts) if c == 37)   # the bridge's middle
    assert boxes_of[(0, cut)] == (20, 20, 57, 80) and boxes_of[(cut, ways.last)] == (57, 20, 95, 80)
    for span, piece in ways.pieces.items():                     # no sliver, no giant
        assert piece.width <= segment.MAX_PIECE * 60 or span == (0, ways.last)
    narrow = segment.Glyph((0, 0, 30, 60), np.ones((60, 30), bool))
    assert list(segment.lattice(narrow, 60).pieces.values()) == [narrow]


def test_word_breaks_part_numbers():
    mask = np.zeros((80, 400), bool)
    for x0 in (10, 50, 200, 240):          # '00   00': a gap of 120 pixels, 2 heights
        ring(mask, (x0, 10, x0 + 30, 70))
    (line,) = segment.find_lines(mask)
    assert segment.word_breaks(line) == [False, False, True, False]


def glyphs_at(xs, width=15, top=10, height=60):
    return [segment.Glyph((x, top, x + width, top + height), np.ones((height, width), bool))
            for x in xs]


def wall(x, top=0, bottom=75):
    return (x, top, x + 2, bottom)


def test_one_wall_between_lone_digits_joins_the_cells_of_a_field():
    # A box field, one cell of 85 pixels per digit: narrow digits leave
    # gaps wider than a height (60 pixels), but each stands in its own cell.
    line = glyphs_at([10, 100, 185, 270])
    walls = [wall(x) for x in (0, 85, 170, 255, 340)]
    assert segment.word_breaks(line) == [False, True, True, True]
    assert segment.word_breaks(line, walls) == [False, False, False, False]
    # Walls off the line (another field above) join nothing.
    assert segment.word_breaks(line, [wall(x, 200, 260) for x in (85, 170, 255)]) == [
        False, True, True, True]
    # An empty cell between two digits (two walls) parts two numbers.
    spaced = glyphs_at([10, 95])
    assert segment.word_breaks(spaced, [wall(40), wall(80)]) == [False, True]
    assert segment.word_breaks(spaced, [wall(80)]) == [False, False]


def test_a_wall_between_cells_of_several_digits_still_parts_them():
    # A table's column rule between '12' and '34': each cell holds two
    # digits close together, so the rule parts two numbers.
    line = glyphs_at([10, 35, 130, 155], width=20)
    assert segment.word_breaks(line, [wall(95)]) == [False, False, True, False]
    # And a wall far wider than a cell's gap joins nothing.
    far = glyphs_at([10, 200])
    assert segment.word_breaks(far, [wall(100)]) == [False, True]


def test_faint_stroke_keeps_a_digit_whole():
    grey = np.full((150, 150), 0.9, np.float32)
    grey[40:65, 70:76] = 0.1               # dark top of a stroke...
    grey[65:75, 70:76] = 0.55              # ...a light stretch...
    grey[75:100, 70:76] = 0.1              # ...dark again
    ink = images.to_foreground(grey, ink_dark=True)
    mask = segment.ink_mask(grey, True, faint=ink > 0)
    assert ndimage.label(mask)[1] == 1
    assert ndimage.label(grey < images.otsu_threshold(grey))[1] == 2  # Otsu alone breaks it


def test_ink_no_character_took_is_reported_unread():
    """A small ring on a line of its own is dropped as dirt; the page still
    knows that ink was there, for the confidence of the numbers beside it.
    A speck under MIN_GLYPH is not worth reporting."""
    mask = np.zeros((120, 260), bool)
    ring(mask, (80, 30, 115, 90))
    ring(mask, (130, 30, 165, 90))
    small = (190, 96, 210, 116)      # a third of the height: a lost '0'
    ring(mask, small, stroke=3)
    bar(mask, (220, 50, 223, 53))    # a speck
    lines = segment.find_lines(mask)
    assert boxes(lines) == [[(80, 30, 115, 90), (130, 30, 165, 90)]]
    assert segment.unread(mask, [g for line in lines for g in line]) == [small]
    assert segment.unread(mask, segment.components(mask)) == []


def test_a_dot_under_a_digit_does_not_part_its_number():
    """A full stop sitting lower than the digit before it shares all of its
    few rows with the next digit: the digits still make one line, the one
    they share the most rows with ('4.196' was read as '4' and '196')."""
    mask = np.zeros((160, 220), bool)
    ring(mask, (10, 50, 40, 100))
    bar(mask, (45, 97, 52, 104))          # the dot, under half of it beside the '4'
    ring(mask, (60, 51, 90, 104))
    ring(mask, (100, 51, 130, 104))
    lines = segment.find_lines(mask)
    assert [[g.box for g in line if not g.mark] for line in lines] == [
        [(10, 50, 40, 100), (60, 51, 90, 104), (100, 51, 130, 104)]]


def test_a_comma_and_a_dot_do_not_drag_the_line_down():
    """'420,31': after a low comma and a dot, the next digit still shares
    most of its rows with the digits before them."""
    mask = np.zeros((140, 240), bool)
    ring(mask, (10, 50, 40, 86))
    ring(mask, (60, 54, 90, 85))
    bar(mask, (99, 78, 104, 92))          # the comma, hanging below
    bar(mask, (109, 80, 115, 89))         # a dot of the scan's grain
    ring(mask, (120, 48, 145, 82))
    ring(mask, (160, 52, 185, 90))
    lines = segment.find_lines(mask)
    assert [[g.box for g in line if not g.mark] for line in lines] == [
        [(10, 50, 40, 86), (60, 54, 90, 85), (120, 48, 145, 82), (160, 52, 185, 90)]]


def test_a_row_of_small_writing_is_kept_and_flagged_but_a_small_mark_is_not():
    mask = np.zeros((260, 400), bool)
    for x0 in (20, 80, 140):                   # the page's writing, 60 pixels tall
        ring(mask, (x0, 20, x0 + 40, 80))
    for x0 in (20, 45, 70):                    # a row of small writing, 27 pixels tall
        ring(mask, (x0, 120, x0 + 18, 147), stroke=3)
    ring(mask, (300, 200, 318, 227), stroke=3)  # one small mark on its own
    big, small = segment.find_lines(mask)
    assert [g.box[1] for g in big] == [20] * 3 and not any(g.small for g in big)
    assert [g.box[1] for g in small] == [120] * 3 and all(g.small for g in small)
    assert segment.small_writing(small, 60.0) and not segment.small_writing(small, 100.0)


def test_a_straight_stroke_leaning_forward_is_slash_like_and_an_upright_one_is_not():
    def stroke(top, bottom):
        mask = np.zeros((70, 60), bool)
        slash(mask, top, bottom, width=4)
        return segment.tighten(segment.Glyph((0, 0, 60, 70), mask))

    assert segment.slash_like(stroke((45, 5), (15, 65)))        # '/', about 27 degrees
    assert not segment.slash_like(stroke((32, 5), (28, 65)))    # an upright '1'
    assert not segment.slash_like(stroke((15, 5), (45, 65)))    # '\': leaning back
    bent = np.zeros((70, 60), bool)
    ring(bent, (10, 5, 50, 65), stroke=4)                       # a '0' leans nowhere
    assert not segment.slash_like(segment.Glyph((0, 0, 60, 70), bent))
