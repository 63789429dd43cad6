"""The reader's document steps (digitsuite.reading.steps): a register cell
is read as its number, a clean page reads the same with every step on as
with all off, and each switch really turns its step off."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.reading import benchmark, pages
from digitsuite.data import images
from digitsuite.inference.modelio import load_keras_model
from digitsuite.reading import reader, segment
from digitsuite.reading.steps import ALL, NAMES, NONE
from tests.support import page_of_rings, ring

PAPER, INK = 0.85, 0.15
NUMBER = [(120, 40, 155, 90), (170, 40, 205, 90)]   # two '0'-like rings: the number


def register_cell(margin=True):
    """A cell cut from a scanned register: the number between two printed
    rules down the cell's sides, a black scanner margin filling the left
    third, a neighbour's ring cut by the right edge and one cut by the margin."""
    mask = np.zeros((130, 300), bool)
    for box in NUMBER:
        ring(mask, box, stroke=5)
    ring(mask, (270, 45, 310, 95), stroke=5)   # the neighbour on the right, cut by the crop
    ring(mask, (80, 45, 118, 95), stroke=5)    # the neighbour on the left, under the margin
    mask[:, 110:112] = mask[:, 235:237] = True  # the cell's rules
    page = np.where(mask, INK, PAPER)
    if margin:
        page[:, :100] = 0.03
    noise = np.random.default_rng(0).normal(0, 0.01, page.shape)
    return np.clip(page + noise, 0, 1).astype(np.float32)


def boxes(page):
    return [[ways.pieces[(0, ways.last)].box for ways in line] for line in page.lines]


def test_a_register_cell_gives_its_number_and_no_rule_margin_or_neighbour():
    found = reader.prepare_page(register_cell())
    np.testing.assert_allclose(boxes(found), [NUMBER], atol=1)
    # Without the step, the rules, the margin's edge and the neighbours are read too.
    off = sum(boxes(reader.prepare_page(register_cell(), ALL.without("edges"))), [])
    assert any(x0 <= 111 or x1 >= 235 for x0, _, x1, _ in off)


def test_a_bold_digit_at_the_edge_of_a_tight_crop_is_no_scanner_margin():
    """A string of digits cropped tight to its ink: each touches the top and
    bottom, a bold one at the right edge and a thick bar (a 1) fill their
    boxes and are as dark as a margin. They touch the border only where
    their strokes reach it, so all are read; the register cell's margin,
    along the whole of its side, still goes."""
    mask = np.zeros((80, 200), bool)
    ring(mask, (0, 0, 40, 80), stroke=8)
    mask[:, 60:76] = True                      # a thick 1, as tall as the picture
    ring(mask, (100, 0, 140, 80), stroke=8)
    # A bold 2 (a Z) at the right edge: only its foot reaches that side.
    mask[:14, 160:196] = mask[66:, 160:200] = True
    zed = Image.new("1", (200, 80))
    ImageDraw.Draw(zed).line([(190, 7), (166, 72)], fill=1, width=16)
    mask |= np.asarray(zed, bool)
    page = np.where(mask, 0.05, PAPER).astype(np.float32)
    assert not reader.printed.dark_margin(page).any()
    assert len(sum(boxes(reader.prepare_page(page)), [])) == 4
    assert reader.printed.dark_margin(register_cell())[:, :100].mean() > 0.9


@pytest.mark.parametrize("shape", ["cross", "four"])
def test_the_dark_paper_round_a_light_digit_filling_its_picture_is_no_margin(shape):
    """A light digit stretched to fill a small dark picture (a USPS-style
    image) cuts the dark paper into pieces at the picture's edge, each as
    dark, solid and straight-edged as a scanner margin. Together they are
    most of the picture, or leave it no light paper: they are the paper,
    and the picture reads as light ink on dark."""
    page = np.full((64, 64), 0.05, np.float32)
    if shape == "cross":
        page[:, 26:38] = page[26:38, :] = 0.95
    else:  # a 4: an open top, a bar across, a stem down the right
        page[:40, 4:14] = page[30:40, :] = page[:, 40:50] = 0.95
    assert not reader.printed.dark_margin(page).any()
    assert reader.prepare_page(page).ink_dark is False


def sheet_on_a_table(sheet=(170, 150, 470, 330), tilt=4.0):
    """A phone photo (480x640) of a small sheet of paper on a darker table
    that fills most of the picture and all of its border, lit unevenly, with
    two '0'-like rings written on the sheet. Returns (picture, the rings'
    boxes)."""
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    table = 0.22 + 0.18 * xx / 640          # the light falls off across the table
    paper = Image.new("L", (640, 480), 0)
    x0, y0, x1, y1 = sheet
    ImageDraw.Draw(paper).rectangle(sheet, fill=255)
    paper = np.asarray(paper.rotate(tilt, center=((x0 + x1) / 2, (y0 + y1) / 2)), bool)
    mask = np.zeros((480, 640), bool)
    number = [(260, 200, 300, 270), (320, 200, 360, 270)]
    for box in number:
        ring(mask, box, stroke=6)
    page = np.where(paper, 0.88 - 0.08 * yy / 480, table)
    page = np.where(mask, INK, page)
    noise = np.random.default_rng(1).normal(0, 0.01, page.shape)
    return np.clip(page + noise, 0, 1).astype(np.float32), number


def test_the_table_round_a_photographed_sheet_is_taken_off():
    """A sticky note on a desk: the table is most of the picture and all of
    its border, so Otsu's majority took it for the paper, the writing for
    the background and the table's corners for digits. Taken off as a
    margin, the sheet reads as dark ink and only its two digits are found."""
    photo, number = sheet_on_a_table()
    margin = reader.printed.dark_margin(photo)
    assert margin[:40].all() and margin[-40:].all() and margin[:, :60].all()
    assert not margin[200:270, 260:360].any()     # nothing of the writing
    found = reader.prepare_page(photo)
    assert found.ink_dark
    np.testing.assert_allclose(boxes(found), [number], atol=2)


def test_a_hard_shadow_over_a_page_is_no_table():
    """The shadow of a hand and arm over a page, with a hard edge: dark,
    reaching all four sides and stepping down from the lit paper like a
    table round a sheet. But the writing under it is darker still, and the
    lit paper reaches the picture's edge: the shadow stays, and so do the
    digits in it."""
    mask = np.zeros((480, 640), bool)
    number = [(60, 300, 100, 370), (120, 300, 160, 370), (400, 100, 440, 170)]
    for box in number:
        ring(mask, box, stroke=6)
    page = np.where(mask, INK, PAPER)
    shadow = np.zeros((480, 640), bool)
    shadow[:, :220] = shadow[260:, :] = True     # an arm down the left, a hand along the bottom
    page = np.where(shadow, page * 0.55, page)
    page = np.clip(page + np.random.default_rng(2).normal(0, 0.01, page.shape), 0, 1)
    page = page.astype(np.float32)
    assert not reader.printed.dark_margin(page).any()
    found = reader.prepare_page(page)
    assert sorted(sum(boxes(found), [])) == sorted(number)


@pytest.mark.parametrize("digit", ["1", "0"])
def test_a_large_light_digit_on_black_is_no_sheet_on_a_table(digit):
    """A bold light digit on a black picture of photo size: the black touches
    every side like a table round a sheet, but what it encloses is strokes
    (round a hole as wide as they are, or none), not paper far thicker than
    the ink on it."""
    mask = np.zeros((240, 240), bool)
    if digit == "1":
        mask[30:210, 100:140] = True
    else:
        ring(mask, (50, 30, 190, 210), stroke=30)
    picture = np.where(mask, 0.95, 0.03).astype(np.float32)
    assert not reader.printed.dark_margin(picture).any()
    assert reader.prepare_page(picture).ink_dark is False


def test_a_page_with_paper_all_round_keeps_all_its_ink():
    page, _ = page_of_rings(noise=0.02)
    flat = images.even_out_lighting(page)
    mask = segment.ink_mask(flat, True, images.to_foreground(flat, True) > 0)
    kept, removed = reader.printed.remove_edges(mask)
    assert not removed.any() and (kept == mask).all()


def test_a_clean_page_is_prepared_the_same_with_every_step_on_or_off():
    page, expected = page_of_rings(light=0.3, noise=0.02)
    on, off = reader.prepare_page(page, ALL), reader.prepare_page(page, NONE)
    assert boxes(on) == boxes(off)
    np.testing.assert_array_equal(on.crops, off.crops)


def prepared(page, name):
    """The page prepared with every step, and with step ``name`` off."""
    return reader.prepare_page(page, ALL), reader.prepare_page(page, ALL.without(name))


def test_box_lines_lighter_than_the_pen_are_taken_off_whole():
    """A box field printed lighter and finer than the pen passes for a
    pattern: the pattern step leaves its lines out away from the digits
    and keeps them beside the strokes. Found in the page's whole ink, the
    lines go whole, and no stub of them is left to be read as a digit."""
    page = np.full((140, 420), PAPER, np.float32)
    page[30, 20:400] = page[110, 20:400] = 0.5            # the field's top and bottom
    for x in range(20, 401, 95):
        page[30:111, x] = 0.5                             # its walls, 95 pixels apart
    mask = np.zeros(page.shape, bool)
    for x0 in (115, 210, 305):                            # a ring in three cells,
        ring(mask, (x0 + 1, 45, x0 + 45, 109), stroke=7)  # touching each left wall
    page[mask] = INK
    flat = images.even_out_lighting(page)
    faint = images.to_foreground(flat, True) > 0
    kept, whole = segment.ink_mask(flat, True, faint, whole=True)
    assert whole is not None and whole[30, 20:400].all()  # the pattern step took the lines
    assert kept[60:100, 115].any()                          # but kept them beside the rings
    left, _, walls = reader.remove_rules(kept, whole)
    assert not left[:, 112:116].any() and not left[:, :110].any()
    assert len(segment.components(left)) == 3               # the three rings alone
    assert walls[:, 115].any()
    # Looked for in the thinned ink alone, the walls' stubs stay.
    assert reader.remove_rules(kept)[0][:, 112:116].any()
    # Under a printed pattern of dots with one line through it, the line is
    # a few of the pattern's strokes: nothing is put back and taken off.
    dotted = kept.copy()
    dotted[40::3, ::3] = True
    dotted[10, :] = True
    for got, alone in zip(reader.remove_rules(kept, dotted), reader.remove_rules(kept)):
        np.testing.assert_array_equal(got, alone)


def test_the_digits_of_a_box_field_are_one_number_however_wide_their_cells():
    """Four narrow digits, each in its own cell of a printed box field,
    stand further apart than the gap that parts two numbers; the cell
    walls the rules step took off tell they are one number."""
    mask = np.zeros((130, 440), bool)
    mask[20:22, 20:420] = mask[108:110, 20:420] = True     # the field's top and bottom
    for x in range(20, 421, 100):
        mask[20:110, x:x + 2] = True                        # its walls
    for x in range(20, 420, 100):
        ring(mask, (x + 40, 35, x + 62, 95), stroke=5)      # a narrow 0 in each cell
    page = reader.prepare_page(np.where(mask, INK, PAPER).astype(np.float32))
    lines = [[ways.pieces[(0, ways.last)] for ways in line] for line in page.lines]
    assert [len(line) for line in lines] == [4] and page.walls
    probs = np.tile(np.eye(10)[0], (4, 1))
    reading = reader.describe(lines, probs, True, 0.5, page.marks, walls=page.walls)
    assert [n["text"] for n in reading["numbers"]] == ["0000"]
    apart = reader.describe(lines, probs, True, 0.5, page.marks)
    assert [n["text"] for n in apart["numbers"]] == ["0"] * 4


def test_each_switch_turns_its_step_off():
    assert set(NAMES) == {"shadows", "pattern", "rules", "edges", "punctuation", "lattice",
                          "thinning"}
    # rules: three rings standing on a long printed line
    mask = np.zeros((100, 400), bool)
    for x0 in (100, 150, 200):
        ring(mask, (x0, 20, x0 + 35, 70), stroke=5)
    mask[68:71, 20:380] = True
    page = np.where(mask, INK, PAPER).astype(np.float32)
    on, off = prepared(page, "rules")
    assert boxes(on)[0][0][2] - boxes(on)[0][0][0] < 40
    assert boxes(off)[0][0][2] - boxes(off)[0][0][0] > 300
    # punctuation: '00.'
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 20, 55, 70), stroke=5)
    ring(mask, (70, 20, 105, 70), stroke=5)
    mask[62:70, 115:123] = True
    page = np.where(mask, INK, PAPER).astype(np.float32)
    on, off = prepared(page, "punctuation")
    assert [g.mark for g in on.marks[0]] == ["."] and off.marks == [[]]
    # lattice: two rings touching, one component twice a character's width
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 20, 55, 70), stroke=5)
    ring(mask, (53, 20, 88, 70), stroke=5)
    page = np.where(mask, INK, PAPER).astype(np.float32)
    on, off = prepared(page, "lattice")
    assert len(on.lines[0][0].pieces) > 1 and len(off.lines[0][0].pieces) == 1
    # thinning: a ring drawn with a marker, strokes over a third of its size
    mask = np.zeros((120, 120), bool)
    ring(mask, (20, 20, 100, 100), stroke=30)
    thick = mask.astype(np.float32)
    assert images.thin(thick) is not thick
    assert images.mnist_style(thick).sum() < images.mnist_style(thick, thin_strokes=False).sum()
    # pattern: fine, lighter hatching over the page is ink only with the step off
    page = np.full((120, 200), PAPER, np.float32)
    page[::6, :] = 0.55
    mask = np.zeros(page.shape, bool)
    ring(mask, (60, 30, 100, 90), stroke=6)
    page[mask] = INK
    flat = images.even_out_lighting(page)
    faint = images.to_foreground(flat, True) > 0
    assert not segment.ink_mask(flat, True, faint)[::6][:, :50].any()
    assert segment.ink_mask(flat, True, faint, pattern=False)[::6][:, :50].all()
    # edges: see test_a_register_cell_gives_its_number_and_no_rule_margin_or_neighbour
    # shadows: see test_digits_in_a_shadow_across_the_page_are_all_found


@pytest.fixture(scope="module")
def model(reader_model):
    return load_keras_model(reader_model)


def test_register_cells_and_clean_strips_are_written_and_read(model, sample):
    x, y = sample["x_test"][:300], sample["y_test"][:300]
    rng = np.random.default_rng(1)
    for _ in range(3):
        cell, truth = pages.make_page(rng, x, y, pages.CONDITIONS["register cells"])
        assert cell.dtype == np.uint8 and len(truth) == 1 and 1 <= len(truth[0]["text"]) <= 3
        # The margin fills about a third of the crop, at one side.
        dark = (cell < 40).mean(axis=0) > 0.9
        assert 0.2 < dark.mean() < 0.45 and (dark[0] or dark[-1])
        reading, _ = benchmark.read_grey(model, cell, reader.MIN_CONFIDENCE)
        assert len(reading["lines"]) >= 1
    summary, _ = benchmark.run_condition(model, x, y, pages.CONDITIONS["clean strips"], 2, 0,
                                         reader.MIN_CONFIDENCE, steps=NONE)
    assert summary["digits_expected"] > 0


def test_the_ablation_table_has_every_setting(model, sample, tmp_path):
    settings = benchmark.ablation_settings()
    assert list(settings)[:2] == ["all on", "all off"] and len(settings) == 2 + len(NAMES)
    assert settings["no lattice"] == ALL.without("lattice") and settings["all off"] == NONE
