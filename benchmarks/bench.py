"""Benchmark the suite against plain Keras and scikit-learn defaults.

In one process, on the same data: seconds per epoch and to a target test
accuracy (98.5 % for MNIST, 90 % for Fashion-MNIST) of the seed CNN trained
the plain way and the suite's way, trained in turns; prediction images/s;
the peak memory of one train_cnn.py epoch (in a child process); and the fit
time of the logistic regression and random forest. Writes
<date>-<dataset>.json and .md under --out-dir (quick and dry runs add
-quick / -dry-run to the name). See benchmarks/perf.py for the method.

    python benchmarks/bench.py --dataset fashion_mnist     # full run, 60k images
    python benchmarks/bench.py --quick                     # a few minutes
    python benchmarks/bench.py --dry-run --out-dir /tmp/bench
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402

QUICK_TRAIN, QUICK_TEST, QUICK_BASELINE = 12_000, 2_000, 3_000


def _per_dataset(values, key=None):
    """Help text for a per-dataset default: "8 for mnist, 4 for fashion_mnist"."""
    return ", ".join(f"{(v if key is None else v[key]):g} for {name}"
                     for name, v in values.items())


def parse_args(argv=None):
    from benchmarks import perf  # numpy only at import: cheap enough for --help

    parser = cli.Parser(__doc__)
    parser.add_argument("--quick", action="store_true",
                        help=f"small run: at most {QUICK_TRAIN:,} training and "
                             f"{QUICK_TEST:,} test images, baselines on {QUICK_BASELINE:,}, "
                             "memory of a --dry-run epoch (default: off)")
    parser.add_argument("--target", type=cli.fraction, default=None,
                        help="test accuracy to reach (default: "
                             f"{_per_dataset(perf.TARGET_ACCURACY)})")
    parser.add_argument("--suite-epochs", type=cli.positive_int, default=None,
                        help="epochs of the suite's short recipe (default: "
                             f"{_per_dataset(perf.SHORT_RECIPES, 'epochs')}; 1 with --dry-run)")
    parser.add_argument("--max-reference-epochs", type=cli.positive_int, default=None,
                        help="stop the plain reference after this many epochs if it "
                             "has not reached the target (default: "
                             f"{_per_dataset(perf.MAX_REFERENCE_EPOCHS)}; 4 with --quick, "
                             "1 with --dry-run)")
    parser.add_argument("--repeats", type=cli.positive_int, default=None,
                        help="timed prediction passes per side (default: 5; 3 with "
                             "--quick, 1 with --dry-run)")
    cli.add_data_args(parser)
    cli.add_run_args(parser, str(Path("benchmarks") / "results"))
    return parser.parse_args(argv)


def budget(args, dataset_name):
    """The run's size from the flags and mode: (suite recipe, the plain side's
    epoch cap, timing repeats, target accuracy)."""
    from benchmarks import perf

    recipe = dict(perf.SHORT_RECIPES[dataset_name])
    recipe["epochs"] = args.suite_epochs or (1 if args.dry_run else recipe["epochs"])
    max_reference = args.max_reference_epochs or (
        1 if args.dry_run else 4 if args.quick else perf.MAX_REFERENCE_EPOCHS[dataset_name])
    repeats = args.repeats or (1 if args.dry_run else 3 if args.quick else 5)
    return recipe, max_reference, repeats, args.target or perf.TARGET_ACCURACY[dataset_name]


def main(args):
    from benchmarks import perf
    from digitsuite.data.datasets import stratified_subset
    from digitsuite.fileio import prepare_out_dir, write_json, write_text

    out_dir = prepare_out_dir(args.out_dir)
    dataset, train, val, test = cli.load_splits(args)
    mode = "dry-run" if args.dry_run else "quick" if args.quick else None
    if args.quick:
        train = stratified_subset(*train, QUICK_TRAIN, args.seed)
        test = stratified_subset(*test, QUICK_TEST, args.seed)
    recipe, max_reference, repeats, target = budget(args, dataset.name)
    print(f"data: {dataset.summary()}; racing on {len(train[0]):,} training images, "
          f"checking on {len(test[0]):,} test images; target {target:.1%}", flush=True)
    small = (stratified_subset(*train, QUICK_BASELINE, args.seed) if args.quick else train)
    result = perf.run_all(
        dataset, train, val, test, small, recipe=recipe, target=target,
        max_reference_epochs=max_reference, checks_per_epoch=1 if args.dry_run else 4,
        repeats=repeats, seed=args.seed, data_dir=args.data_dir,
        small_rss_run=args.dry_run or args.quick, scratch_dir=out_dir,
        log=lambda line: print(line, flush=True))
    result.update(mode=mode or "full", command=" ".join(
        ["python benchmarks/bench.py --dataset", dataset.name]
        + [flag for flag, on in (("--quick", args.quick), ("--dry-run", args.dry_run)) if on]))
    stem = f"{result['date']}-{dataset.name}" + (f"-{mode}" if mode else "")
    write_json(out_dir / f"{stem}.json", result)
    write_text(out_dir / f"{stem}.md", perf.markdown_table(result))
    print(perf.markdown_table(result))
    print(f"results in {out_dir / stem}.json and .md")
    return result


if __name__ == "__main__":
    cli.run(main, parse_args())
