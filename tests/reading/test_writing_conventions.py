"""The shipped reader reads 1s and 7s as much of the world writes them: a 1
with a flag (and sometimes a foot), a 7 with a bar across its stem."""

import numpy as np
from PIL import Image, ImageDraw

from digitsuite.reading import confidence, reader
from tests.support import ROOT

HEIGHT, PEN = 90, 8


def flagged_one(draw, x, y, foot=False):
    draw.line([(x - 0.3 * HEIGHT, y + 0.3 * HEIGHT), (x, y)], fill=0, width=PEN)
    draw.line([(x, y), (x - 0.06 * HEIGHT, y + HEIGHT)], fill=0, width=PEN)
    if foot:
        draw.line([(x - 0.26 * HEIGHT, y + HEIGHT), (x + 0.14 * HEIGHT, y + HEIGHT)],
                  fill=0, width=PEN)


def crossed_seven(draw, x, y):
    draw.line([(x - 0.3 * HEIGHT, y), (x + 0.25 * HEIGHT, y), (x - 0.1 * HEIGHT, y + HEIGHT)],
              fill=0, width=PEN, joint="curve")
    draw.line([(x - 0.22 * HEIGHT, y + 0.5 * HEIGHT), (x + 0.18 * HEIGHT, y + 0.5 * HEIGHT)],
              fill=0, width=PEN)


def page_of(lines):
    image = Image.new("L", (120 + 100 * max(map(len, lines)), 80 + 170 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(lines):
        for k, char in enumerate(text):
            x, y = 100 + 100 * k, 40 + 170 * row
            if char == "7":
                crossed_seven(draw, x, y)
            else:
                flagged_one(draw, x, y, foot=(char == "i"))
    return np.asarray(image, np.float32) / 255


def test_flagged_ones_and_crossed_sevens_are_read_as_such():
    written = ["1717", "7i1i7", "i771"]          # i: a 1 with a foot
    ensemble = confidence.load_reader(ROOT / "models" / "reader" / "model.keras")
    reading, _ = reader.read_page(ensemble, page_of(written))
    read = "".join(str(d["digit"]) for d in reading["digits"])
    assert read == "".join(written).replace("i", "1")
