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
    python evaluate.py --dry-run --train-missing --runs-dir /tmp/runs --out-dir /tmp/cmp
"""

from pathlib import Path

from digitsuite import cli


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"),
                        help="folder holding lr/, rf/, dense/ and cnn/ runs (default: runs)")
    parser.add_argument("--train-missing", action="store_true",
                        help="train the models missing from --runs-dir first, with the "
                             "training scripts' defaults and this command's data flags "
                             "(default: off)")
    parser.add_argument("--timing-repeats", type=cli.positive_int, default=3,
                        help="timed passes over the test set per model; the median "
                             "gives images/s (default: 3)")
    cli.add_data_args(parser)
    cli.add_run_args(parser, "runs/comparison")
    return parser.parse_args(argv)


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
    from digitsuite.errors import DigitsuiteError
    from digitsuite.evaluation import comparison as cmp
    from digitsuite.fileio import prepare_out_dir, save_figure, write_json, write_text
    from digitsuite.inference.runs import (
        MODELS,
        load_run,
        missing_models,
        model_path,
        train_command,
    )
    from digitsuite.training.baselines import count_parameters

    missing = missing_models(args.runs_dir)
    if missing and not args.train_missing:
        raise DigitsuiteError("\n".join(
            [f"{args.runs_dir} lacks {len(missing)} of the 4 models; create them with these "
             "commands, or rerun with --train-missing:"]
            + [f"  {name}: no {model_path(args.runs_dir, name)}; create it with: "
               f"{train_command(name, args.runs_dir, data_argv(args))}" for name in missing]))
    out_dir = prepare_out_dir(args.out_dir)
    if missing:
        train_missing(args, missing)

    dataset, _, _, (x_test, y_test) = cli.load_splits(args)
    runs = {name: load_run(args.runs_dir, name, len(dataset.class_names), data_argv(args))
            for name in MODELS}
    for run in runs.values():
        trained_on = (run.config.get("dataset"), run.config.get("data_source"))
        if trained_on[0] != dataset.name:
            raise DigitsuiteError(
                f"{args.runs_dir / run.name} was trained on {trained_on[0]}, but the test set "
                f"is {dataset.name}; pass --dataset {trained_on[0]} or retrain it")
        if trained_on[1] != dataset.source:
            print(f"note: {run.name} was trained on {trained_on[1]}, the test set comes from "
                  f"{dataset.source}; make sure the two do not overlap")

    probas, details = {}, {}
    for name, run in runs.items():
        print(f"{name}: predicting {len(x_test):,} test images ...", flush=True)
        probas[name] = run.predict_proba(x_test)
        params, params_kind = count_parameters(run.model)
        details[name] = {
            "title": run.title, "model_file": str(model_path(args.runs_dir, name)),
            "params": params, "params_kind": params_kind,
            "train_seconds": run.metrics.get("train_seconds"),
            "images_per_second": run.images_per_second(x_test, args.timing_repeats),
            "engine": run.engine,
        }
    predictions = {name: proba.argmax(axis=1) for name, proba in probas.items()}
    # The seed measured MNIST only.
    reference = cmp.REFERENCE_ACCURACY if dataset.name == "mnist" else {}
    result = cmp.compare(y_test, predictions, details, reference)
    result.update(dataset=dataset.name, data_source=dataset.source, dry_run=args.dry_run,
                  runs_dir=str(args.runs_dir))

    images = ["comparison.png", "confusions.png", "mistakes.png"]
    save_figure(cmp.plot_accuracy(result), out_dir / images[0], dpi=110)
    save_figure(cmp.plot_confusions(y_test, predictions, {n: r.title for n, r in runs.items()},
                                    dataset.class_names), out_dir / images[1], dpi=110)
    save_figure(cmp.plot_mistakes(x_test, y_test, probas["cnn"], dataset.class_names,
                                  runs["cnn"].title), out_dir / images[2], dpi=110)
    header = (f"{dataset.summary()}; models from {args.runs_dir}/. The seed's figures "
              "are from its own table, not measured on this test set.")
    write_json(out_dir / "comparison.json", result)
    write_text(out_dir / "comparison.md", cmp.markdown_report(result, header, images))
    print()
    print(cmp.markdown_tables(result))
    print(f"\noutputs in {out_dir}/")
    return result


if __name__ == "__main__":
    cli.run(main, parse_args())
