"""Compare the four saved models on one test set and print the table.

Loads logistic regression, the random forest, the dense network and the
CNN from --runs-dir (made by baselines.py and train_cnn.py), predicts the
same test images with each, and writes under --out-dir:

- comparison.md / comparison.json: per model its parameters, test accuracy
  with a 95 % confidence interval, error rate, error reduction relative to
  each other model, training time, inference speed and the seed's figure;
  McNemar's test for each pair;
- comparison.png (accuracy and error with intervals), confusions.png (the
  four confusion matrices) and mistakes.png (test digits the CNN gets wrong).

    python evaluate.py                           # runs/ -> runs/comparison/
    python evaluate.py --train-missing           # train absent models first
    python evaluate.py --dry-run                 # smoke test; trains tiny models in its --out-dir

Models that are missing or cannot be used are named on stderr, each with
the command that makes it; the others are compared. Exit status: 0, or 1
when a model is broken, 2 when none can be compared.
"""

import sys
from pathlib import Path

from digitsuite import cli
from digitsuite.errors import printable


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    from digitsuite.inference.runs import DEFAULT_RUNS_DIR
    from digitsuite.precision import (
        CALIBRATION_IMAGES,
        CHECK_IMAGES,
        FROZEN_PRECISIONS,
        INT8_AGREEMENT,
    )

    parser.add_argument("--runs-dir", type=Path,
                        help="folder holding lr/, rf/, dense/ and cnn/ runs "
                             f"(default: {DEFAULT_RUNS_DIR}; with --dry-run, tiny models "
                             "trained into models/ inside --out-dir)")
    parser.add_argument("--train-missing", action="store_true",
                        help="train the models missing from --runs-dir first, with the "
                             "training scripts' defaults and this command's data flags "
                             "(default: off)")
    parser.add_argument("--timing-repeats", type=cli.positive_int, default=3,
                        help="timed passes over the test set per model; the median "
                             "gives images/s (default: 3)")
    parser.add_argument("--precision", choices=FROZEN_PRECISIONS, default="float32",
                        help="arithmetic of the Keras models' predictions: 'float32' "
                             "gives the saved models' own accuracy; 'int8' quantises "
                             f"them (LiteRT, ranges set on {CALIBRATION_IMAGES} training "
                             "images); 'auto': int8 where this CPU runs it faster and it "
                             f"gives float32's answer on at least {100 * INT8_AGREEMENT:.1f} %% of "
                             f"{CHECK_IMAGES:,} other training images; comparison.md "
                             "records what was used (default: float32)")
    cli.add_data_args(parser)
    cli.add_run_args(parser, "runs/comparison")
    args = parser.parse_args(argv)
    # A smoke test of the default folders runs from a fresh checkout: its
    # tiny models are trained in seconds, inside its own --out-dir like
    # everything else it writes. A --runs-dir given is compared as it is.
    if args.runs_dir is None and args.dry_run:
        args.runs_dir = Path(args.out_dir) / "models"
        args.train_missing = True
    elif args.runs_dir is None:
        args.runs_dir = DEFAULT_RUNS_DIR
    return args


def data_argv(args):
    """The data flags (and --dry-run) to hand on to the training scripts:
    those that differ from their defaults, so models see the same data."""
    defaults = parse_args([])
    argv = []
    for key in ("dataset", "data_dir", "val_fraction", "seed"):
        if getattr(args, key) != getattr(defaults, key):
            argv += ["--" + key.replace("_", "-"), str(getattr(args, key))]
    return argv + (["--dry-run"] if args.dry_run else [])


def train_missing(args, missing):
    """Train the ``missing`` models in-process with the training scripts' defaults."""
    import baselines
    import train_cnn

    handed_on = data_argv(args)
    wanted = [name for name in missing if name != "cnn"]
    if wanted:
        print(f"training missing baselines: {' '.join(wanted)}", flush=True)
        baselines.main(baselines.parse_args(
            ["--models", *wanted, "--out-dir", str(args.runs_dir), *handed_on]))
    if "cnn" in missing:
        print("training the missing CNN", flush=True)
        train_cnn.main(train_cnn.parse_args(
            ["--out-dir", str(args.runs_dir / "cnn"), *handed_on]))


def main(args):
    from digitsuite.evaluation.comparison import markdown_tables
    from digitsuite.evaluation.evaluate import (
        evaluate_runs,
        load_runs,
        nothing_to_compare,
        write_comparison,
    )
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.inference.runs import MODELS, missing_models

    missing = missing_models(args.runs_dir)
    if len(missing) == len(MODELS) and not args.train_missing:
        raise nothing_to_compare(args.runs_dir, data_argv(args))  # before any data or folder
    out_dir = prepare_out_dir(args.out_dir)
    if missing and args.train_missing:
        train_missing(args, missing)
    dataset, (x_train, _), _, (x_test, y_test) = cli.load_splits(args)
    runs, missing, broken = load_runs(args.runs_dir, dataset, data_argv(args))
    result, probas = evaluate_runs(runs, args.runs_dir, dataset, x_test, y_test,
                                   args.timing_repeats,
                                   log=lambda line: print(line, flush=True),
                                   precision=args.precision, calibration=x_train)
    result.update(dry_run=args.dry_run, not_compared={**missing, **broken})
    write_comparison(out_dir, result, probas, runs, dataset, x_test, y_test)
    print()
    print(markdown_tables(result))
    print(f"\noutputs in {out_dir}/")
    # Every usable model is compared above; what was left out is said last,
    # where it is seen, and a broken model fails the command.
    for name, reason in missing.items():
        print(f"note: {name} is not compared: {reason}", file=sys.stderr)
    for name, reason in broken.items():
        print(f"error: {name} is not compared: {printable(reason)}", file=sys.stderr)
    if broken:
        sys.exit(1)
    return result


if __name__ == "__main__":
    cli.run(main, parse_args())
