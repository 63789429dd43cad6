"""Train the seed CNN on MNIST (or Fashion-MNIST) and write its reports.

Writes under --out-dir: model.keras, config.json, metrics.json, report.md,
history.png and confusion.png.

    python train_cnn.py                          # default recipe, runs/cnn/
    python train_cnn.py --dataset fashion_mnist --out-dir runs/cnn-fashion
    python train_cnn.py --epochs 8 --out-dir runs/cnn-short   # short budget, same schedule
    python train_cnn.py --distribute mirrored    # every GPU of this machine
    python train_cnn.py --dry-run --out-dir /tmp/smoke
"""

import shutil
import sys

from digitsuite import cli
from digitsuite.training.distribute import STRATEGIES


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    cli.add_keras_training_args(parser, learning_rate=3e-3)
    parser.add_argument("--distribute", choices=STRATEGIES, default="none",
                        help="'mirrored': one replica per GPU of this machine (or per "
                             "logical CPU device); 'multiworker': several machines, "
                             "described by TF_CONFIG (see README); 'none': one device "
                             "(default: none)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted run in --out-dir from its last "
                             "completed epoch, with that run's settings (default: off)")
    cli.add_data_args(parser)
    cli.add_run_args(parser, "runs/cnn")
    return parser.parse_args(argv)


def main(args):
    from digitsuite.data.augment import policy_for
    from digitsuite.errors import Interrupted
    from digitsuite.evaluation.reporting import classification_metrics, run_config, write_run_report
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.inference.predict import predict_proba
    from digitsuite.inference.runs import save_model
    from digitsuite.training.distribute import make_strategy
    from digitsuite.training.loop import fit, label_smoothing_for, load_checkpoint, set_seed
    from models import build_cnn

    strategy = make_strategy(args.distribute)  # before any other TensorFlow work
    out_dir = prepare_out_dir(args.out_dir)
    checkpoints = out_dir / "checkpoint"
    resume_state = None
    if args.resume:
        with strategy.scope():
            model, resume_state = load_checkpoint(checkpoints)
        args = cli.restore_args(args, resume_state["args"])
        print(f"resuming {out_dir} after epoch {resume_state['epochs_done']} "
              "with the settings it was started with")
    set_seed(args.seed)
    dataset, train, val, (x_test, y_test) = cli.load_splits(args)
    epochs = 1 if args.dry_run else args.epochs
    policy = policy_for(args.augment, dataset.name)
    args.label_smoothing = label_smoothing_for(args.label_smoothing, dataset.name)
    print(f"data: {dataset.summary()}; training on {len(train[0]):,}, "
          f"validating on {len(val[0]):,}")
    if args.distribute != "none":
        print(f"distribute: {args.distribute}, {strategy.num_replicas_in_sync} replicas; "
              f"each step splits {args.batch_size} images between them")

    try:
        with strategy.scope():  # variables and optimizer state live on every replica
            if resume_state is None:
                model = build_cnn(num_classes=len(dataset.class_names), dropout=args.dropout)
            result = fit(model, train, val, epochs=epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, seed=args.seed, policy=policy,
                         label_smoothing=args.label_smoothing,
                         checkpoint_dir=checkpoints, resume_state=resume_state,
                         run_args=cli.saved_args(args),
                         verbose=1 if sys.stdout.isatty() else 2)
    except KeyboardInterrupt:
        raise Interrupted(cli.resume_hint(checkpoints, "train_cnn.py", out_dir)) from None

    proba = predict_proba(model, x_test)
    metrics = classification_metrics(y_test, proba, dataset.class_names)
    metrics.update(model="cnn", params=int(model.count_params()),
                   **{k: result[k] for k in ("epochs_run", "best_epoch",
                                             "best_val_accuracy", "train_seconds")})
    config = run_config(args, dataset, effective_epochs=epochs,
                        augmentation=policy.as_dict(), n_train=len(train[0]),
                        n_val=len(val[0]))
    save_model(model, out_dir / "model.keras")
    write_run_report(out_dir, "Seed CNN", config, metrics, y_test, proba,
                     dataset.class_names, history=result["history"])
    shutil.rmtree(checkpoints)
    print(f"test accuracy: {metrics['test_accuracy']:.2%} "
          f"(loss {metrics['test_loss']:.4f}, {metrics['n_test']:,} test images); "
          f"outputs in {out_dir}/")
    return metrics


if __name__ == "__main__":
    cli.run(main, parse_args())
