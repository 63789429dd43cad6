"""Train the baselines beside the CNN: logistic regression, a random forest
and a dense network, on the same data, split and seed as train_cnn.py.

Each model writes under --out-dir/<model>/: the fitted model (model.skops
for scikit-learn, loaded safely with skops; model.keras for the dense net),
config.json, metrics.json, report.md and confusion.png (the dense net also
history.png). Logistic regression and the forest read deskewed pixels by
default (--features); the dense net trains with the CNN's augmentation.

    python baselines.py                          # all three, runs/lr, runs/rf, runs/dense
    python baselines.py --models lr rf --rf-trees 500
    python baselines.py --dry-run --out-dir /tmp/smoke
"""

import shutil

from digitsuite import cli

MODELS = ("lr", "rf", "dense")


def parse_args(argv=None):
    from digitsuite.data.features import FEATURES

    parser = cli.Parser(__doc__)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="which baselines to train (default: lr rf dense)")
    parser.add_argument("--features", choices=list(FEATURES), default="deskew",
                        help="input of logistic regression and the random forest: "
                             "'deskew' straightens slanted digits first, 'pixels' uses "
                             "them as they are (default: deskew)")
    parser.add_argument("--lr-c", type=cli.positive_float, default=1.0,
                        help="logistic regression: inverse regularisation strength C "
                             "(default: 1.0)")
    parser.add_argument("--rf-trees", type=cli.positive_int, default=300,
                        help="random forest: number of trees (default: 300)")
    cli.add_keras_training_args(parser, learning_rate=2e-3, model="dense net: ")
    parser.add_argument("--resume", action="store_true",
                        help="dense net: continue its interrupted run in --out-dir/dense "
                             "from the last completed epoch, with that run's settings "
                             "(default: off)")
    cli.add_data_args(parser)
    cli.add_run_args(parser, "runs")
    return parser.parse_args(argv)


def main(args):
    from digitsuite.data.augment import policy_for
    from digitsuite.errors import Interrupted
    from digitsuite.evaluation.reporting import classification_metrics, run_config, write_run_report
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.inference.runs import MODEL_FILES, TITLES, predict_proba, save_model
    from digitsuite.training.baselines import count_parameters, train_baseline
    from digitsuite.training.loop import label_smoothing_for, load_checkpoint, set_seed

    prepare_out_dir(args.out_dir)
    resume = None
    if args.resume:  # only the dense net has epochs to resume
        resume = load_checkpoint(args.out_dir / "dense" / "checkpoint")
        args = cli.restore_args(args, resume[1]["args"])
        args.models = ["dense"]
        print(f"resuming the dense net after epoch {resume[1]['epochs_done']} with the "
              "settings it was started with")
    dataset, train, val, (x_test, y_test) = cli.load_splits(args)
    policy = policy_for(args.augment, dataset.name)
    args.label_smoothing = label_smoothing_for(args.label_smoothing, dataset.name)
    print(f"data: {dataset.summary()}; training on {len(train[0]):,}, "
          f"validating on {len(val[0]):,}")

    results = {}
    for name in dict.fromkeys(args.models):
        out_dir = prepare_out_dir(args.out_dir / name)
        checkpoints = out_dir / "checkpoint" if name == "dense" else None
        set_seed(args.seed)  # each model starts from the seed, whichever ran before
        print(f"{name}: training the {TITLES[name].lower()} ...", flush=True)
        try:
            model, result = train_baseline(name, args, train, val,
                                           len(dataset.class_names), policy,
                                           log=lambda line: print(line, flush=True),
                                           checkpoint_dir=checkpoints, resume=resume)
        except KeyboardInterrupt:
            if checkpoints is None:
                raise
            raise Interrupted(cli.resume_hint(
                checkpoints, "baselines.py --models dense", args.out_dir)) from None
        print(f"{name}: trained in {result['train_seconds']:.1f} s", flush=True)

        features = None if name == "dense" else args.features
        proba = predict_proba(model, x_test, features)
        params, params_kind = count_parameters(model)
        metrics = classification_metrics(y_test, proba, dataset.class_names)
        metrics.update(model=name, params=params, params_kind=params_kind,
                       **{k: v for k, v in result.items() if k != "history"})
        if features is None:
            extra = dict(effective_epochs=metrics["epochs_run"],
                         augmentation=policy.as_dict())
        else:
            extra = dict(features=features, estimator_params={
                k: v for k, v in model.get_params().items()
                if v is None or isinstance(v, (int, float, str, bool))})
        config = run_config(args, dataset, model=name, n_train=len(train[0]),
                            n_val=len(val[0]), **extra)
        save_model(model, out_dir / MODEL_FILES[name])
        write_run_report(out_dir, TITLES[name], config, metrics, y_test, proba,
                         dataset.class_names, history=result.get("history"))
        if checkpoints is not None:
            shutil.rmtree(checkpoints)
        print(f"{name}: test accuracy {metrics['test_accuracy']:.2%} (validation "
              f"{result['val_accuracy']:.2%}); outputs in {out_dir}/", flush=True)
        results[name] = metrics
    return results


if __name__ == "__main__":
    cli.run(main, parse_args())
