"""Train the seed CNN on MNIST (or Fashion-MNIST) and write its reports.

Writes under --out-dir: model.keras, config.json, metrics.json, report.md,
history.png and confusion.png.

    python train_cnn.py                          # default recipe, runs/cnn/
    python train_cnn.py --dataset fashion_mnist --out-dir runs/cnn-fashion
    python train_cnn.py --epochs 8 --out-dir runs/cnn-short   # short budget, same schedule
    python train_cnn.py --precision float32      # exact float32 arithmetic, on any CPU
    python train_cnn.py --convention-share 0.35  # + flagged 1s, crossed 7s (the reader's partner)
    python train_cnn.py --distribute mirrored    # every GPU of this machine
    python train_cnn.py --tensorboard            # then: tensorboard --logdir runs/cnn/tensorboard
    python train_cnn.py --dry-run --out-dir runs/smoke
"""

from digitsuite import cli
from digitsuite.training.distribute import STRATEGIES

# The default recipe's length, with a moving average of the weights
# (chosen on full MNIST's validation split: docs/training-recipe.md).
CNN_EPOCHS = 24


def parse_args(argv=None):
    from digitsuite.training import EMA_STEPS

    parser = cli.Parser(__doc__)
    cli.add_keras_training_args(parser, learning_rate=3e-3, epochs=CNN_EPOCHS,
                                ema_steps=EMA_STEPS)
    parser.add_argument("--distribute", choices=STRATEGIES, default="none",
                        help="'mirrored': one replica per GPU of this machine (or per "
                             "logical CPU device); 'multiworker': several machines, "
                             "described by TF_CONFIG (see README); 'none': one device "
                             "(default: none)")
    cli.add_convention_args(parser, 0.0)
    cli.add_data_args(parser)
    cli.add_run_args(parser, "runs/cnn")
    args = parser.parse_args(argv)
    if args.convention_share and args.dataset != "mnist":
        parser.error("--convention-share redraws 1s and 7s: it is for --dataset mnist only")
    return args


def main(args):
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.training.distribute import make_strategy
    from digitsuite.training.run import run_files
    from models import build_cnn

    strategy = make_strategy(args.distribute)  # before any other TensorFlow work
    # A bad --out-dir stops the run before any work.
    prepare_out_dir(args.out_dir, run_files("cnn"))
    args, resume = cli.resume_if_asked(args, args.out_dir, strategy)
    splits = cli.with_conventions(cli.load_splits(args), args)
    cli.print_split_summary(splits)
    if args.distribute != "none":
        print(f"distribute: {args.distribute}, {strategy.num_replicas_in_sync} replicas; "
              f"each step splits {args.batch_size} images between them")
    metrics = cli.train_keras_run("cnn", build_cnn, args, splits, args.out_dir,
                                  "python train_cnn.py", resume=resume, strategy=strategy,
                                  title="Seed CNN")
    print(f"test accuracy: {metrics['test_accuracy']:.2%} "
          f"(loss {metrics['test_loss']:.4f}, {metrics['n_test']:,} test images); "
          f"outputs in {args.out_dir}/")
    return metrics


if __name__ == "__main__":
    cli.run(main, parse_args())
