"""Helpers and constants shared by the test modules: where the sample data
is, running a script through its real command line, and small pictures and
models that several modules build."""

import importlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from scipy import ndimage

from digitsuite import cli
from digitsuite.backend import keras

ROOT = Path(__file__).resolve().parent.parent

SAMPLE_DIR = ROOT / "sample_data" / "mnist-t10k-split"

PAPER, INK = 230, 25  # draw_seven's background and pen

SEED_MAP_LAYERS = ["conv1", "pool1", "conv2", "pool2", "conv3"]  # the seed CNN's maps


def run_script(script, argv):
    """Run a top-level script in-process through its real argument parser and
    error handling; returns main's return value (raises SystemExit on error)."""
    module = importlib.import_module(script)
    return cli.run(module.main, module.parse_args([str(a) for a in argv]))


def fails_with_one_line(capsys, script, argv, code=2):
    """Run ``script`` expecting a user error; return its single stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        run_script(script, argv)
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err.strip()


def read_json(path):
    return json.loads(path.read_text())


def comparable(metrics):
    """A run's metrics without the one figure that differs between runs."""
    return {k: v for k, v in metrics.items() if k != "train_seconds"}


def saved_weights(path):
    return keras.models.load_model(path, safe_mode=True).get_weights()


def assert_same_run(a, b, model_file="model.keras"):
    """The runs in folders ``a`` and ``b`` have equal metrics (but for time)
    and exactly equal weights."""
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (a, b)]
    assert comparable(metrics[0]) == comparable(metrics[1])
    for x, y in zip(saved_weights(a / model_file), saved_weights(b / model_file)):
        np.testing.assert_array_equal(x, y)


def fitted(estimator, n=60, seed=0):
    """``estimator`` fitted on random 784-pixel rows covering the 10 classes."""
    rng = np.random.default_rng(seed)
    return estimator.fit(rng.random((n, 784)), np.arange(n) % 10)


def draw_seven(path, dark_ink=True, size=(150, 200), width=14):
    """A hand-drawn-looking '7' on a plain background, saved as PNG."""
    back, ink = (PAPER, INK) if dark_ink else (INK, PAPER)
    img = Image.new("L", size, back)
    w, h = size
    ImageDraw.Draw(img).line([(0.25 * w, 0.2 * h), (0.75 * w, 0.2 * h), (0.4 * w, 0.8 * h)],
                             fill=ink, width=width, joint="curve")
    img.save(path)
    return path


def ring(mask, box, stroke=4):
    """Draw a hollow rectangle ('0'-like character) with the given outer box
    (x0, y0, x1, y1, ends exclusive) into a bool mask."""
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    mask[y0 + stroke:y1 - stroke, x0 + stroke:x1 - stroke] = False


def scribble(mask, box, stroke=3):
    """Draw a pen going round and round across ``box`` (x0, y0, x1, y1),
    its loops crossing each other, into a bool mask."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = box
    cx, cy, a, b = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0 - stroke) / 2, (y1 - y0 - stroke) / 2
    t = np.linspace(0, 30, 400)
    points = list(zip(cx + a * np.sin(0.7 * t) * np.cos(0.13 * t), cy + b * np.sin(1.3 * t)))
    picture = Image.new("1", (mask.shape[1], mask.shape[0]), 0)
    ImageDraw.Draw(picture).line(points, fill=1, width=stroke)
    mask |= np.asarray(picture, bool)


def page_of_rings(dark_ink=True, light=0.0, noise=0.0, seed=0, shadow=0.0, soft=0.0,
                  border=0):
    """A grey page with two lines of '0'-like rings; returns (page, boxes).
    ``light``: the light falls by this share from left to right; ``shadow``:
    by this share in a slanting band over three of the rings, its edges
    blurred by ``soft`` pixels; ``border``: pixels of paper added all round."""
    mask = np.zeros((160 + 2 * border, 260 + 2 * border), bool)
    expected = [[(20, 20, 55, 70), (80, 20, 115, 70), (140, 22, 175, 70)],
                [(30, 100, 65, 150), (90, 100, 125, 150)]]
    expected = [[tuple(v + border for v in box) for box in line] for line in expected]
    for line in expected:
        for box in line:
            ring(mask, box, stroke=5)
    x = np.linspace(0, 1, mask.shape[1])[None, :]
    paper, ink = (0.85, 0.15) if dark_ink else (0.15, 0.85)
    page = np.where(mask, ink, paper) * (1 - light * x)
    if shadow:
        yy, xx = np.mgrid[:mask.shape[0], :mask.shape[1]] - border
        band = ((xx + 0.3 * yy > 95) & (xx + 0.3 * yy < 160)).astype(np.float64)
        page *= 1 - shadow * (ndimage.gaussian_filter(band, soft) if soft else band)
    page += np.random.default_rng(seed).normal(0, noise, mask.shape)
    return np.clip(page, 0, 1).astype(np.float32), expected


# --------------------------------------------------------------------------
# Hypothesis strategies for hostile input

class Picture(tuple):
    """(file name, bytes), shown by its name and length (a failing example's
    report would otherwise print megabytes)."""

    def __repr__(self):
        return f"Picture({self[0]!r}, {len(self[1]):,} bytes)"


def _picture(size, mode, fmt, stroke):
    """``size`` pixels in ``mode``, saved as ``fmt`` (PNG when the format
    cannot hold them); a dark stroke across it when ``stroke``."""
    img = Image.new(mode, size, "white" if mode not in ("I;16", "I", "F") else 60000)
    if stroke:
        w, h = size
        ImageDraw.Draw(img).line([(0.2 * w, 0.3 * h), (0.8 * w, 0.7 * h)], fill=0,
                                 width=max(1, min(size) // 8))
    buffer = io.BytesIO()
    try:
        img.save(buffer, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))
    except (OSError, ValueError, KeyError, OverflowError):  # too large for the format
        buffer = io.BytesIO()
        fmt = "PNG"
        img.save(buffer, fmt, compress_level=1)
    return Picture((f"picture-{size[0]}x{size[1]}-{mode}.{fmt.lower()}", buffer.getvalue()))


@st.composite
def odd_pictures(draw, max_pixels=60_000_000):
    """(file name, bytes) of pictures from 1 pixel to past the 50-megapixel
    limit, 1:1 to 1:10^6 in either direction, in every mode and format
    the suite reads, blank or with a stroke."""
    long_side = round(10 ** draw(st.floats(0, 6.85)))
    aspect = 10 ** draw(st.floats(0, 6))
    short_side = max(1, round(long_side / aspect))
    while long_side * short_side > max_pixels:
        long_side //= 2
    size = (long_side, short_side) if draw(st.booleans()) else (short_side, long_side)
    mode = draw(st.sampled_from(["1", "L", "P", "RGB", "RGBA", "LA", "I;16"]))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]))
    if fmt == "JPEG" and mode not in ("L", "RGB"):
        mode = "RGB"
    return _picture(size, mode, fmt, draw(st.booleans()))


def kernel_texts():
    """Kernel text as a user, a script or an attacker may send it."""
    numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                        st.sampled_from(["1e308", "-1e308", "nan", "inf", "-inf", "1e-320",
                                         "0", "1", "-1", "0x10", "1_000", "", "½"]),
                        st.integers(-10**400, 10**400).map(str))
    separators = st.sampled_from([",", " ", ";", ", ", "\t", "\n"])
    listed = st.tuples(st.lists(numbers, min_size=0, max_size=60), separators).map(
        lambda parts: parts[1].join(parts[0]))
    huge = st.integers(0, 200_000).map(lambda n: " ".join(["1"] * n))
    return st.one_of(listed, huge, st.text(max_size=200))


def shadowed_seven(path, size=(400, 300)):
    """A photo-like PNG of one '7' on lit paper, off-centre, beside a hand's
    dark shadow down the left side and the table beyond the paper's top
    edge; returns (path, the 7's box [x0, y0, x1, y1], ends exclusive)."""
    width, height = size
    photo = Image.new("L", size, 215)
    photo.paste(45, (0, 0, int(0.3 * width), height))      # the shadow
    photo.paste(30, (0, 0, width, int(0.06 * height)))     # the table
    seven = io.BytesIO()
    seven.name = "seven.png"
    draw_seven(seven)
    digit = Image.open(seven).convert("L").resize((int(0.19 * width), int(height / 3)))
    left, top = int(0.57 * width), int(0.37 * height)
    photo.paste(digit, (left, top))
    photo.save(path)
    return path, [left, top, left + digit.width, top + digit.height]


def amount_page():
    """'1,500.00-' as masks: digits 60 high, a comma, a point and a dash."""
    mask = np.zeros((120, 520), bool)
    mask[20:80, 20:28] = True                                    # 1
    mask[70:78, 38:46] = True                                    # comma blob...
    mask[78:90, 36:40] = True                                    # ...and tail
    for x0 in (56, 106, 156, 226, 276):                          # 5 0 0 . 0 0 (rings)
        mask[20:80, x0:x0 + 35] = True
        mask[26:74, x0 + 6:x0 + 29] = False
    mask[72:80, 206:214] = True                                  # decimal point
    mask[45:53, 330:370] = True                                  # dash after the amount
    return mask
