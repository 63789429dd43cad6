"""Read the handwritten numbers in photos or scans with the trained CNN.

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
light on dark) decided automatically; characters are found as connected
ink components (broken digits merged, touching ones split, specks dropped),
grouped into lines, and each is prepared the way MNIST was made (the same
code as visualize_layers.py --image) before one batch goes to the model.

--benchmark writes test pages from held-out real MNIST test digits, reads
them and scores the reading, for the standard pages and under variations
(pen width, blur, slant, light, polarity, spacing, size); it writes
benchmark.json, benchmark.md and example pages with their readings:

    python read_digits.py --benchmark                  # runs/read_benchmark/
    python read_digits.py --benchmark --dry-run --out-dir /tmp/bench

Exit status: 0 when every image was read, 1 when any could not be (one
'error:' line each; the others are still read), 2 for a usage or model error.
"""

import sys
from pathlib import Path

from digitsuite import cli

DEFAULT_MODEL = Path("runs/cnn/model.keras")
BENCHMARK_DIR = Path("runs/read_benchmark")
DRY_RUN_PAGES = 3
EXAMPLE_PAGES = 3


def parse_args(argv=None):
    from digitsuite.reading.reader import MIN_CONFIDENCE

    parser = cli.Parser(__doc__)
    parser.add_argument("images", type=Path, nargs="*",
                        help="image files to read (PNG, JPEG, BMP, GIF, TIFF, WebP; "
                             "default: none, then --benchmark is required)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"trained Keras digit classifier (default: {DEFAULT_MODEL})")
    parser.add_argument("--min-confidence", type=cli.fraction, default=MIN_CONFIDENCE,
                        help="digits read with a lower probability print as '?' "
                             f"(default: {MIN_CONFIDENCE})")
    parser.add_argument("--json", action="store_true",
                        help="print the readings as JSON instead of text (default: off)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="folder for annotated images, crop strips and readings.json, "
                             f"or the benchmark's files (default: none when reading, so "
                             f"nothing is written; {BENCHMARK_DIR} with --benchmark)")
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
    bench.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    bench.add_argument("--dry-run", action="store_true",
                       help=f"smoke test: {DRY_RUN_PAGES} pages per condition (default: off)")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks instead of one-line errors (default: off)")
    args = parser.parse_args(argv)
    if args.benchmark and args.images:
        parser.error("give image files to read or --benchmark, not both")
    if not (args.benchmark or args.images):
        parser.error("give image files to read (or --benchmark)")
    return args


def read_images(args, model):
    """Read every image; print each reading (or its error) as it comes.

    Returns the readings; exits with status 1 after the last image if any
    could not be read.
    """
    import json

    from digitsuite.errors import ImageError
    from digitsuite.fileio import prepare_out_dir, save_figure, write_json
    from digitsuite.reading import reader

    out_dir = prepare_out_dir(args.out_dir) if args.out_dir else None
    readings, failed, names = [], 0, set()
    for path in args.images:
        try:
            reading, grey, crops = reader.read_file(model, path, args.min_confidence)
        except (ImageError, OSError) as exc:
            message = exc if isinstance(exc, ImageError) else (
                f"cannot read {path}: {exc.strerror or exc}; check its permissions")
            print(f"error: {message}", file=sys.stderr, flush=True)
            failed += 1
            continue
        readings.append(reading)
        if not args.json:
            print("\n".join(reader.format_reading(reading)), flush=True)
        if out_dir:
            stem = unique_stem(path.stem, names)
            save_figure(reader.plot_annotated(grey, reading),
                        out_dir / f"{stem}.annotated.png", dpi=reader.FIGURE_DPI)
            save_figure(reader.plot_crops(crops, reading), out_dir / f"{stem}.crops.png",
                        dpi=reader.FIGURE_DPI)
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


def unique_stem(stem, taken):
    """``stem``, or ``stem-2``, ``stem-3``... if taken; records the choice."""
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    taken.add(name)
    return name


def benchmark_digits(args):
    """The held-out test digits for the benchmark: (images, labels, source, note).

    Without --data-dir, uses the data folder the model was trained with, as
    its config.json records. ``note`` warns when the data differs in size
    from the model's (its test digits might then overlap its training ones).
    """
    import json

    from digitsuite.data.datasets import load_dataset

    try:
        config = json.loads((args.model.parent / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    data_dir = args.data_dir or (Path(config["data_dir"]) if config.get("data_dir") else None)
    dataset = load_dataset("mnist", data_dir)
    note = None
    trained = (config.get("n_train_total"), config.get("n_test"))
    if not config:
        note = (f"no readable config.json beside {args.model}, so it is unknown whether the "
                "model trained on any of these test digits")
    elif trained != (len(dataset.x_train), len(dataset.x_test)):
        note = (f"the model trained on {config.get('data_source')} "
                f"({trained[0]} train / {trained[1]} test digits) but the benchmark digits "
                f"come from {dataset.source}; if the two overlap the figures are too "
                "optimistic, so pass --data-dir with the model's own data")
    return dataset.x_test, dataset.y_test, dataset.source, note


def run_benchmark(args, model):
    """Write, read and score the benchmark pages; write the report files."""
    from PIL import Image

    from digitsuite.fileio import atomic_path, prepare_out_dir, save_figure, write_json, write_text
    from digitsuite.reading import benchmark as digit_bench
    from digitsuite.reading import reader

    out_dir = prepare_out_dir(args.out_dir or BENCHMARK_DIR)
    x_test, y_test, source, note = benchmark_digits(args)
    print(f"benchmark digits: {len(x_test):,} test digits from {source}")
    if note:
        print(f"note: {note}")
    results, example_texts = {}, []
    for name, style in digit_bench.CONDITIONS.items():
        standard = name == "standard"
        pages = DRY_RUN_PAGES if args.dry_run else (
            args.benchmark_pages if standard else args.variation_pages)
        summary, examples = digit_bench.run_condition(
            model, x_test, y_test, style, pages, args.seed, args.min_confidence,
            examples=EXAMPLE_PAGES if standard else 1)
        results[name] = summary
        print(digit_bench.summary_line(name, summary), flush=True)
        slug = name.replace(" ", "-")
        for k, (page, truth, reading, crops) in enumerate(examples, start=1):
            stem = f"example-{k}" if standard else f"variation-{slug}"
            with atomic_path(out_dir / f"{stem}.png") as tmp:
                Image.fromarray(page).save(tmp)
            if reading["digits"]:
                save_figure(reader.plot_annotated(page / 255.0, reading),
                            out_dir / f"{stem}.annotated.png", dpi=reader.FIGURE_DPI)
                save_figure(reader.plot_crops(crops, reading), out_dir / f"{stem}.crops.png",
                            dpi=reader.FIGURE_DPI)
            example_texts.append(
                f"- `{stem}.png` ({name}): truth {' / '.join(t['text'] for t in truth)}; "
                f"read {' / '.join(reading['lines']) or '(nothing)'}")
    header = [f"Model: `{args.model}`. Digits: {len(x_test):,} held-out test digits from "
              f"{source}. Seed {args.seed}; digits under {args.min_confidence:.0%} "
              "confidence show as '?'."]
    if note:
        header.append(f"Note: {note}.")
    config = {"model": str(args.model), "data_source": source, "n_digits": len(x_test),
              "seed": args.seed, "min_confidence": args.min_confidence,
              "benchmark_pages": args.benchmark_pages, "variation_pages": args.variation_pages,
              "dry_run": args.dry_run, "note": note,
              "conditions": {n: s.as_dict() for n, s in digit_bench.CONDITIONS.items()}}
    write_json(out_dir / "benchmark.json", {"config": config, "results": results})
    write_text(out_dir / "benchmark.md",
               digit_bench.report_markdown(header, results, example_texts))
    print(f"wrote benchmark.json, benchmark.md and examples to {out_dir}/")
    return {"results": results, "out_dir": out_dir}


def main(args):
    from digitsuite.inference.modelio import load_keras_model
    from digitsuite.reading.reader import check_classifier

    model = load_keras_model(args.model, expect_input_shape=(28, 28, 1))
    check_classifier(model, args.model)
    if args.benchmark:
        return run_benchmark(args, model)
    return read_images(args, model)


if __name__ == "__main__":
    cli.run(main, parse_args())
