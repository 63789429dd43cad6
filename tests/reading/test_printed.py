"""Taking print off a page (digitsuite.reading.printed): background
patterns, ruled lines and boxes on made-up pages with known ink."""

import numpy as np
from scipy import ndimage

from digitsuite.data import images
from digitsuite.reading import printed, segment
from tests.support import ring


def count(mask):
    return ndimage.label(mask, structure=np.ones((3, 3)))[1]


def digits_row(shape, boxes):
    mask = np.zeros(shape, bool)
    for box in boxes:
        ring(mask, box)
    return mask


def test_a_light_printed_pattern_is_not_ink_but_pen_edges_are():
    grey = np.full((200, 300), 0.95, np.float32)
    yy, xx = np.mgrid[0:200, 0:300]
    waves = np.abs(((yy + 5 * np.sin(xx / 8)) % 8) - 4) < 0.7   # fine printed lines
    grey[waves] = 0.65
    digits = digits_row(grey.shape, [(40, 60, 80, 130), (120, 60, 160, 130)])
    grey[digits] = 0.1
    edges = ndimage.binary_dilation(digits) & ~digits
    grey[edges] = 0.5                                           # the pen's soft edge
    level = 1 - grey
    strong = level > images.otsu_threshold(level)
    core = printed.ink_core(level, strong)
    assert not core[waves & ~ndimage.binary_dilation(digits, iterations=3)].any()
    assert core[digits].all()
    mask = segment.ink_mask(grey, True, faint=images.to_foreground(grey, True) > 0)
    assert count(mask) == 2                                     # the two digits alone


def test_a_page_without_print_keeps_all_its_ink():
    grey = np.full((120, 200), 0.9, np.float32)
    digits = digits_row(grey.shape, [(20, 20, 60, 90), (100, 20, 140, 90)])
    grey[digits] = 0.2
    grey[ndimage.binary_dilation(digits) & ~digits] = 0.55
    level = 1 - grey
    strong = level > images.otsu_threshold(level)
    assert printed.ink_core(level, strong) is strong


def test_a_ruled_line_under_touching_digits_is_removed():
    mask = digits_row((120, 400), [(40, 20, 80, 82), (100, 20, 140, 82), (160, 20, 200, 82)])
    mask[80:83, 10:380] = True                 # the rule, touching every digit
    assert count(mask) == 1
    kept, removed, _ = printed.remove_rules(mask)
    assert removed[81, 10:380].all() or removed[81, 210:380].all()
    assert count(kept) == 3
    assert printed.character_height(kept) > 50


def test_a_stroke_crossing_a_rule_is_joined_again():
    mask = np.zeros((140, 400), bool)
    mask[20:120, 60:66] = True                 # a '1' written through the rule
    ring(mask, (100, 30, 140, 100))
    ring(mask, (160, 30, 200, 100))
    mask[80:83, 10:380] = True
    kept, _, _ = printed.remove_rules(mask)
    one = kept[:, 55:70]
    assert count(one) == 1 and one[20:120, 5:11].all()


def test_box_sides_go_and_a_one_stays():
    # A comb field: top and bottom rules, a side every 60 pixels; a 1 and a 0 inside.
    mask = np.zeros((140, 320), bool)
    mask[20:23, 10:310] = True
    mask[117:120, 10:310] = True
    for x in range(10, 311, 60):
        mask[20:120, x:x + 3] = True
    mask[35:105, 98:104] = True                # a '1' in the second cell
    ring(mask, (140, 35, 180, 105))            # a '0' in the third
    kept, _, _ = printed.remove_rules(mask, height=70)
    assert kept[35:105, 98:104].all()
    assert not kept[40:100, 10:13].any() and not kept[40:100, 250:253].any()
    assert count(kept) == 2
    # The sides also come back alone: no rule, no digit.
    same, _, upright = printed.remove_rules(mask, height=70)
    assert (same == kept).all()
    assert upright[40:100, 10:13].all() and upright[40:100, 250:253].all()
    assert not upright[20:23].any() and not upright[117:120].any()
    assert not upright[35:105, 98:104].any()


def test_no_rules_on_a_page_of_digits():
    mask = digits_row((100, 300), [(20, 10, 60, 80), (80, 10, 120, 80)])
    mask[40:44, 130:190] = True                # a dash: shorter than a rule
    kept, removed, _ = printed.remove_rules(mask)
    assert not removed.any() and (kept == mask).all()


def test_comb_ticks_go_and_a_one_standing_on_the_rule_stays():
    # A comb: a rule with a 20-pixel tick every 50 pixels; a 0 touching a
    # tick, and a 1 (60 pixels) standing on the rule between two ticks.
    mask = np.zeros((130, 330), bool)
    mask[100:103, 10:320] = True
    for x in range(15, 320, 50):
        mask[80:100, x:x + 2] = True
    ring(mask, (25, 38, 67, 100))               # touches the ticks at 15 and 65
    mask[40:100, 90:96] = True                  # the 1
    kept, removed, _ = printed.remove_rules(mask, height=60)
    assert not kept[80:100, 115:117].any() and not kept[80:100, 265:267].any()
    assert kept[40:98, 90:96].all()             # the 1 is no tick: too tall, only one
    assert kept[38:98, 25:29].all()             # the 0's side, though a tick touched it
    assert count(kept) == 2


def test_digits_standing_evenly_on_a_rule_are_no_comb():
    """Five 6s written on a guide line, evenly spaced, each with its left
    stroke reaching down to the rule as a straight, thin run of one length:
    they stand like a comb's ticks, but each belongs to a digit, so none is
    taken off. The same strokes standing alone are a comb."""
    mask = np.zeros((130, 420), bool)
    mask[100:103, 10:410] = True                 # the guide line
    for x in range(30, 400, 75):
        mask[52:100, x:x + 4] = True             # the 6's left stroke, 48 pixels
        ring(mask, (x, 70, x + 34, 100))         # its loop, on the stroke
    kept, removed, _ = printed.remove_rules(mask, height=60)
    assert not removed[:99].any() and kept[52:98, 30:34].all()  # row 99 lies on the rule
    alone = np.zeros_like(mask)
    alone[100:103, 10:410] = True
    for x in range(30, 400, 75):
        alone[52:100, x:x + 4] = True
    kept, _, _ = printed.remove_rules(alone, height=60)
    assert not kept.any()


def test_the_bar_of_a_seven_beside_a_one_is_not_a_ruled_line():
    # Two characters alone in a picture: their flat strokes (the 7's bar,
    # 100 pixels, well over the stroke width) must not pass for a rule.
    from PIL import Image, ImageDraw

    picture = Image.new("1", (500, 300), 0)
    draw = ImageDraw.Draw(picture)
    draw.line([(60, 80), (160, 80), (100, 240)], fill=1, width=8)     # 7
    draw.line([(320, 70), (320, 240)], fill=1, width=8)               # 1
    mask = np.asarray(picture, bool)
    assert 150 <= printed.character_height(mask) <= 180
    kept, removed, _ = printed.remove_rules(mask)
    assert not removed.any() and (kept == mask).all()


def frame(mask, box, line=1):
    """A printed box (x0, y0, x1, y1) of ``line``-pixel lines."""
    x0, y0, x1, y1 = box
    mask[y0:y0 + line, x0:x1] = mask[y1 - line:y1, x0:x1] = True
    mask[y0:y1, x0:x0 + line] = mask[y0:y1, x1 - line:x1] = True


def test_a_one_cell_box_goes_and_its_digit_stays():
    """One-cell and two-cell boxes are shorter than a ruled line: their
    thin frames are taken off whole, the digits in them kept, a digit
    touching its frame too."""
    mask = np.zeros((140, 400), bool)
    frame(mask, (20, 20, 90, 110))
    ring(mask, (35, 35, 75, 95))                # a 0 alone in its box
    frame(mask, (150, 20, 290, 110))
    mask[20:110, 220] = True                    # the wall between its two cells
    ring(mask, (165, 35, 205, 109))             # a 0 standing on the bottom line
    mask[35:95, 250:256] = True                 # a 1
    kept, removed, upright = printed.remove_rules(mask, height=60)
    assert count(kept) == 3
    assert kept[35:95, 35:39].all() and kept[35:95, 165:169].all()
    assert kept[35:95, 250:256].all()
    assert not kept[20:110, 20].any() and not kept[20:110, 220].any()
    assert not kept[20, 150:290].any() and not kept[109, 210:290].any()
    assert upright[40:100, 20].all() and upright[40:100, 220].all()  # walls, for word breaks


def test_a_square_zero_a_comb_cell_and_a_blob():
    """A 0 written square with the pen's strokes is no frame, and neither
    is a filled blob; a one-cell comb (a bottom line and two ticks) is."""
    mask = np.zeros((140, 300), bool)
    ring(mask, (20, 30, 70, 100), stroke=6)     # a square 0
    mask[60:80, 110:150] = True                 # a blob
    mask[110, 180:260] = True                   # a comb cell's bottom line...
    mask[80:111, 180] = mask[80:111, 259] = True  # ...and its ticks
    mask[40:100, 215:221] = True                # a 1 in it
    kept, removed, _ = printed.remove_rules(mask, height=60)
    assert kept[30:100, 20:70].sum() == mask[30:100, 20:70].sum()
    assert kept[60:80, 110:150].all()
    assert not kept[:, 175:214].any() and not kept[101:, :].any()
    assert kept[40:100, 215:221].all()


def test_a_tick_broken_beside_is_as_long_as_its_whole_column():
    """A comb whose ticks are two pixels wide, one of them with a column
    broken by the scanner's noise: the tick is as long as its whole
    column, like the others, and is taken off with them."""
    mask = np.zeros((130, 330), bool)
    mask[100:103, 10:320] = True
    for x in range(15, 320, 50):
        mask[60:100, x:x + 2] = True
    mask[75, 66] = False                       # the tick at 65, broken in its right column
    kept, removed, _ = printed.remove_rules(mask, height=60)
    assert not kept.any()


def test_boxes_that_are_most_of_the_ink_still_go():
    """Two one-cell boxes, each round one digit: the boxes' lines are most
    of the page's ink, so the pen's width is measured without them."""
    mask = np.zeros((120, 260), bool)
    for x in (20, 150):
        frame(mask, (x, 20, x + 60, 100), line=2)
        ring(mask, (x + 18, 35, x + 42, 85), stroke=5)
    assert printed.stroke_width(mask) <= 2          # the boxes set the page's width
    kept, removed, _ = printed.remove_rules(mask, height=55)
    assert count(kept) == 2 and not kept[20:100, 20:22].any()
    assert kept[35:85, 38:62].sum() == mask[35:85, 38:62].sum()


def dense_crossed_pattern(shape):
    """Two sets of fine lines crossing all over a page, grey 0.62, and as
    dark as a pen (0.5) where they cross; the paper 0.95."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    one = np.abs(((yy + 0.6 * xx) % 12) - 6) < 1.2
    other = np.abs(((yy - 0.6 * xx) % 12) - 6) < 1.2
    grey = np.where(one | other, 0.62, 0.95)
    return np.where(one & other, 0.5, grey).astype(np.float32)


def test_a_dense_pattern_nearly_as_dark_as_the_pen_is_taken_off_crossings_and_all():
    grey = dense_crossed_pattern((200, 300))
    digits = digits_row(grey.shape, [(40, 60, 80, 130), (120, 60, 160, 130)])
    grey[digits] = 0.5                                          # the pen
    grey[ndimage.binary_dilation(digits) & ~digits] = 0.7       # its soft edge
    level = 1 - grey
    strong = level > images.otsu_threshold(level)
    assert strong.mean() > printed.DENSE_INK                    # the pattern is most of it
    dark = strong & (level > images.otsu_threshold(level[strong]))
    step = np.median(level[dark]) - np.median(level[strong & ~dark])
    assert printed.DENSE_GAP <= step < printed.PATTERN_GAP      # too small a step alone
    core = printed.ink_core(level, strong)
    assert core[digits].all()
    assert not core[~ndimage.binary_dilation(digits, iterations=3)].any()   # no crossing left
    mask = segment.ink_mask(grey, True, faint=images.to_foreground(grey, True) > 0)
    assert count(mask) == 2


def test_a_caller_that_found_no_ink_darker_than_the_paper_gets_the_dense_pattern_rule():
    # The pattern over the lower half only: too little of the page to be
    # a pattern by its coverage, but the reader found the page's ink no
    # darker than its paper, which only such a pattern does to writing.
    grey = np.full((200, 300), 0.95, np.float32)
    grey[120:] = dense_crossed_pattern((80, 300))
    digits = digits_row(grey.shape, [(40, 20, 80, 90), (120, 125, 160, 195)])
    grey[digits] = 0.5
    level = 1 - grey
    strong = level > images.otsu_threshold(level)
    assert strong.mean() < printed.DENSE_INK
    assert printed.ink_core(level, strong) is strong
    core = printed.ink_core(level, strong, dense=True)
    assert core[digits].all() and not core[~ndimage.binary_dilation(digits, iterations=3)].any()
