"""Benchmark the suite against plain Keras and scikit-learn defaults.

In one process, on the same data: seconds per epoch and to a target test
accuracy (99.1 % for MNIST, the seed's figure; 90 % for Fashion-MNIST) of
the seed CNN trained the plain way and the suite's way (for digits
train_cnn.py's default recipe, augmentation included), in turns, each until
it reaches the target or a cap; prediction images/s; the peak memory of one
train_cnn.py epoch (in a child process); and the fit time of the logistic
regression and random forest. Writes <date>-<dataset>.json and .md under
--out-dir (quick and dry runs add -quick / -dry-run to the name), with the
machine and its load. See benchmarks/perf.py for the method.

    python benchmarks/bench.py --dataset mnist     # full MNIST, downloaded
    python benchmarks/bench.py --quick                     # a few minutes
    python benchmarks/bench.py --dry-run --out-dir runs/bench-smoke
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

    full, quick = perf.CAPS["full"], perf.CAPS["quick"]
    parser = cli.Parser(__doc__)
    parser.add_argument("--quick", action="store_true",
                        help=f"small run: at most {QUICK_TRAIN:,} training and "
                             f"{QUICK_TEST:,} test images, a target of "
                             f"{_per_dataset(perf.QUICK_TARGET_ACCURACY)}, baselines on "
                             f"{QUICK_BASELINE:,}, memory of a --dry-run epoch (default: off)")
    parser.add_argument("--target", type=cli.fraction, default=None,
                        help="test accuracy to reach (default: "
                             f"{_per_dataset(perf.TARGET_ACCURACY)})")
    parser.add_argument("--max-epochs", type=cli.positive_int, default=None,
                        help="stop a side of the race after this many epochs if it has not "
                             f"reached the target (default: {full.max_epochs}; "
                             f"{quick.max_epochs} with --quick, 1 with --dry-run; the suite "
                             "never trains past its recipe's epochs)")
    parser.add_argument("--max-seconds", type=cli.positive_float, default=None,
                        help="stop a side of the race after this many seconds of training "
                             f"if it has not reached the target (default: {full.max_seconds:g}; "
                             f"{quick.max_seconds:g} with --quick)")
    parser.add_argument("--repeats", type=cli.positive_int, default=None,
                        help="timed prediction passes per side (default: 5; 3 with "
                             "--quick, 1 with --dry-run)")
    cli.add_data_args(parser)
    cli.add_run_args(parser, str(Path("benchmarks") / "results"))
    return parser.parse_args(argv)


def mode_of(args):
    return "dry-run" if args.dry_run else "quick" if args.quick else "full"


def budget(args, dataset_name):
    """The run's size from the flags and mode: (suite recipe, race caps,
    timing repeats, target accuracy)."""
    import dataclasses

    from benchmarks import perf

    mode = mode_of(args)
    caps = perf.CAPS[mode]
    caps = dataclasses.replace(
        caps, max_epochs=args.max_epochs or caps.max_epochs,
        min_epochs=min(caps.min_epochs, args.max_epochs or caps.max_epochs),
        max_seconds=args.max_seconds or caps.max_seconds)
    repeats = args.repeats or {"dry-run": 1, "quick": 3, "full": 5}[mode]
    targets = perf.QUICK_TARGET_ACCURACY if mode == "quick" else perf.TARGET_ACCURACY
    return (dict(perf.RECIPES[dataset_name]), caps, repeats,
            args.target or targets[dataset_name])


def main(args):
    from benchmarks import perf, write_results
    from digitsuite.data.datasets import stratified_subset
    from digitsuite.fileio import prepare_out_dir

    out_dir = prepare_out_dir(args.out_dir)
    dataset, train, val, test = cli.load_splits(args)
    mode = mode_of(args)
    if args.quick:
        train = stratified_subset(*train, QUICK_TRAIN, args.seed)
        test = stratified_subset(*test, QUICK_TEST, args.seed)
    recipe, caps, repeats, target = budget(args, dataset.name)
    print(f"data: {dataset.summary()}; racing on {len(train[0]):,} training images, "
          f"checking on {len(test[0]):,} test images; target {target:.1%}", flush=True)
    small = (stratified_subset(*train, QUICK_BASELINE, args.seed) if args.quick else train)
    result = perf.run_all(
        dataset, train, val, test, small, recipe=recipe, target=target,
        caps=caps, checks_per_epoch=1 if args.dry_run else 4,
        repeats=repeats, seed=args.seed, data_dir=args.data_dir,
        small_rss_run=args.dry_run or args.quick, scratch_dir=out_dir,
        log=lambda line: print(line, flush=True))
    result.update(mode=mode, command=" ".join(["python benchmarks/bench.py"] + argv_of(args)))
    stem = result_stem(out_dir, result["date"], dataset.name, mode)
    write_results(out_dir, stem, result, perf.markdown_table(result))
    print(perf.markdown_table(result))
    return result


def result_stem(out_dir, date, dataset, mode):
    """<date>-<dataset>[-quick|-dry-run], with -2, -3, ... after it when an
    earlier run of the day already wrote that name: results are kept, not
    overwritten."""
    stem = f"{date}-{dataset}" + ("" if mode == "full" else f"-{mode}")
    taken = {path.stem for path in Path(out_dir).glob(f"{stem}*")}
    n = 1
    while (f"{stem}-{n}" if n > 1 else stem) in taken:
        n += 1
    return f"{stem}-{n}" if n > 1 else stem


def argv_of(args):
    """The flags that shaped this run's figures, as typed."""
    words = ["--dataset", args.dataset]
    if args.data_dir is not None:
        words += ["--data-dir", str(args.data_dir)]
    for flag in ("quick", "dry_run"):
        if getattr(args, flag):
            words.append("--" + flag.replace("_", "-"))
    for flag in ("target", "max_epochs", "max_seconds", "repeats", "seed"):
        value = getattr(args, flag)
        if value is not None and not (flag == "seed" and value == 0):
            words += ["--" + flag.replace("_", "-"), f"{value:g}"]
    return words


if __name__ == "__main__":
    cli.run(main, parse_args())
