"""The crop strip read_digits.py --out-dir saves, and the readings.json an
earlier run left there (digitsuite.reading.figures)."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from digitsuite.reading import figures


def test_each_crop_is_titled_with_its_reading_and_the_texts_probability():
    reading = {"lines": ["3?"], "digits": [
        {"line": 0, "digit": 3, "confidence": 0.991, "unsure": False, "top2": [[3, 0.99],
                                                                               [8, 0.01]]},
        {"line": 0, "digit": 1, "confidence": 0.86, "unsure": True, "top2": [[1, 0.99],
                                                                             [4, 0.0]]}]}
    fig = figures.plot_crops(np.zeros((2, 28, 28), np.float32), reading)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    plt.close(fig)
    assert titles == ["3 99%", "1 or 4? 86%"]


def test_the_annotated_page_shows_marks_legibly_and_what_is_no_digit():
    """A full stop's box is 4 pixels: its label is sized by its number's
    height, not squeezed to the box. A scribble set aside gets a dashed
    'no digit' box."""
    digit = {"line": 0, "digit": 1, "confidence": 0.99, "unsure": False,
             "top2": [[1, 0.99], [7, 0.01]]}
    reading = {"lines": ["12"], "digits": [{**digit, "box": [10, 10, 40, 110]},
                                           {**digit, "box": [60, 10, 90, 110]}],
               "numbers": [{"box": [10, 10, 90, 110], "marks": [
                   {"mark": ".", "after": 1, "box": [46, 104, 50, 108]}]}],
               "not_digits": [[120, 10, 200, 110]]}
    fig = figures.plot_annotated(np.ones((130, 220), np.float32), reading)
    (ax,) = fig.axes
    texts = {t.get_text(): t.get_fontsize() for t in ax.texts}
    dashed = [p for p in ax.patches if p.get_linestyle() == "--"]
    plt.close(fig)
    # The dashed box stands 3 pixels off the mark, so a dot does not hide it.
    assert [(p.get_x() + 0.5, p.get_width()) for p in dashed] == [(117, 86)]
    assert texts["no digit"] >= 11
    assert texts["."] >= 0.5 * texts["1"]


def test_the_annotated_page_frames_a_number_not_vouched_for():
    """Both digits shown green, the number not vouched for: a dashed orange
    frame round the number, none round a number that is."""
    digit = {"line": 0, "digit": 1, "confidence": 0.99, "unsure": False,
             "top2": [[1, 0.99], [7, 0.01]]}
    reading = {"lines": ["12", "3"], "digits": [{**digit, "box": [10, 10, 40, 110]},
                                                {**digit, "box": [60, 10, 90, 110]},
                                                {**digit, "line": 1, "box": [10, 130, 40, 230]}],
               "numbers": [{"box": [10, 10, 90, 110], "marks": [], "unsure": True},
                           {"box": [10, 130, 40, 230], "marks": [], "unsure": False}]}
    fig = figures.plot_annotated(np.ones((250, 120), np.float32), reading)
    (ax,) = fig.axes
    frames = [p for p in ax.patches if p.get_linestyle() == "--"]
    plt.close(fig)
    assert len(frames) == 1
    (frame,) = frames
    x, y = frame.get_x() + 0.5, frame.get_y() + 0.5
    assert x < 10 and y < 10 and x + frame.get_width() > 90 and y + frame.get_height() > 110


@pytest.mark.parametrize("write", [
    lambda p: p.write_text("[" * 100_000 + "]" * 100_000),       # nested past the recursion limit
    lambda p: p.write_bytes(b"\xff\xfe not text"),
    lambda p: p.write_text('{"file": "a.png"}'),                 # not a list
    lambda p: p.write_text('[{"file": "a.png", "pictures": ["../../etc/passwd"]}]'),
    lambda p: p.symlink_to("/etc/hostname"),
    lambda p: p.mkdir(),
], ids=["deeply nested", "not text", "not a list", "a path for a picture", "a symlink",
        "a folder"])
def test_an_earlier_readings_file_that_is_not_one_is_not_merged(tmp_path, write):
    write(tmp_path / figures.READINGS_FILE)
    assert figures.earlier_readings(tmp_path) == []


def test_an_earlier_readings_file_gives_its_readings_and_their_pictures(tmp_path):
    entry = {"file": "a.png", "pictures": ["a.annotated.png", "a.crops.png"]}
    (tmp_path / figures.READINGS_FILE).write_text(json.dumps([entry, {"file": 3}]))
    (tmp_path / "a.annotated.png").write_bytes(b"")
    (tmp_path / "notes.png").write_bytes(b"")
    assert figures.earlier_readings(tmp_path) == [entry]
    assert figures.picture_stems(tmp_path) == {"a"}
    assert figures.stem_of("scan.v2.crops.png") == "scan.v2"


def test_a_narrow_unsure_digit_labels_its_guesses_legibly():
    """'?1/7' over a narrow '1' may run into the gap up to the next label
    on its side; where the next digit stands right beside it, that digit's
    label goes under its box instead. Either way the guesses are legible."""
    one = {"line": 0, "digit": 1, "confidence": 0.5, "unsure": True,
           "top2": [[1, 0.6], [7, 0.3]], "box": [10, 10, 24, 110]}
    sure = {"line": 0, "digit": 4, "confidence": 0.99, "unsure": False,
            "top2": [[4, 0.99], [9, 0.01]]}
    for gap, below in ((4, True), (80, False)):
        digits = [one, {**sure, "box": [24 + gap, 10, 84 + gap, 110]}]
        fig = figures.plot_annotated(np.ones((130, 400), np.float32),
                                     {"lines": ["?4"], "digits": digits})
        texts = {t.get_text(): t for t in fig.axes[0].texts}
        plt.close(fig)
        assert texts["?1/7"].get_fontsize() >= figures.LEGIBLE_POINTS
        assert (texts["4"].get_va() == "top") is below  # under its box
    # Touching digits cut apart, their boxes overlapping: where a label
    # would be cramped (under 20 pixels a character here), they alternate
    # above and under, and each keeps clear of the next on its side.
    boxes = [[10, 10, 40, 110], [25, 10, 55, 110], [50, 10, 80, 110], [120, 10, 150, 110]]
    digits = [{**sure, "box": box} for box in boxes]
    assert figures._label_places(digits, ["1"] * 4, 400, 20) == [
        (True, 38), (False, 373), (True, 68), (True, 278)]
    assert figures._label_places(digits, ["1"] * 4, 400, 5) == [
        (True, 13), (True, 23), (True, 68), (True, 278)]


def test_readings_md_says_no_digit_and_keeps_an_earlier_files_text_in_its_cells():
    hostile = {"file": "old.png", "calibrated": True, "ink": "dark <b>on</b> light",
               "lines": ["12`|\n# x"], "numbers": [
                   {"line": 0, "amount": "12|\n# heading", "written": "1|2\n![x](y)",
                    "confidence": 0.5, "unsure": True}]}
    blank = {"file": "my *blank* [1].png", "no_digit": "the picture is blank; use [this](x)",
             "lines": [], "digits": [], "numbers": [], "pictures": ["my *blank* [1].annotated.png"]}
    close = {"file": "close.png", "calibrated": True, "lines": ["127"], "numbers": [
        {"line": 0, "amount": "127", "confidence": 0.02, "unsure": True,
         "doubts": ["another number stands 1.2 digit heights from it"]}]}
    report = figures.readings_markdown([hostile, blank, close]).splitlines()
    row = [line for line in report if line.startswith("| 1 |")]
    assert row == ["| 1 | `1\\|2 ![x](y)` | check | 50% |",
                   "| 1 | `127` | check; another number stands 1.2 digit heights from it | 2% |"]
    assert "## my \\*blank\\* \\[1\\].png" in report
    assert ("![my \\*blank\\* \\[1\\].png](my%20%2Ablank%2A%20%5B1%5D.annotated.png)"
            in report)
    assert not any(line.startswith(("# x", "# heading")) for line in report)
    # A line is shown as its numbers are written, escaped the same way.
    assert "Lines read: `1\\|2 ![x](y)` (dark \\<b\\>on\\</b\\> light ink)." in report
    assert "No digit found: the picture is blank; use \\[this\\](x)." in report
