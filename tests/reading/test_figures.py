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
    assert texts["no digit"] and [p.get_x() + 0.5 for p in dashed] == [120]
    assert texts["."] >= 0.5 * texts["1"]


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
