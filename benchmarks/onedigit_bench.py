"""Benchmark the one-digit path (``visualize_layers.py --image``, the app's
one-digit upload): the time to prepare a 4,000x3,000 photo of one digit,
and how many synthetic shadowed phone photos of one digit are read right
by the old path (the whole picture made foreground and cropped to its ink),
by the app's page mode (``read_page``: right when it reads that one digit
alone) and by the new one (:func:`digitsuite.reading.single.read_digit`).

    python benchmarks/onedigit_bench.py --out-dir runs/onedigit-bench
    python benchmarks/onedigit_bench.py --dry-run --out-dir runs/onedigit-smoke

The photos are made here: an MNIST test digit, enlarged, written in dark
ink on paper off the picture's centre, a hand's shadow (a blurred blob
with fingers) reaching in from one side, the table beyond the paper's
edge on another, a slight perspective, sensor noise and JPEG. Writes
``<date>-onedigit.json`` and ``.md`` under --out-dir, with the command and
the CPU that the timing was measured on.
"""

import io
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from benchmarks.reading.pages import jpeg_bytes  # noqa: E402
from digitsuite import cli  # noqa: E402

PHOTO_SIZE = (4000, 3000)   # a 12-megapixel phone photo, landscape
READ_SIZE = (1000, 750)     # the photos that are read: the size the app prepares anyway
PHOTOS = 10
REPEATS = 5


def parse_args(argv=None):
    from benchmarks import reader_bench_args

    def repeats(parser):
        parser.add_argument("--repeats", type=cli.positive_int, default=REPEATS,
                            help="times the 4,000x3,000 photo is prepared; the median is "
                                 f"reported (default: {REPEATS})")

    args = reader_bench_args(__doc__, __file__, "photos", PHOTOS,
                             "shadowed photos to read by both paths", argv,
                             dry_run="2 photos, the large one prepared once", more=repeats)
    if args.dry_run:
        args.photos, args.repeats = min(args.photos, 2), 1
    return args


def shadowed_photo(digit, rng, size=READ_SIZE, shadow=True, edge=True):
    """A grey uint8 photo (h, w) of the MNIST digit ``digit`` (uint8 28x28,
    ink bright) written dark on paper, and the digit's box [x0, y0, x1, y1]
    in the photo before the perspective (within a few pixels after it).

    The digit is 35-50 % of the picture's height, off-centre; ``shadow``
    lays a hand's shadow (35-60 % as bright) in from the left or right side,
    ``edge`` leaves the top or bottom strip beyond the paper's edge dark.
    """
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 0.84 + 0.06 * (xx / width - 0.5) - 0.04 * (yy / height - 0.5)
    side = int(height * rng.uniform(0.35, 0.5))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC),
                     np.float32) / 255.0
    big = np.clip(big * 1.3, 0, 1)
    left = int(width * 0.5 + rng.uniform(-0.12, 0.12) * width - side / 2)
    top = int(height * 0.5 + rng.uniform(-0.12, 0.12) * height - side / 2)
    grey = paper.copy()
    grey[top:top + side, left:left + side] *= 1.0 - 0.82 * big
    rows, cols = np.nonzero(big > 0.3)
    box = [left + int(cols.min()), top + int(rows.min()), left + int(cols.max()) + 1,
           top + int(rows.max()) + 1]
    if edge:  # the table beyond the paper's edge, a slanted strip at the top or bottom
        depth = rng.uniform(0.06, 0.12) * height
        slant = rng.uniform(-0.05, 0.05) * height
        line = depth + slant * (xx / width - 0.5)
        beyond = (yy < line) if rng.random() < 0.5 else (yy > height - line)
        grey = np.where(beyond, 0.22 + 0.04 * rng.standard_normal(grey.shape), grey)
    if shadow:  # a hand's shadow: a palm and four fingers, blurred, from one side
        mask = Image.new("L", size, 0)
        draw = ImageDraw.Draw(mask)
        from_left = rng.random() < 0.5
        edge_x = 0 if from_left else width
        palm_y = height * rng.uniform(0.55, 0.85)
        reach = width * rng.uniform(0.2, 0.3)
        cx = edge_x + (reach * 0.4 if from_left else -reach * 0.4)
        draw.ellipse([cx - reach * 0.6, palm_y - height * 0.22,
                      cx + reach * 0.6, palm_y + height * 0.4], fill=255)
        for k in range(4):
            angle = math.radians(-60 + 25 * k)
            length = reach * rng.uniform(0.6, 0.9)
            dx = math.cos(angle) * length * (1 if from_left else -1)
            dy = math.sin(angle) * length
            draw.line([(cx, palm_y - height * 0.1), (cx + dx, palm_y - height * 0.1 + dy)],
                      fill=255, width=int(height * 0.06))
        blur = mask.filter(ImageFilter.GaussianBlur(height * rng.uniform(0.01, 0.03)))
        grey *= 1.0 - rng.uniform(0.4, 0.65) * np.asarray(blur, np.float32) / 255.0
    grey += 0.02 * rng.standard_normal(grey.shape).astype(np.float32)
    picture = Image.fromarray(np.rint(np.clip(grey, 0, 1) * 255).astype(np.uint8))
    # A slight perspective: the phone held not quite parallel to the paper.
    wobble = [float(v) for v in rng.uniform(-0.03, 0.03, 8) * np.tile([width, height], 4)]
    quad = [0 + wobble[0], 0 + wobble[1], 0 + wobble[2], height + wobble[3],
            width + wobble[4], height + wobble[5], width + wobble[6], 0 + wobble[7]]
    picture = picture.transform(size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR,
                                fillcolor=60)
    return np.asarray(picture), box


def old_path(model, grey):
    """The one-digit path before issue 28: the whole picture made foreground
    and cropped to its ink. Returns the digit read, or the error's text."""
    from digitsuite.data import images
    from digitsuite.errors import ImageError
    from digitsuite.reading.reader import classify

    try:
        digit = images.mnist_style(images.to_foreground(grey))
    except ImageError as exc:
        return str(exc)
    return int(np.argmax(classify(model, digit[None])[0]))


def page_path(model, grey):
    """The app's page mode (:func:`digitsuite.reading.reader.read_page`):
    its text (every line, spaces out), or the error's text."""
    from digitsuite.errors import ImageError
    from digitsuite.reading.reader import read_page

    try:
        reading, _ = read_page(model, grey)
    except ImageError as exc:
        return str(exc)
    text = "".join(reading["lines"]).replace(" ", "")
    return int(text) if text.isdigit() and len(text) == 1 else text


def new_path(model, grey):
    """:func:`digitsuite.reading.single.read_digit`: the digit read, or why none."""
    from digitsuite.reading import single

    try:
        found, probs = single.read_digit(model, grey)
    except single.NoDigit as exc:
        return str(exc)
    return int(np.argmax(probs))


def time_prepare(data, repeats):
    """Seconds (each run) to decode JPEG ``data`` at the one-digit size and
    find its digit, as the app and visualize_layers.py do."""
    from digitsuite.data import images
    from digitsuite.reading import single

    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        grey = images.decode_image(io.BytesIO(data), "photo", max_side=images.DIGIT_MAX_SIDE)
        single.find_digit(grey)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(args):
    from benchmarks import write_portable
    from benchmarks.perf import machine, machine_text
    from digitsuite.data.datasets import load_dataset
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.inference.modelio import load_keras_model
    from digitsuite.inference.runs import READER_MODEL

    out_dir = prepare_out_dir(args.out_dir)
    model = load_keras_model(args.model or READER_MODEL, expect_input_shape=(28, 28, 1))
    dataset = load_dataset("mnist", args.data_dir)
    rng = np.random.default_rng(28)

    big, _ = shadowed_photo(dataset.x_test[0], rng, size=PHOTO_SIZE)
    seconds = time_prepare(jpeg_bytes(big), args.repeats)
    rows = []
    for k in range(args.photos):
        pixels, box = shadowed_photo(dataset.x_test[k], rng)
        grey = np.asarray(Image.open(io.BytesIO(jpeg_bytes(pixels))), np.float32) / 255.0
        label = int(dataset.y_test[k])
        rows.append({"label": label, "box": box, "old": old_path(model, grey),
                     "page": page_path(model, grey), "new": new_path(model, grey)})
    right = {path: sum(row[path] == row["label"] for row in rows)
             for path in ("old", "page", "new")}
    result = {"date": time.strftime("%Y-%m-%d"), "command": args.command,
              "prepare_seconds": seconds, "prepare_median": statistics.median(seconds),
              "photo": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG", "photos": rows,
              "right": right, "machine": machine(), "data": dataset.source}
    lines = [f"# One digit in a photo ({result['date']})", "",
             f"Prepare a {result['photo']}: median {result['prepare_median']:.3f} s "
             f"of {len(seconds)}.", "",
             f"{len(rows)} shadowed photos read right: old path {right['old']}, "
             f"page mode {right['page']}, new path {right['new']}.", "",
             f"Digits from {dataset.source}. Machine: {machine_text(result['machine'])}. "
             f"Command: `{args.command}`", "",
             "| label | old | page mode | new |", "| ---: | --- | --- | --- |"]
    lines += [f"| {row['label']} | {row['old']} | {row['page']} | {row['new']} |"
              for row in rows]
    stem = f"{result['date']}-onedigit" + ("-dry-run" if args.dry_run else "")
    write_portable(out_dir, stem, result, "\n".join(lines) + "\n")
    print("\n".join(lines[:5]))
    return result


if __name__ == "__main__":
    cli.run(main, parse_args())
