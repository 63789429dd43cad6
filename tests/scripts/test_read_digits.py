"""read_digits.py end to end: real held-out MNIST test digits composed into
strips, read by a small CNN trained here; the bundled sample page; every bad
input's message."""

import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitsuite.backend import keras
from digitsuite.data import images
from digitsuite.reading import reader
from tests.support import ROOT, run_script

NUMBER = "40719"
PAPER, INK = 225, 35


@pytest.fixture(scope="session")
def strip_digits(reader_model, sample):
    """For each digit of NUMBER, a held-out test image of it that the small
    model reads confidently as a plain 28x28 input (a well-written digit)."""
    model = keras.models.load_model(reader_model)
    x_test, y_test = sample["x_test"], sample["y_test"]
    probs = np.asarray(model(x_test[..., None] / 255.0))
    picked = []
    for ch in NUMBER:
        good = np.flatnonzero((y_test == int(ch)) & (probs[:, int(ch)] > 0.95))
        picked.append(x_test[good[len(picked)]])
    return picked


def compose(path, digits, dark_ink=True, scale=2, gap=14, margin=30):
    """Save a strip of MNIST digits, enlarged, on paper; returns the path."""
    tiles = []
    for digit in digits:
        tile = np.asarray(Image.fromarray(digit).resize(
            (28 * scale, 28 * scale), Image.Resampling.BICUBIC), np.float32) / 255.0
        cols = np.flatnonzero(tile.max(axis=0) > 0.1)
        tiles.append(tile[:, cols.min():cols.max() + 1])
    height = 28 * scale + 2 * margin
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1) + 2 * margin
    cover = np.zeros((height, width), np.float32)
    x = margin
    for tile in tiles:
        cover[margin:margin + tile.shape[0], x:x + tile.shape[1]] = tile
        x += tile.shape[1] + gap
    paper, ink = (PAPER, INK) if dark_ink else (INK, PAPER)
    noise = np.random.default_rng(0).normal(0, 4, cover.shape)
    page = np.clip(paper + (ink - paper) * cover + noise, 0, 255).astype(np.uint8)
    Image.fromarray(page).save(path)
    return path


def read(capsys, model, *argv):
    """Run read_digits.py --json; returns (readings, stderr lines, exit code)."""
    code = 0
    try:
        run_script("read_digits", [*argv, "--model", model, "--json"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return json.loads(out) if out.strip() else [], err.splitlines(), code


# --------------------------------------------------------------------------
# Reading real digits


@pytest.mark.parametrize("dark_ink", [True, False])
def test_reads_a_strip_of_real_test_digits(tmp_path, capsys, reader_model, strip_digits,
                                           dark_ink):
    strip = compose(tmp_path / "strip.png", strip_digits, dark_ink=dark_ink)
    (reading,), errors, code = read(capsys, reader_model, strip)
    assert code == 0 and errors == []
    assert reading["file"] == str(strip)
    assert reading["ink"] == ("dark on light" if dark_ink else "light on dark")
    assert len(reading["lines"]) == 1 and len(reading["digits"]) == len(NUMBER)
    read_digits = "".join(str(d["digit"]) for d in reading["digits"])
    assert sum(a == b for a, b in zip(read_digits, NUMBER)) >= 4
    boxes = [d["box"] for d in reading["digits"]]
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)    # left to right
    for d in reading["digits"]:
        (first, p1), (second, p2) = d["top2"]
        assert first == d["digit"] and p1 == d["confidence"] >= p2 and second != first
        assert d["line"] == 0 and d["unsure"] == (d["confidence"] < reader.MIN_CONFIDENCE)


def test_a_large_picture_gives_its_boxes_in_the_size_it_was_read_at(
        tmp_path, capsys, reader_model, strip_digits, monkeypatch):
    strip = compose(tmp_path / "strip.png", strip_digits)
    width, height = Image.open(strip).size
    (reading,), _, _ = read(capsys, reader_model, strip)
    assert reading["size"] == [width, height]
    monkeypatch.setattr(reader, "PAGE_MAX_SIDE", width // 2)   # as 2,000 px does to a photo
    (shrunk,), _, _ = read(capsys, reader_model, strip)
    assert shrunk["size"][0] == width // 2 and abs(shrunk["size"][1] - height / 2) <= 1
    for d in shrunk["digits"]:
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= shrunk["size"][0] and 0 <= y0 < y1 <= shrunk["size"][1]
    assert shrunk["digits"][-1]["box"][2] < reading["digits"][-1]["box"][2] * 0.6


def test_text_output_and_out_dir_files(tmp_path, capsys, reader_model, strip_digits):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = compose(tmp_path / "a" / "strip.png", strip_digits)
    second = compose(tmp_path / "b" / "strip.png", strip_digits[:2])
    out_dir = tmp_path / "out"
    run_script("read_digits", [first, second, "--model", reader_model, "--out-dir", out_dir,
                               "--min-confidence", "0.999999"])
    out = capsys.readouterr().out
    assert f"{first} (1 line, 5 digits, ink dark on light)" in out
    assert re.search(r"unsure: line 1, digit \d, \d+% \(softmax, uncalibrated\); "
                     r"the model.s guesses: \d \(\d+%\), \d \(\d+%\)", out)
    # What "unsure" means is said once per image: the threshold given.
    assert out.count("a digit under 100% (softmax, uncalibrated) prints as '?'") == 2
    assert {p.name for p in out_dir.iterdir()} == {
        "strip.annotated.png", "strip.crops.png", "strip-2.annotated.png",
        "strip-2.crops.png", "readings.json", "readings.md"}
    saved = json.loads((out_dir / "readings.json").read_text())
    report = (out_dir / "readings.md").read_text()
    for reading in saved:   # the report names each image, its picture and its numbers
        assert f"## {reading['file']}" in report
        assert f"]({reading['pictures'][0]})" in report
        for number in reading["numbers"]:
            assert f"`{number['amount']}` | {'check' if number['unsure'] else 'sure'}" in report
    assert [r["file"] for r in saved] == [str(first), str(second)]
    assert all("?" in text for r in saved for text in r["lines"])  # 0.999999: all unsure


# --------------------------------------------------------------------------
# Bad input


def png_claiming(width, height):
    """The bytes of a PNG whose header announces width x height pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


BAD_INPUTS = {
    "not an image": (lambda p: p.write_text("just text"), "is not an image this suite reads"),
    "empty file": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "over the pixel limit": (lambda p: p.write_bytes(png_claiming(8000, 7000)),
                             "over the 50-megapixel limit"),
    "decompression bomb": (lambda p: p.write_bytes(png_claiming(30000, 30000)),
                           "is 900 megapixels, over the 50-megapixel limit; shrink it first"),
    "one pixel": (lambda p: Image.new("L", (1, 1)).save(p, format="PNG"),
                  "is only 1x1 pixels"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gives_one_line_naming_the_file(tmp_path, capsys, reader_model, name):
    make, message = BAD_INPUTS[name]
    path = tmp_path / "bad.png"
    make(path)
    readings, errors, code = read(capsys, reader_model, path)
    assert code == 1 and readings == []
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}")
    assert message in errors[0]


NO_DIGITS = {
    "blank page": (lambda: Image.new("L", (300, 200), 230), "the picture is blank", 0),
    "specks only": (lambda: Image.fromarray(np.where(
        np.random.default_rng(0).random((200, 300)) < 0.002, 20, 230).astype(np.uint8)),
        "only specks of ink", 0),
    "a dot": (lambda: drawn(lambda d: d.ellipse((140, 80, 156, 96), fill=20)),
              "only a dot or a blob", 1),
}


def drawn(draw, size=(300, 200)):
    picture = Image.new("L", size, 230)
    draw(ImageDraw.Draw(picture))
    return picture


@pytest.mark.parametrize("name", NO_DIGITS)
def test_a_picture_without_digits_is_an_answer_not_an_error(tmp_path, capsys, reader_model,
                                                           name):
    """A page with no digit is read: "no digit found" and why, exit 0, in
    the text, the JSON and the out-dir's reports, never a class."""
    make, reason, marks = NO_DIGITS[name]
    path = tmp_path / "nothing.png"
    make().save(path)
    out_dir = tmp_path / "out"
    readings, errors, code = read(capsys, reader_model, path, "--out-dir", out_dir)
    assert code == 0 and errors == []
    (reading,) = readings
    assert reading["no_digit"].startswith(reason)
    assert reading["digits"] == reading["numbers"] == reading["lines"] == []
    assert len(reading["not_digits"]) == marks
    if marks:  # the dot's box, where it was drawn
        x0, y0, x1, y1 = reading["not_digits"][0]
        assert 138 <= x0 < x1 <= 158 and 78 <= y0 < y1 <= 98
    assert json.loads((out_dir / "readings.json").read_text())[0]["no_digit"] == \
        reading["no_digit"]
    assert f"No digit found: {reason}" in (out_dir / "readings.md").read_text()
    run_script("read_digits", [path, "--model", reader_model])
    assert capsys.readouterr().out.startswith(f"{path}: no digit found: {reason}")


def test_unreadable_file_gives_one_line(tmp_path, capsys, reader_model, strip_digits,
                                        monkeypatch):
    locked = compose(tmp_path / "locked.png", strip_digits)

    def refuse(path, **kwargs):  # what open() raises for a file without read permission
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images, "read_image", refuse)
    readings, errors, code = read(capsys, reader_model, locked)
    assert code == 1 and readings == []
    assert errors[0] == f"error: cannot read {locked}: Permission denied; check its permissions"


def test_one_bad_file_does_not_stop_the_others(tmp_path, capsys, reader_model, strip_digits):
    good = compose(tmp_path / "good.png", strip_digits)
    (tmp_path / "bad.png").write_text("not a picture")
    readings, errors, code = read(capsys, reader_model, tmp_path / "bad.png", good,
                                  tmp_path / "missing.png")
    assert code == 1
    assert [r["file"] for r in readings] == [str(good)] and len(readings[0]["digits"]) == 5
    assert len(errors) == 3 and "bad.png is not an image" in errors[0]
    assert "no image file at" in errors[1]
    assert errors[2] == "read 1 of 3 images; the error lines above say why"


def test_the_reader_failing_on_one_image_keeps_the_others_output(tmp_path, capsys,
                                                                   reader_model, strip_digits,
                                                                   monkeypatch):
    first, second = (compose(tmp_path / name, strip_digits) for name in ("a.png", "b.png"))
    real = reader.read_prepared

    def fails_on_the_first(model, page, *args):
        if fails_on_the_first.calls == 0:
            fails_on_the_first.calls += 1
            raise TypeError("something the reader did not expect")
        return real(model, page, *args)

    fails_on_the_first.calls = 0
    monkeypatch.setattr(reader, "read_prepared", fails_on_the_first)
    readings, errors, code = read(capsys, reader_model, first, second)
    assert code == 1
    assert [r["file"] for r in readings] == [str(second)]
    assert errors[:1] == [f"error: {first}: the reader failed on this image (TypeError: something "
                      "the reader did not expect); the other images are still read, and "
                      "--debug shows the traceback"]


def test_missing_model_and_usage_errors(tmp_path, capsys, strip_digits):
    strip = compose(tmp_path / "strip.png", strip_digits)
    with pytest.raises(SystemExit) as info:
        run_script("read_digits", [strip, "--model", tmp_path / "none.keras"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: no model at {tmp_path / 'none.keras'}")
    with pytest.raises(SystemExit) as info:
        run_script("read_digits", [])
    assert info.value.code == 2 and "give image files to read" in capsys.readouterr().err


def test_images_all_refused_never_load_the_models(tmp_path, capsys, reader_model,
                                                  monkeypatch):
    """Keras and the models take seconds to load: a run with nothing to read
    answers without them."""
    from digitsuite.reading import confidence

    def loads(path):
        raise AssertionError(f"loaded {path} for images that were all refused")

    monkeypatch.setattr(confidence, "load_reader", loads)
    (tmp_path / "text.png").write_text("not a picture")
    Image.new("L", (5, 5)).save(tmp_path / "tiny.png")
    Image.new("L", (300, 200), 230).save(tmp_path / "blank.png")
    readings, errors, code = read(capsys, reader_model, *(tmp_path / name for name in
                                                          ("text.png", "tiny.png", "blank.png")))
    assert code == 1 and len(errors) == 3  # two errors and the count
    assert [r["no_digit"][:20] for r in readings] == ["the picture is blank"]


def test_a_model_that_fails_to_load_stops_the_run_not_one_image(tmp_path, capsys,
                                                                  strip_digits):
    """A model file that is there but wrong is the run's error (exit 2, one
    line), found when the first page is read, not an error of each image."""
    strips = [compose(tmp_path / name, strip_digits) for name in ("a.png", "b.png")]
    wrong = tmp_path / "wrong.keras"
    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs))).save(wrong)
    with pytest.raises(SystemExit) as info:
        run_script("read_digits", [*strips, "--model", wrong, "--out-dir", tmp_path / "out"])
    err = capsys.readouterr().err.splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {wrong} takes inputs of shape")
    assert not (tmp_path / "out" / "readings.json").exists()


def test_dry_run_reads_the_bundled_sample_page(capsys):
    readings = run_script("read_digits", ["--dry-run"])
    truth = (ROOT / "sample_data" / "digits_page.txt").read_text().split()
    assert [r["file"] for r in readings] == [str(ROOT / "sample_data" / "digits_page.png")]
    reading = readings[0]
    best = ["".join(str(d["digit"]) for d in reading["digits"] if d["line"] == k)
            for k in range(len(reading["lines"]))]
    assert best == truth
    # What is shown is right; a '?' only where the reader doubts, and every
    # number it vouches for is the true one.
    for shown, true in zip(reading["lines"], truth):
        assert all(a in (b, "?") for a, b in zip(shown, true)) and len(shown) == len(true)
    assert reading["calibrated"]
    sure = [n["text"] for n in reading["numbers"] if not n["unsure"]]
    assert sure and all(text in truth for text in sure)
    assert "digits_page.png (5 lines" in capsys.readouterr().out


# --------------------------------------------------------------------------
# The shipped reader model


def test_shipped_reader_reads_an_amount_without_training(tmp_path, capsys, sample):
    """A fresh checkout reads with models/reader/ and no --model: the first
    test digit of each kind in the bundled sample, written as 407.19 with a
    printed rule under it, reads as that amount."""
    x_test, y_test = sample["x_test"], sample["y_test"]
    digits = [x_test[np.flatnonzero(y_test == int(ch))[0]] for ch in "40719"]
    path = compose(tmp_path / "amount.png", digits, gap=22)
    page = np.asarray(Image.open(path), np.float32)
    inked = np.flatnonzero(page.min(axis=0) < 128)       # columns with ink
    gaps = np.flatnonzero(np.diff(inked) > 10)           # the gaps between digits
    x = int(inked[gaps[2]] + 8)                          # after the third digit
    bottom = int(np.flatnonzero(page.min(axis=1) < 128).max()) + 1
    page[bottom - 6:bottom, x:x + 6] = INK               # the decimal point, on the line
    page[bottom + 1:bottom + 3, 10:-10] = INK            # the rule, under the digits
    Image.fromarray(page.astype(np.uint8)).save(path)
    code = 0
    try:
        run_script("read_digits", [path, "--json"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 0, err
    (reading,) = json.loads(out)
    assert reading["lines"] == ["40719"]
    (number,) = reading["numbers"]
    assert number["amount"] == "407.19" and number["decimal_after"] == 3
    assert [m["mark"] for m in number["marks"]] == ["."]


def test_shipped_reader_model_is_the_seed_architecture():
    model = keras.models.load_model(ROOT / "models" / "reader" / "model.keras")
    assert model.count_params() == 237_482
    config = json.loads((ROOT / "models" / "reader" / "config.json").read_text())
    assert config["augment"] == "reading" and config["command"].startswith(
        "python train_reader.py")


def test_a_failed_reading_keeps_the_earlier_readings_in_its_out_dir(tmp_path, capsys,
                                                                   reader_model, strip_digits):
    out_dir = tmp_path / "out"
    good = compose(tmp_path / "good.png", strip_digits)
    run_script("read_digits", [good, "--model", reader_model, "--out-dir", out_dir])
    before = (out_dir / "readings.json").read_text()
    capsys.readouterr()
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(SystemExit) as exit_info:
        run_script("read_digits", [broken, "--model", reader_model, "--out-dir", out_dir])
    assert exit_info.value.code == 1
    assert (out_dir / "readings.json").read_text() == before
    assert "wrote" not in capsys.readouterr().out


def test_a_second_run_into_the_folder_adds_to_it_and_an_image_read_again_replaces_its_own(
        tmp_path, capsys, monkeypatch, reader_model, strip_digits):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = compose(tmp_path / "a" / "strip.png", strip_digits)
    second = compose(tmp_path / "b" / "strip.png", strip_digits[:2])
    out_dir = tmp_path / "out"
    run_script("read_digits", [first, "--model", reader_model, "--out-dir", out_dir])
    first_picture = (out_dir / "strip.annotated.png").read_bytes()
    # Another image of the same name: its pictures take another name.
    run_script("read_digits", [second, "--model", reader_model, "--out-dir", out_dir])
    saved = json.loads((out_dir / "readings.json").read_text())
    assert [(r["file"], r["pictures"][0]) for r in saved] == [
        (str(first), "strip.annotated.png"), (str(second), "strip-2.annotated.png")]
    assert (out_dir / "strip.annotated.png").read_bytes() == first_picture
    # The first image again, by another path: its own entry and pictures
    # are replaced, not doubled.
    monkeypatch.chdir(tmp_path)
    run_script("read_digits", [Path("a", "strip.png"), "--model", reader_model,
                               "--out-dir", out_dir])
    saved = json.loads((out_dir / "readings.json").read_text())
    assert [r["file"] for r in saved] == [str(second), str(Path("a", "strip.png"))]
    assert saved[1]["path"] == str(first.resolve())
    # An image that can no longer be read keeps its entry and pictures.
    second.write_bytes(second.read_bytes()[:200])
    with pytest.raises(SystemExit):
        run_script("read_digits", [first, second, "--model", reader_model,
                                   "--out-dir", out_dir])
    saved = json.loads((out_dir / "readings.json").read_text())
    assert [r["file"] for r in saved] == [str(second), str(first)]
    assert (out_dir / "strip-2.annotated.png").exists()
    second = compose(tmp_path / "b" / "strip.png", strip_digits[:2])
    assert {p.name for p in out_dir.iterdir()} == {
        "strip.annotated.png", "strip.crops.png", "strip-2.annotated.png",
        "strip-2.crops.png", "readings.json", "readings.md"}
    # The report lists what readings.json does: the earlier image and the new.
    report = (out_dir / "readings.md").read_text()
    assert report.count("\n## ") == 2 and f"## {first}" in report
    # A readings.json that is not one (a folder someone sent) is not merged,
    # and the pictures it cannot name are not written over.
    (out_dir / "readings.json").write_text('{"not": "a list"}')
    run_script("read_digits", [second, "--model", reader_model, "--out-dir", out_dir])
    saved = json.loads((out_dir / "readings.json").read_text())
    assert [(r["file"], r["pictures"][0]) for r in saved] == [
        (str(second), "strip-3.annotated.png")]
    assert (out_dir / "strip.annotated.png").exists()
    # An entry of a kind this version does not write still leaves a report.
    odd = [{"file": "x.png", "pictures": ["x.annotated.png"], "lines": "7", "numbers": [{}]}]
    (out_dir / "readings.json").write_text(json.dumps(odd))
    run_script("read_digits", [second, "--model", reader_model, "--out-dir", out_dir])
    report = (out_dir / "readings.md").read_text()
    assert "## x.png" in report and "Lines read: none" in report
    capsys.readouterr()
