"""Benchmark reading single digits saved as datasets of digits keep them.

Digit images seldom come as pages. MNIST's own files are 28x28 pictures
of a light digit on black; USPS's are 16x16 grey digits stretched to fill
the square (saved either way round); Semeion's are 16x16 black-and-white;
many collections crop each digit tight to its ink. Each of the first
--digits test digits of --data-dir is saved in each of those forms (made
here from the MNIST digit, not the other collections' writing) and read
twice, by the file
path of ``read_digits.py`` (:func:`digitsuite.reading.reader.read_file`:
right when the picture reads as that one digit) and by the one-digit path
of the app and ``visualize_layers.py --image``
(:func:`digitsuite.reading.single.read_digit`). Writes
``<date>-formats.json`` and ``.md`` under --out-dir, with the CPU: per
form, digits read right, "no digit" answers, the numbers vouched for and
right among them, and each digit misread, with the polarity the file path
took its ink to have.

    python benchmarks/formats_bench.py --out-dir runs/formats-bench
    python benchmarks/formats_bench.py --dry-run --out-dir runs/formats-smoke
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402

DIGITS = 100
MISREAD_SHOWN = 8  # per form, in the Markdown report


def parse_args(argv=None):
    from benchmarks import reader_bench_args

    args = reader_bench_args(__doc__, __file__, "digits", DIGITS,
                             "test digits saved in each form", argv, dry_run="3 digits")
    if args.dry_run:
        args.digits = min(args.digits, 3)
    return args


def ink_box(digit):
    """The MNIST digit (uint8 28x28, ink bright) cut to its ink's box."""
    rows, cols = np.nonzero(digit > 30)
    return digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def resized(pixels, size):
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def forms(digit):
    """The digit (uint8 28x28, ink bright) in each form, as uint8 pictures."""
    tight = ink_box(digit)
    filled = resized(tight, (16, 16))
    return {
        "MNIST's file: 28x28, light on black": digit,
        "28x28, dark on white": 255 - digit,
        "USPS-like: 16x16, stretched to fill": 255 - filled,
        "USPS-like, light on black": filled,
        "Semeion-like: 16x16 black and white, filled": np.where(filled > 127, 0, 255),
        "cropped to its ink's box": 255 - tight,
        "cropped to its ink's box, 3x larger": 255 - resized(
            tight, (3 * tight.shape[1], 3 * tight.shape[0])),
    }


def read_both(model, path, label):
    """(file path's answer, one-digit path's answer) for the picture at
    ``path``: each {"read": text or "", "right": bool, "none": bool}, the
    file path's also "vouched"."""
    from digitsuite.data import images
    from digitsuite.errors import ImageError, NoDigit
    from digitsuite.reading import reader, single

    try:
        reading, _, _ = reader.read_file(model, path)
    except ImageError as exc:   # a picture the reader refuses (under 8 pixels a side)
        reading = {"no_digit": str(exc), "numbers": []}
    text = " ".join(number["text"] for number in reading["numbers"])
    vouched = bool(reading["numbers"]) and not any(n["unsure"] for n in reading["numbers"])
    page = {"read": text, "right": text == str(label), "none": "no_digit" in reading,
            "vouched": vouched, "ink": reading.get("ink", "")}
    try:
        grey = images.read_image(path, max_side=images.DIGIT_MAX_SIDE,
                                 min_side=images.MIN_READ_SIDE)
        _, probs = single.read_digit(model, grey)
        digit = str(int(np.argmax(probs)))
        one = {"read": digit, "right": digit == str(label), "none": False}
    except ImageError as exc:
        one = {"read": "", "right": False, "none": isinstance(exc, NoDigit)}
    return page, one


def main(args):
    from benchmarks import write_portable
    from benchmarks.perf import machine, machine_text
    from digitsuite.data.datasets import load_dataset
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.inference.runs import READER_MODEL
    from digitsuite.reading.confidence import load_reader

    out_dir = prepare_out_dir(args.out_dir)
    model = load_reader(args.model or READER_MODEL)
    dataset = load_dataset("mnist", args.data_dir)
    names = list(forms(dataset.x_test[0]))
    tally = {name: {"digits": 0, "file": {"right": 0, "none": 0, "vouched": 0,
                                          "vouched_right": 0},
                    "one_digit": {"right": 0, "none": 0}, "misread": []} for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(min(args.digits, len(dataset.x_test))):
            label = int(dataset.y_test[k])
            for n, (name, pixels) in enumerate(forms(dataset.x_test[k]).items()):
                path = Path(tmp, f"{k}-{n}.png")
                Image.fromarray(np.asarray(pixels, np.uint8)).save(path)
                page, one = read_both(model, path, label)
                row = tally[name]
                row["digits"] += 1
                row["file"]["right"] += page["right"]
                row["file"]["none"] += page["none"]
                row["file"]["vouched"] += page["vouched"]
                row["file"]["vouched_right"] += page["vouched"] and page["right"]
                row["one_digit"]["right"] += one["right"]
                row["one_digit"]["none"] += one["none"]
                if not (page["right"] and one["right"]):
                    row["misread"].append({"index": k, "label": label, "file": page["read"],
                                           "ink": page["ink"], "vouched": page["vouched"],
                                           "one_digit": one["read"]})
    result = {"date": time.strftime("%Y-%m-%d"), "data": dataset.source,
              "digits": min(args.digits, len(dataset.x_test)), "forms": tally,
              "machine": machine()}
    lines = [f"# Single digits as digit collections keep them ({result['date']})", "",
             f"The first {result['digits']} test digits of {dataset.source}, each saved "
             "in every form and read by read_digits.py's file path and by the one-digit "
             f"path. Machine: {machine_text(result['machine'])}. Command: `{args.command}`",
             "",
             "| form | read_digits.py: right | no digit | vouched for (right) "
             "| one-digit path: right | no digit |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in tally.items():
        file, one = row["file"], row["one_digit"]
        lines.append(f"| {name} | {file['right']} / {row['digits']} | {file['none']} | "
                     f"{file['vouched']} ({file['vouched_right']}) | "
                     f"{one['right']} / {row['digits']} | {one['none']} |")
    lines += ["", "*read_digits.py: right* counts pictures read as that one digit, "
              "shown and not '?'; *no digit*, those it found no digit in. *Vouched "
              "for* counts the pictures whose every number the reader vouched for, "
              "and *(right)* those of them read right: a wrong answer vouched for is "
              "the one that misleads. The one-digit path always names a digit unless "
              "it finds none.", "", "## Misread", "",
              f"Per form, the first {MISREAD_SHOWN} digits that either path got wrong "
              "(all of them are in the JSON): the test image's index, its label, what "
              "each path read ('-' for no digit), and the ink the file path saw.", ""]
    for name, row in tally.items():
        wrong = row["misread"]
        shown = [f"{m['index']}: {m['label']} read `{m['file'] or '-'}`"
                 f"{' (vouched for)' if m['vouched'] and m['file'] != str(m['label']) else ''}"
                 f", one-digit `{m['one_digit'] or '-'}`, ink {m['ink'] or '-'}"
                 for m in wrong[:MISREAD_SHOWN]]
        more = f"; {len(wrong) - MISREAD_SHOWN} more" if len(wrong) > MISREAD_SHOWN else ""
        lines.append(f"- **{name}** ({len(wrong)}): {'; '.join(shown) or 'none'}{more}")
    stem = f"{result['date']}-formats" + ("-dry-run" if args.dry_run else "")
    write_portable(out_dir, stem, result, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    cli.run(main, parse_args())
