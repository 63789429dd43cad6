"""Read the handwritten numbers in photos or scans.

The model is the reader shipped in models/reader/: two seed CNNs and a
calibration that gives each digit and number its probability of being
right (docs/read-digits.md). --model takes any other, such as
train_cnn.py's runs/cnn/model.keras, whose confidences are its softmax.

For each image, prints the number(s) it reads, one text line per line of
writing, with every digit's confidence; digits the model is unsure of
(under --min-confidence) print as '?' and are listed with their two best
guesses. A picture with no digit in it (blank, specks, a dot, a dash, a
scribble) is an answer too: "no digit found" and why. --json prints the
same as a JSON list, one object per image read, with "no_digit" saying why
for those (an image that cannot be read has an 'error:' line on stderr
instead).
With --out-dir, writes <image>.annotated.png (a box and the digit read over
each character) and <image>.crops.png (the 28x28 inputs exactly as the model
saw them) per image, readings.json, each reading naming its pictures, and
readings.md, the same as a report. A later run into the same folder adds
its images to them and keeps the earlier pictures; an image read again
replaces its own.

    python read_digits.py photo.png scan.jpg
    python read_digits.py photo.png --json
    python read_digits.py photo.png --out-dir runs/read_digits
    python read_digits.py --dry-run                  # the bundled sample page

The page's lighting and shadows are evened out and its ink polarity (dark
on light or light on dark) decided automatically; a printed background
pattern, ruled lines and box fields are taken off; characters are found as
connected ink components (broken digits merged, touching ones split, specks
dropped), grouped into lines and numbers, punctuation (dots, commas,
dashes) is kept out of the numbers but reported (--json: each number's
marks and decimal separator), and each character is prepared the way MNIST
was made (the same code as visualize_layers.py --image) before one batch
goes to the model.

benchmarks/read_bench.py scores this reading on synthetic pages of real
handwriting (docs/read-digits.md).

Exit status: 0 when every image was read (with or without digits), 1 when
any could not be (one 'error:' line each, the others still read, then, for
more than one image, a line counting the images read), 2 for a usage or
model error. Images that are refused before any reading (not images, too
small) or are blank are answered without loading Keras.
"""

import json
import sys
from pathlib import Path

from digitsuite import cli
from digitsuite.data.datasets import PROJECT_ROOT
from digitsuite.inference.runs import READER_MODEL

DEFAULT_MODEL = READER_MODEL
SAMPLE_PAGE = PROJECT_ROOT / "sample_data" / "digits_page.png"


def parse_args(argv=None):

    parser = cli.Parser(__doc__)
    parser.add_argument("images", type=Path, nargs="*",
                        help="image files to read (PNG, JPEG, BMP, GIF, TIFF, WebP)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="trained Keras digit classifier, e.g. runs/cnn/model.keras from "
                             "train_cnn.py (default: the shipped reader model, "
                             "models/reader/model.keras)")
    parser.add_argument("--min-confidence", type=cli.fraction, default=None,
                        help="digits with a lower probability of being right print as "
                             "'?' (default: the threshold in the model's calibration.json, "
                             "else 0.8 of a plain model's softmax)")
    parser.add_argument("--json", action="store_true",
                        help="print the readings as JSON instead of text (default: off)")
    cli.add_output_args(
        parser, None, what="annotated images, crop strips, readings.json and readings.md",
        default_text="none, so nothing is written",
        dry_run="read only the first image (with none given, the bundled "
                "sample_data/digits_page.png)")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.images = args.images[:1] or [SAMPLE_PAGE]
    if not args.images:
        parser.error("give image files to read")
    return args


def main(args):
    from digitsuite.fileio import prepare_out_dir, write_json, write_text
    from digitsuite.inference.modelio import check_model_file
    from digitsuite.reading import confidence, figures, reader

    check_model_file(args.model)  # Keras and the models load once a page needs them
    out_dir = (prepare_out_dir(args.out_dir, writes=(figures.READINGS_FILE,
                                                     figures.READINGS_REPORT))
               if args.out_dir else None)
    readings, failed = [], 0
    # An earlier run's readings and pictures in the folder stay, unless an
    # image is read again: its own entry and pictures are replaced. An
    # image is the same by its absolute path, however it is typed.
    def image(r):  # readings.json of an older version records no path
        return r.get("path", r["file"])

    earlier = figures.earlier_readings(out_dir) if out_dir else []
    again = {str(path.resolve()) for path in args.images}
    # Names of pictures already there are taken, but for those of the
    # images read again.
    stems = figures.picture_stems(out_dir) - {
        figures.stem_of(name) for r in earlier if image(r) in again for name in r["pictures"]}
    results = reader.read_files(lambda: confidence.load_reader(args.model), args.images,
                                args.min_confidence, debug=args.debug)
    for path, (read, error) in zip(args.images, results):
        if error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            failed += 1
        else:
            reading, grey, crops = read
            readings.append(reading)
            if out_dir:
                stem = figures.unique_stem(path.stem, stems)
                reading["pictures"] = figures.save_reading_figures(out_dir, stem, grey, crops,
                                                                   reading)
                reading["path"] = str(path.resolve())
            if not args.json:
                print("\n".join(reader.format_reading(reading)), flush=True)
    if args.json:
        print(json.dumps(readings, indent=2))
    if out_dir and readings:  # nothing read: an earlier run's readings.json stays
        # An image that could not be read this time keeps its earlier entry.
        read = {r["path"] for r in readings}
        kept = [r for r in earlier if image(r) not in read]
        write_json(out_dir / figures.READINGS_FILE, kept + readings)
        write_text(out_dir / figures.READINGS_REPORT, figures.readings_markdown(kept + readings))
        if not args.json:
            print(f"wrote annotated images, crops, readings.json and readings.md for "
                  f"{len(readings)} image(s) to "
                  f"{out_dir}/")
    total = len(args.images)
    if failed and total > 1:  # one image's error line says it all
        print(f"read {total - failed} of {total} image{'s' * (total != 1)}; the error "
              f"line{'s' * (failed != 1)} above say{'s' * (failed == 1)} why", file=sys.stderr)
    if failed:
        sys.exit(1)
    return readings


if __name__ == "__main__":
    cli.run(main, parse_args())
