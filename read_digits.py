"""Read the handwritten numbers in photos or scans.

The model is the reader shipped in models/reader/ (the seed CNN trained for
reading real pages by train_reader.py); --model takes any other, such as
train_cnn.py's runs/cnn/model.keras.

For each image, prints the number(s) it reads, one text line per line of
writing, with every digit's confidence; digits the model is unsure of
(under --min-confidence) print as '?' and are listed with their two best
guesses. --json prints the same as a JSON list, one object per image.
With --out-dir, writes <image>.annotated.png (a box and the digit read over
each character) and <image>.crops.png (the 28x28 inputs exactly as the model
saw them) per image, and readings.json.

    python read_digits.py photo.png scan.jpg
    python read_digits.py photo.png --json
    python read_digits.py photo.png --out-dir runs/read_digits

The page's lighting is evened out and its ink polarity (dark on light or
light on dark) decided automatically; a printed background pattern, ruled
lines and box fields are taken off; characters are found as connected ink
components (broken digits merged, touching ones split, specks dropped),
grouped into lines and numbers, punctuation (dots, commas, dashes) is kept
out of the numbers but reported (--json: each number's marks and decimal
separator), and each character is prepared the way MNIST was made (the same
code as visualize_layers.py --image) before one batch goes to the model.

--benchmark writes test pages from held-out real MNIST test digits and,
side by side, from optdigits (real handwriting by 30 other people, used
only to measure; --optdigits), reads them and scores the reading, for the
standard pages and under each condition (pen, blur, slant, light, polarity,
spacing, size, printed patterns, guide lines, box fields, punctuation,
touching digits, marker/ballpoint/pencil, low resolution, phone photos); it
writes benchmark.json, benchmark.md and example pages with their readings:

    python read_digits.py --benchmark                  # runs/read_benchmark/
    python read_digits.py --benchmark --dry-run --out-dir /tmp/bench

Exit status: 0 when every image was read, 1 when any could not be (one
'error:' line each; the others are still read), 2 for a usage or model error.
"""

import json
import sys
from pathlib import Path

from digitsuite import cli
from digitsuite.inference.runs import DEFAULT_RUNS_DIR, READER_MODEL

DEFAULT_MODEL = READER_MODEL
BENCHMARK_DIR = DEFAULT_RUNS_DIR / "read_benchmark"
DRY_RUN_PAGES = 3
# The shared data folder beside the repository, where the optdigits file usually is.
DEFAULT_OPTDIGITS = (Path(__file__).resolve().parent.parent / "shared" / "data" / "optdigits"
                     / "optdigits-orig.tra.gz")


def parse_args(argv=None):
    from digitsuite.reading.reader import MIN_CONFIDENCE

    parser = cli.Parser(__doc__)
    parser.add_argument("images", type=Path, nargs="*",
                        help="image files to read (PNG, JPEG, BMP, GIF, TIFF, WebP; "
                             "default: none, then --benchmark is required)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="trained Keras digit classifier, e.g. runs/cnn/model.keras from "
                             "train_cnn.py (default: the shipped reader model, "
                             "models/reader/model.keras)")
    parser.add_argument("--min-confidence", type=cli.fraction, default=MIN_CONFIDENCE,
                        help="digits read with a lower probability print as '?' "
                             f"(default: {MIN_CONFIDENCE})")
    parser.add_argument("--json", action="store_true",
                        help="print the readings as JSON instead of text (default: off)")
    bench = parser.add_argument_group("benchmark")
    bench.add_argument("--benchmark", action="store_true",
                       help="score the reading on synthetic pages of held-out MNIST test "
                            "digits instead of reading images (default: off)")
    bench.add_argument("--benchmark-pages", type=cli.positive_int, default=400,
                       help="standard pages to write and read (default: 400)")
    bench.add_argument("--variation-pages", type=cli.positive_int, default=100,
                       help="pages per variation (pen, blur, slant, ...) (default: 100)")
    bench.add_argument("--data-dir", type=Path, default=None,
                       help="MNIST folder or .npz whose test split gives the digits "
                            "(default: the data_dir in the model's config.json, else the "
                            "usual search: Keras cache, download, bundled sample)")
    halves = bench.add_mutually_exclusive_group()
    halves.add_argument("--optdigits", type=Path, default=None,
                        help="optdigits-orig.tra(.gz): real handwriting by 30 people, "
                             "written into pages beside MNIST's, for measuring only "
                             f"(default: {DEFAULT_OPTDIGITS} if present, else MNIST alone)")
    halves.add_argument("--no-optdigits", action="store_true",
                        help="benchmark on MNIST alone (default: off)")
    bench.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    cli.add_output_args(
        parser, None, what="annotated images, crop strips and readings.json, or the "
        "benchmark's files", dry_run=f"{DRY_RUN_PAGES} benchmark pages per condition",
        default_text=f"none when reading, so nothing is written; {BENCHMARK_DIR} with "
        "--benchmark")
    args = parser.parse_args(argv)
    if args.benchmark and args.images:
        parser.error("give image files to read or --benchmark, not both")
    if not (args.benchmark or args.images):
        parser.error("give image files to read (or --benchmark)")
    return args


def run_benchmark(args, model):
    """--benchmark: score the reading on synthetic pages; returns the results."""
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.reading import benchmark

    optdigits, skipped = optdigits_choice(args)
    out_dir = prepare_out_dir(args.out_dir or BENCHMARK_DIR)
    pages = ((DRY_RUN_PAGES, DRY_RUN_PAGES) if args.dry_run
             else (args.benchmark_pages, args.variation_pages))
    results = benchmark.run_benchmark(
        model, model_path=args.model, out_dir=out_dir, data_dir=args.data_dir,
        optdigits=optdigits, optdigits_skipped=skipped, pages=pages[0],
        variation_pages=pages[1], seed=args.seed, min_confidence=args.min_confidence,
        timing_pages=2 if args.dry_run else 7, dry_run=args.dry_run,
        log=lambda line: print(line, flush=True))
    print(f"wrote benchmark.json, benchmark.md and examples to {out_dir}/")
    return {"results": results, "out_dir": out_dir}


def optdigits_choice(args):
    """(optdigits file or None, why it is skipped): a given --optdigits must
    exist; the default is used only when it is there."""
    from digitsuite.errors import DataError

    if args.no_optdigits:
        return None, "--no-optdigits"
    if args.optdigits is not None:
        if not args.optdigits.is_file():
            raise DataError(f"--optdigits {args.optdigits} is not a file; give the path of "
                            "optdigits-orig.tra(.gz) or leave --optdigits out")
        return args.optdigits, None
    if DEFAULT_OPTDIGITS.is_file():
        return DEFAULT_OPTDIGITS, None
    return None, (f"no optdigits file at {DEFAULT_OPTDIGITS}; pass --optdigits PATH to add "
                  "real handwriting that is not MNIST")


def main(args):
    from digitsuite.fileio import prepare_out_dir, write_json
    from digitsuite.inference.modelio import load_keras_model
    from digitsuite.reading import reader

    model = load_keras_model(args.model, expect_input_shape=(28, 28, 1))
    reader.check_classifier(model, args.model)
    if args.benchmark:
        return run_benchmark(args, model)
    out_dir = prepare_out_dir(args.out_dir) if args.out_dir else None
    readings, failed = [], 0
    for reading, error in reader.read_files(model, args.images, args.min_confidence, out_dir,
                                            debug=args.debug):
        if error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            failed += 1
        else:
            readings.append(reading)
            if not args.json:
                print("\n".join(reader.format_reading(reading)), flush=True)
    if args.json:
        print(json.dumps(readings, indent=2))
    if out_dir:
        write_json(out_dir / "readings.json", readings)
        if not args.json:
            print(f"wrote annotated images and crops for {len(readings)} image(s) to "
                  f"{out_dir}/")
    if failed:
        sys.exit(1)
    return readings


if __name__ == "__main__":
    cli.run(main, parse_args())
