"""Score read_digits.py's reader on synthetic pages of real handwriting.

Writes test pages from held-out real MNIST test digits and, side by side
with --optdigits, from optdigits (real handwriting by 30 other people, used
only to measure), reads them as read_digits.py does and scores the reading,
for the standard pages and under each condition (pen, blur, slant, light,
polarity, spacing, size, printed patterns, guide lines, box fields,
punctuation, touching digits, marker/ballpoint/pencil, low resolution,
phone photos). Writes benchmark.json, benchmark.md and example pages with
their readings under --out-dir. See docs/read-digits.md for the method and
the dated results.

    python benchmarks/read_bench.py                    # runs/read_benchmark/
    python benchmarks/read_bench.py --optdigits optdigits-orig.tra.gz
    python benchmarks/read_bench.py --dry-run --out-dir runs/read-bench-smoke
    python benchmarks/read_bench.py --ablation --variation-pages 40   # each step's gain/cost

--ablation reads clean strips, standard, document, boxes, touching, marker
and register-cell pages (--variation-pages each) with every document step
on, all off, and each step off alone, per source, and writes that table
instead of the main one.

--validation writes the pages from MNIST's validation digits instead (as
grey images and as bitmaps): choose a reading step or setting on those,
then measure it on the test digits and optdigits.

    python benchmarks/read_bench.py --validation --variation-pages 30 --pages 60
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402
from digitsuite.inference.runs import DEFAULT_RUNS_DIR, READER_MODEL  # noqa: E402

DRY_RUN_PAGES = 3
NO_OPTDIGITS = ("no --optdigits given; pass --optdigits PATH to add real handwriting that "
                "is not MNIST")


def parse_args(argv=None):

    parser = cli.Parser(__doc__)
    parser.add_argument("--model", type=Path, default=READER_MODEL,
                        help="trained Keras digit classifier to read with (default: the "
                             "shipped reader model, models/reader/model.keras)")
    parser.add_argument("--min-confidence", type=cli.fraction, default=None,
                        help="digits with a lower probability of being right print as "
                             "'?' (default: the threshold in the model's calibration.json, "
                             "else 0.8 of a plain model's softmax)")
    parser.add_argument("--pages", type=cli.positive_int, default=400,
                        help="standard pages to write and read (default: 400)")
    parser.add_argument("--variation-pages", type=cli.positive_int, default=100,
                        help="pages per variation (pen, blur, slant, ...) (default: 100)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="MNIST folder or .npz whose test split gives the digits "
                             "(default: the data_dir in the model's config.json, else the "
                             "usual search: Keras cache, download, bundled sample)")
    parser.add_argument("--optdigits", type=Path, default=None,
                        help="optdigits-orig.tra(.gz) from the UCI repository: real "
                             "handwriting by 30 people, written into pages beside MNIST's, "
                             "for measuring only (default: none, MNIST alone)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--validation", action="store_true",
                        help="write the pages with MNIST's validation digits (the tenth of "
                             "its training split that training holds out), drawn as MNIST's "
                             "grey images and as bitmaps, instead of its test digits and "
                             "optdigits: for choosing a reading step or setting, which "
                             "the test digits and optdigits then measure")
    parser.add_argument("--ablation", action="store_true",
                        help="measure each document step instead: the document conditions "
                             "read with all steps on, all off and each off alone "
                             "(--variation-pages pages each)")
    cli.add_output_args(parser, DEFAULT_RUNS_DIR / "read_benchmark",
                        what="benchmark.json, benchmark.md and the example pages",
                        dry_run=f"{DRY_RUN_PAGES} pages per condition")
    return parser.parse_args(argv)


def main(args):
    from benchmarks.reading import benchmark
    from digitsuite.errors import DataError
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.reading import confidence

    if args.validation and args.optdigits is not None:
        raise DataError("--validation writes pages from MNIST's validation digits only: "
                        "leave out --optdigits, which is for measuring")
    if args.optdigits is not None and not args.optdigits.is_file():
        raise DataError(f"--optdigits {args.optdigits} is not a file; give the path of "
                        "optdigits-orig.tra(.gz) or leave --optdigits out")
    model = confidence.load_reader(args.model)
    out_dir = prepare_out_dir(args.out_dir)
    pages = (DRY_RUN_PAGES, DRY_RUN_PAGES) if args.dry_run else (args.pages,
                                                                 args.variation_pages)
    skipped = (None if args.optdigits else
               "--validation: pages of validation digits only" if args.validation
               else NO_OPTDIGITS)
    if args.ablation:
        results = benchmark.run_ablation(
            model, model_path=args.model, out_dir=out_dir, data_dir=args.data_dir,
            optdigits=args.optdigits, optdigits_skipped=skipped,
            pages=pages[1], seed=args.seed, min_confidence=args.min_confidence,
            dry_run=args.dry_run, validation=args.validation,
            log=lambda line: print(line, flush=True))
        print(f"wrote benchmark.json and benchmark.md (the ablation) to {out_dir}/")
        return {"results": results, "out_dir": out_dir}
    results = benchmark.run_benchmark(
        model, model_path=args.model, out_dir=out_dir, data_dir=args.data_dir,
        optdigits=args.optdigits, optdigits_skipped=skipped,
        pages=pages[0], variation_pages=pages[1], seed=args.seed,
        min_confidence=args.min_confidence, timing_pages=2 if args.dry_run else 7,
        dry_run=args.dry_run, validation=args.validation,
        log=lambda line: print(line, flush=True))
    print(f"wrote benchmark.json, benchmark.md and examples to {out_dir}/")
    return {"results": results, "out_dir": out_dir}


if __name__ == "__main__":
    cli.run(main, parse_args())
