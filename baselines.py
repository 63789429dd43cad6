"""Train the baselines beside the CNN: logistic regression, a random forest
and a dense network, on the same data, split and seed as train_cnn.py.

Each model writes under --out-dir/<model>/: the fitted model (model.skops
for scikit-learn, loaded safely with skops; model.keras for the dense net),
config.json, metrics.json, report.md and confusion.png (the dense net also
history.png). Logistic regression and the forest read deskewed pixels by
default for digits (--features); the dense net trains with the CNN's augmentation.

    python baselines.py                          # all three, runs/lr, runs/rf, runs/dense
    python baselines.py --models lr rf --rf-trees 500
    python baselines.py --dry-run --out-dir runs/smoke
"""

from digitsuite import cli
from models import build_logistic_regression, build_random_forest

MODELS = ("lr", "rf", "dense")


def parse_args(argv=None):
    from digitsuite.data.features import FEATURES

    c = cli.default_of(build_logistic_regression, "C")
    trees = cli.default_of(build_random_forest, "n_estimators")
    parser = cli.Parser(__doc__)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="which baselines to train (default: lr rf dense)")
    parser.add_argument("--features", choices=["auto", *FEATURES], default="auto",
                        help="input of logistic regression and the random forest: "
                             "'deskew' straightens slanted digits first, 'pixels' uses "
                             "them as they are, 'auto' deskews digits only (default: auto)")
    parser.add_argument("--lr-c", type=cli.positive_float, default=c,
                        help=f"logistic regression: inverse regularisation strength C "
                             f"(default: {c})")
    parser.add_argument("--rf-trees", type=cli.positive_int, default=trees,
                        help=f"random forest: number of trees (default: {trees})")
    cli.add_keras_training_args(parser, learning_rate=2e-3, model="dense net: ",
                                run_dir="--out-dir/dense")
    cli.add_data_args(parser)
    cli.add_run_args(parser, "runs")
    return parser.parse_args(argv)


def train_one(name, args, splits, resume):
    """Train baseline ``name`` with the flags' settings; returns its metrics."""
    from digitsuite.data.features import features_for
    from digitsuite.training.run import train_sklearn
    from models import build_dense

    out_dir, settings = args.out_dir / name, cli.saved_args(args)
    if name == "dense":
        return cli.train_keras_run(name, build_dense, args, splits, out_dir,
                                   "python baselines.py --models dense", resume=resume)
    estimator = (build_logistic_regression(seed=args.seed, C=args.lr_c) if name == "lr"
                 else build_random_forest(seed=args.seed, n_estimators=args.rf_trees))
    return train_sklearn(name, estimator, splits=splits, out_dir=out_dir, settings=settings,
                         seed=args.seed,
                         features=features_for(args.features, splits.dataset.name),
                         log=lambda line: print(line, flush=True))


def main(args):
    from digitsuite.fileio import check_room_for, prepare_out_dir
    from digitsuite.inference.runs import TITLES
    from digitsuite.training.run import run_files

    prepare_out_dir(args.out_dir)  # a bad --out-dir stops the run before any work
    for name in args.models:  # each model's files go in its own folder
        check_room_for(args.out_dir / name, run_files(name))
    args, resume = cli.resume_if_asked(args, args.out_dir / "dense")
    if resume:  # only the dense net has epochs to resume
        args.models = ["dense"]
    splits = cli.load_splits(args)
    cli.print_split_summary(splits)
    results = {}
    for name in dict.fromkeys(args.models):
        print(f"{name}: training the {TITLES[name].lower()} ...", flush=True)
        metrics = results[name] = train_one(name, args, splits, resume)
        print(f"{name}: trained in {metrics['train_seconds']:.1f} s; test accuracy "
              f"{metrics['test_accuracy']:.2%} (validation {metrics['val_accuracy']:.2%}); "
              f"outputs in {args.out_dir / name}/", flush=True)
    return results


if __name__ == "__main__":
    cli.run(main, parse_args())
