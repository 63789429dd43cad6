"""The read pipeline (digitsuite.reading.reader): a page's characters in
either ink under uneven light, the model's MNIST-style inputs, and how a
reading is described."""

import numpy as np
import pytest
from scipy import ndimage

from digitsuite.data import images
from digitsuite.errors import ImageError
from digitsuite.reading import reader, segment
from digitsuite.reading.steps import ALL
from tests.support import amount_page, draw_seven, page_of_rings, ring, scribble


@pytest.mark.parametrize("dark_ink", [True, False])
def test_either_polarity_under_uneven_light_gives_the_same_characters(dark_ink):
    page, expected = page_of_rings(dark_ink=dark_ink, light=0.4, noise=0.02)
    found = reader.prepare_page(page)
    assert found.ink_dark is dark_ink
    got = [[ways.pieces[(0, ways.last)].box for ways in line] for line in found.lines]
    assert [len(line) for line in got] == [len(line) for line in expected]
    # Noise may add a pixel of soft edge to a box.
    np.testing.assert_allclose(sum(got, []), sum(expected, []), atol=1)


# A hard edge that runs along a stroke of light ink can still split it
# (even_out_shadows' docstring): not asked of it here.
@pytest.mark.parametrize(("dark_ink", "soft"), [(True, 0.0), (True, 8.0), (False, 8.0)])
def test_digits_in_a_shadow_across_the_page_are_all_found(dark_ink, soft):
    """A hard- or soft-edged band of shadow (half the light) over three of
    five characters, on a page with paper round its writing: every
    character is found where it is. Without the shadow step the threshold
    takes the shaded paper for ink and loses them."""
    page, expected = page_of_rings(dark_ink=dark_ink, noise=0.02, shadow=0.5, soft=soft,
                                   border=30)
    found = reader.prepare_page(page)
    got = [[ways.pieces[(0, ways.last)].box for ways in line] for line in found.lines]
    assert [len(line) for line in got] == [len(line) for line in expected]
    # A few pixels of the shadow's edge may cling to a box it crosses.
    np.testing.assert_allclose(sum(got, []), sum(expected, []), atol=5)
    try:
        without = reader.prepare_page(page, ALL.without("shadows"))
        lost = [[ways.pieces[(0, ways.last)].box for ways in line] for line in without.lines]
    except ImageError:
        lost = []
    assert lost != got


def test_model_inputs_are_mnist_style():
    page, expected = page_of_rings(noise=0.02)
    dark = reader.prepare_page(page).crops
    light = reader.prepare_page(1 - page).crops
    assert dark.shape == (5, 28, 28) and dark.dtype == np.float32
    assert dark.min() == 0.0 and dark.max() == 1.0
    for crop in dark:
        np.testing.assert_allclose(ndimage.center_of_mass(crop), (14, 14), atol=0.5)
        rows, cols = np.nonzero(crop)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20   # fits 20x20, long side 20
    np.testing.assert_allclose(dark, light, atol=0.05)



def test_an_mnist_image_as_it_comes_is_read(reader_model, sample):
    """MNIST's own 28x28 images, a light digit on pure black paper, are read
    as pages: each shows one digit, nearly always the right one. The
    shadow step once divided by that black (0) and turned the page into
    NaN, so nearly half of them read as "only specks"."""
    from digitsuite.inference.modelio import load_keras_model

    model = load_keras_model(reader_model)
    x, y = sample["x_test"][:20], sample["y_test"][:20]
    read = []
    for image in x:
        reading, _ = reader.read_page(model, image / 255.0)
        assert reading["ink"] == "light on dark"
        assert len(reading["digits"]) == 1
        read.append(reading["digits"][0]["digit"])
    assert np.mean(np.array(read) == y) >= 0.85
    black = np.zeros((28, 28), np.float32)
    black[8:20, 12:15] = 1.0
    assert images.even_out_shadows(black, ink_dark=False) is black
def test_describe_marks_unsure_digits_and_spaces(tmp_path):
    mask = np.zeros((60, 300), bool)
    for x0 in (10, 50, 200):                                   # '00' then, far off, '0'
        mask[10:50, x0:x0 + 25] = True
        mask[15:45, x0 + 5:x0 + 20] = False
    lines = segment.find_lines(mask)
    probs = np.full((3, 10), 0.01)
    probs[0, 7], probs[1, 1], probs[1, 7], probs[2, 3] = 0.91, 0.5, 0.42, 0.91
    reading = reader.describe(lines, probs, ink_dark=True, min_confidence=0.8)
    assert reading["lines"] == ["7? 3"]
    assert reading["digits"][1]["top2"] == [[1, 0.5], [7, 0.42]]
    assert reading["digits"][1]["unsure"] and not reading["digits"][0]["unsure"]


def test_reader_prepares_digits_exactly_as_visualize_layers_does(tmp_path):
    """One preprocessing: a picture of one digit gives the model the same
    input through read_digits.py as through visualize_layers.py --image."""
    for dark_ink in (True, False):
        grey, digit = images.load_digit(draw_seven(tmp_path / "seven.png", dark_ink))
        np.testing.assert_array_equal(reader.prepare_page(grey).crops, digit[None])


def test_amount_keeps_punctuation_out_and_reports_the_decimal_point():
    lines = segment.find_lines(amount_page())
    characters = [[g for g in line if not g.mark] for line in lines]
    marks = [[g for g in line if g.mark] for line in lines]
    probs = np.full((6, 10), 0.001)
    for k, digit in enumerate([1, 5, 0, 0, 0, 0]):
        probs[k, digit] = 0.99
    reading = reader.describe(characters, probs, True, 0.8, marks)
    assert reading["lines"] == ["150000"]
    (number,) = reading["numbers"]
    assert number["text"] == "150000" and number["decimal_after"] == 4
    assert number["amount"] == "1500.00" and number["written"] == "1,500.00-"
    assert [(m["mark"], m["after"]) for m in number["marks"]] == [(",", 1), (".", 4), ("-", 6)]
    # Printed as written, with the amount beside it where its point is not plain.
    text = "\n".join(reader.format_reading({"file": "f.png", **reading}))
    assert "number 1,500.00- (amount 1500.00): check, 94% (softmax, uncalibrated)" in text
    # Each line as written too, which is what a user copies: the digits
    # alone would be a hundred times the amount.
    assert reader.written_lines(reading) == ["1,500.00-"]
    assert text.splitlines()[1].startswith("  1,500.00-    1 99%")


def test_a_model_without_calibration_vouches_for_nothing():
    """A model's softmax over 0.9 is no chance of being right: read with a
    plain model (``--model`` with no calibration.json), a number of digits
    at 0.99 each is still one to check, and the reading says why once."""
    probs = np.full((3, 10), 0.001)
    for k, digit in enumerate([4, 0, 7]):
        probs[k, digit] = 0.99
    ink = np.ones((60, 30), bool)
    line = [segment.Glyph((x, 0, x + 30, 60), ink) for x in (0, 40, 80)]
    reading = reader.describe([line], probs, True, 0.8)
    (number,) = reading["numbers"]
    assert reading["lines"] == ["407"] and not reading["calibrated"]
    assert number["unsure"] and not any(d["unsure"] for d in reading["digits"])
    text = reader.format_reading({"file": "f.png", **reading})
    assert "  number 407: check, 97% (softmax, uncalibrated)" in text
    assert text[-1] == f"  {reader.UNCALIBRATED_NOTE}" and "calibrate_reader.py" in text[-1]


def test_a_number_is_written_with_its_marks_where_they_stand():
    def at(*marks):
        return [{"mark": m, "after": a} for m, a in marks]
    assert reader.written("123456", at((",", 1), (".", 4))) == "1,234.56"
    assert reader.written("1045", at((":", 2))) == "10:45"
    assert reader.written("250", at((",", 3), ("-", 3))) == "250,-"
    assert reader.written("7", []) == "7"


def test_a_thousands_point_is_not_a_decimal_point():
    ink = np.ones((60, 30), bool)
    glyphs = [segment.Glyph((x, 0, x + 30, 60), ink) for x in (0, 40, 80, 120)]
    point = segment.Glyph((32, 50, 38, 58), np.ones((8, 6), bool), mark=".")
    members = [(g, False, "1", 0.99) for g in glyphs]            # 1.111
    (number,) = reader.numbers_of(0, members, [point])
    assert number["decimal_after"] is None and number["amount"] == "1111"
    assert number["marks"] == [{"mark": ".", "after": 1, "box": [32, 50, 38, 58]}]


def test_touching_digits_are_read_as_the_pieces_the_model_is_surest_of():
    mask = np.zeros((100, 200), bool)
    ring(mask, (20, 20, 55, 80))
    ring(mask, (60, 20, 95, 80))
    mask[48:52, 55:60] = True                                   # a thin bridge joins them
    (glyph,), = segment.find_lines(mask)
    ways = segment.lattice(glyph, glyph.height)
    spans = list(ways.pieces)
    # Whole: unsure (an even spread); the two halves: sure 0 and 8; other pieces: unsure.
    probs = np.full((len(spans), 10), 0.1)
    halves = [span for span, piece in ways.pieces.items()
              if piece.box in ((20, 20, 57, 80), (57, 20, 95, 80))]
    assert len(halves) == 2
    for span, digit in zip(sorted(halves), (0, 8)):
        probs[spans.index(span)] = np.eye(10)[digit] * 0.98 + 0.002
    page = reader.Page([[ways]], [[]], np.zeros((len(spans), 28, 28), np.float32), True)
    lines, chosen, _, cut = reader.resolve(page, probs)
    assert [g.box for g in lines[0]] == [(20, 20, 57, 80), (57, 20, 95, 80)]
    assert chosen.argmax(axis=1).tolist() == [0, 8] and cut.tolist() == [True, True]
    # Sure of the whole, unsure of every piece: it stays one digit.
    probs = np.full((len(spans), 10), 0.1)
    probs[spans.index((0, ways.last))] = np.eye(10)[0] * 0.98 + 0.002
    lines, _, _, cut = reader.resolve(page, probs)
    assert [g.box for g in lines[0]] == [glyph.box] and cut.tolist() == [False]


def test_a_page_reports_the_ink_it_did_not_read():
    page, expected = page_of_rings(noise=0.02)
    assert reader.prepare_page(page).unread == []
    # A small ring between the lines: a line of its own too small to be writing.
    mask = np.zeros(page.shape, bool)
    ring(mask, (200, 78, 214, 92), stroke=3)
    page[mask] = 0.0
    found = reader.prepare_page(page)
    assert sum(len(line) for line in found.lines) == 5
    (x0, y0, x1, y1), = found.unread
    assert abs(x0 - 200) <= 1 and abs(y0 - 78) <= 1 and abs(x1 - 214) <= 1 and abs(y1 - 92) <= 1


def test_a_light_digit_beside_the_dark_ones_is_unread_ink_not_nothing():
    """A ring drawn at a third of the ink's darkness beside the first line
    is too light for the page's threshold, but it is a character's size: it
    is unread ink, so the number beside it is not vouched for blindly. A
    light wash of the same size (a stain) and light specks are not."""
    page, _ = page_of_rings(noise=0.02, border=60)
    assert reader.prepare_page(page).unread == []
    paper = 0.85
    light = paper - 0.35 * (paper - 0.15)
    faint = np.zeros(page.shape, bool)
    ring(faint, (260, 80, 295, 130), stroke=5)
    stain = np.zeros(page.shape, bool)
    stain[160:210, 240:275] = True
    specks = np.random.default_rng(1).random(page.shape) < 0.002
    for mark, found in ((faint, [(260, 80, 295, 130)]), (stain, []), (specks, [])):
        marked = np.where(mark, light, page).astype(np.float32)
        prepared = reader.prepare_page(marked)
        assert sum(len(line) for line in prepared.lines) == 5  # none of it read
        assert [tuple(box) for box in prepared.unread] == found


def test_box_sides_taken_off_around_the_digits_count_as_unread():
    """A digit mistaken for a box side goes with the sides; the page keeps
    the sides' boxes (cell-high pieces), not the frame's top and bottom."""
    mask = np.zeros((200, 560), bool)
    mask[50:52, 20:540] = True
    mask[138:140, 20:540] = True
    for x in range(20, 541, 65):                       # eight cells, six filled
        mask[50:140, x:x + 2] = True
    for k in range(1, 7):
        ring(mask, (20 + 65 * k + 17, 65, 20 + 65 * k + 47, 125), stroke=5)
    found = reader.prepare_page(np.where(mask, 0.1, 0.9).astype(np.float32))
    assert [len(line) for line in found.lines] == [6]
    assert [box[0] for box in found.unread] == list(range(20, 541, 65))
    assert all(box[2] - box[0] <= 3 and 50 <= box[1] < box[3] <= 140 for box in found.unread)


def boxed_number_page(sample, labels, comb, seed=0):
    """A grey page (0-1) of one number written in a printed box field (or
    comb), one cell a digit, an empty cell before the number as an amount
    field leaves. Each thin side straddles two pixel columns, as a scan's
    often do: one dark, the other half as dark, which the noise breaks."""
    cell, top, bottom, x0 = 48, 20, 76, 20
    cells = len(labels) + 1
    x1 = x0 + cells * cell
    pen = np.zeros((100, x1 + 20), np.float32)
    for k, label in enumerate(labels):
        digit = sample["x_test"][np.flatnonzero(sample["y_test"] == label)[0]]
        tile = ndimage.zoom(digit.astype(np.float32) / 255, 2.0, order=1)
        y, x = (top + bottom) // 2 - 28, x0 + int((k + 1.5) * cell) - 28
        np.maximum(pen[y:y + 56, x:x + 56], tile, out=pen[y:y + 56, x:x + 56])
    printed_ink = np.zeros_like(pen)
    printed_ink[bottom:bottom + 2, x0:x1 + 1] = 1.0
    if not comb:
        printed_ink[top:top + 2, x0:x1 + 1] = 1.0
    tick_top = bottom - 24 if comb else top
    for x in range(x0, x1 + 1, cell):
        printed_ink[tick_top:bottom, x] = 1.0
        printed_ink[tick_top:bottom, x - 1] = 0.5
    paper = 0.9 + (0.15 - 0.9) * pen
    noise = np.random.default_rng(seed).normal(0, 0.03, pen.shape)
    return np.clip(paper * (1 - 0.7 * printed_ink) + noise, 0, 1).astype(np.float32)


@pytest.mark.parametrize("comb", [False, True])
def test_a_number_in_a_box_field_reads_without_the_fields_lines(reader_model, sample, comb):
    # Each side or tick, left in a column the noise broke, read as a '1'.
    from digitsuite.inference.modelio import load_keras_model

    labels = [2, 0, 5, 8]
    page = boxed_number_page(sample, labels, comb)
    reading, _ = reader.read_page(load_keras_model(reader_model), page)
    assert [d["digit"] for d in reading["digits"]] == labels


def test_a_scribble_is_no_digit_beside_a_number_or_alone(reader_model):
    """A scribble was cut into pieces and read as '???'. Beside a number it
    is reported among ``not_digits``; alone it is 'no digit found'."""
    from digitsuite.inference.modelio import load_keras_model

    mask = np.zeros((120, 400), bool)
    ring(mask, (20, 30, 55, 90), stroke=5)
    ring(mask, (65, 30, 100, 90), stroke=5)
    scribble(mask, (200, 30, 320, 90))
    page = np.where(mask, 0.1, 0.9).astype(np.float32)
    prepared = reader.prepare_page(page)
    (scrawl,) = prepared.scribbles
    assert scrawl.box[0] >= 200 and scrawl.box[2] <= 320
    reading, _ = reader.read_prepared(load_keras_model(reader_model), prepared)
    assert len(reading["digits"]) == 2 and reading["not_digits"] == [list(scrawl.box)]
    alone = np.where(mask[:, 150:], 0.1, 0.9).astype(np.float32)
    with pytest.raises(ImageError, match="no digit found: only a scribble"):
        reader.prepare_page(alone)


def test_a_small_scrawl_beside_a_number_is_set_aside_and_stops_it_being_vouched_for():
    """A scrawl the size of a digit has too few loops to pass for a
    scribble, and was cut into pieces read as '??'. Now it is one glyph
    of no digit, and the number beside it is checked, never vouched for."""
    from digitsuite.inference.runs import READER_MODEL
    from digitsuite.reading import confidence

    mask = np.zeros((120, 300), bool)
    ring(mask, (20, 30, 55, 90), stroke=5)
    ring(mask, (65, 30, 100, 90), stroke=5)
    scribble(mask, (120, 32, 165, 88), stroke=4)
    prepared = reader.prepare_page(np.where(mask, 0.1, 0.9).astype(np.float32))
    assert prepared.scribbles == []  # five loops: not a scribble by its loops alone
    assert any(piece.loopy for line in prepared.lines for ways in line
               for piece in ways.pieces.values())
    ensemble = confidence.load_reader(READER_MODEL)
    reading, _ = reader.read_prepared(ensemble, prepared)
    assert reading["lines"] == ["00"]
    (number,) = reading["numbers"]
    assert number["unsure"] and number["doubts"][-1] == reader.SCRAWL_DOUBT
    (aside,) = reading["not_digits"]
    assert aside[0] >= 115 and aside[2] <= 175

    # The same loops read as sure digits are touching digits, kept.
    lines = reader.resolve(prepared, ensemble.piece_probabilities(prepared.crops))[0]
    m = sum(len(line) for line in lines)
    sure = confidence.Judgement(np.zeros(m, int), np.ones(m), np.eye(10)[np.zeros(m, int)])
    assert reader.scrawled(lines, sure) == {}


def test_a_number_that_may_be_a_date_says_so():
    # Two slash-like 1s parting the digits as a date's slashes would.
    slashes = [False, False, True, False, False, True, False, False]
    assert reader.as_date("12105126", slashes) == "12/05/26"
    assert reader.as_date("20261115", [False] * 4 + [True, False, True, False]) == "2026/1/5"
    assert reader.as_date("12105126", [False] * 8) is None           # upright 1s: a number
    assert reader.as_date("12195126", slashes) is None               # no second slash-like '1'
    assert reader.as_date("45167126", [False, False, True, False, False, True, False,
                                       False]) is None               # no 45th day or month
    assert reader.as_date("121051234", slashes + [False]) is None    # a 3-digit year
    # Judged on the most likely digits, written as shown: a slash read as
    # '?' is still a slash, an unsure digit stays '?'.
    assert reader.as_date("12105126", slashes, "1?1051?6") == "1?/05/?6"
    # Of three leaning 1s, the pair that makes a date.
    assert reader.as_date("12105126", [True, False, True, False, False, True, False,
                                       False]) == "12/05/26"


def date_page(sample):
    """12/05/26 in the sample's test digits, the slashes straight strokes
    leaning 28 degrees, as tall as the digits."""
    from PIL import Image, ImageDraw

    x, y = sample["x_test"], sample["y_test"]
    page = Image.new("L", (420, 120), 245)
    draw, left = ImageDraw.Draw(page), 20
    for k, group in enumerate(("12", "05", "26")):
        for char in group:
            digit = 255 - x[np.flatnonzero(y == int(char))[0]]
            page.paste(Image.fromarray(digit).resize((56, 56)), (left, 30),
                       Image.fromarray((digit < 200).astype(np.uint8) * 255).resize((56, 56)))
            left += 40
        if k < 2:
            draw.line([(left + 42, 34), (left + 16, 82)], fill=25, width=4)
            left += 56
    return np.asarray(page, np.float32) / 255


def test_a_date_is_not_vouched_for_as_a_number(sample):
    from digitsuite.inference.runs import READER_MODEL
    from digitsuite.reading import confidence

    reading, _ = reader.read_page(confidence.load_reader(READER_MODEL), date_page(sample))
    (number,) = reading["numbers"]
    assert number["text"] == "12105126", reading["lines"]   # the slashes read as 1s...
    assert number["unsure"]                                  # ...so it is not vouched for
    assert "it may be the date 12/05/26: its leaning 1s may be slashes" in number["doubts"]


def test_a_picture_of_noise_is_refused_before_its_pieces_are_prepared(monkeypatch):
    # Random grey breaks into hundreds of blobs, each cut every way the
    # lattice offers; preparing them all would take a minute on a big page.
    noise = np.random.default_rng(0).random((400, 400)).astype(np.float32)
    prepared = []
    monkeypatch.setattr(reader, "glyph_input", lambda *a, **k: prepared.append(1))
    monkeypatch.setattr(reader, "MAX_PIECES", 40)
    with pytest.raises(ImageError, match="more than the 40 a page is read for.*noise"):
        reader.prepare_page(noise)
    assert not prepared
    # A page of writing stays well inside the bound.
    page, _ = page_of_rings(noise=0.02)
    monkeypatch.undo()
    assert len(reader.prepare_page(page).crops) <= 40
