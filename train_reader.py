"""Train the reader model: the seed CNN trained for reading real pages.

Same architecture as train_cnn.py (237,482 parameters), trained for the
digits read_digits.py finds on real pages rather than for MNIST's test
split: augmentation aimed at other writers, pens and scanners (slant,
aspect, stroke width, elastic distortion, blur, binarised ink, low
resolution; the "reading" policy in digitsuite/data/augment.py),
ways of writing that MNIST's writers hardly used (1s with a flag or a
foot, crossed 7s; digitsuite/training/conventions.py), and non-digits
(dashes, dots, printed patterns, digits cut in the wrong place, touching
pairs; digitsuite/training/nondigits.py) taught to give no confident
answer. Writes the same files as train_cnn.py under --out-dir;
model.keras holds the weights without the optimizer's state (about 1 MB).

The model shipped in models/reader/ was trained on the official full MNIST
with the defaults (docs/read-digits.md). A run written into models/ records
no path of this machine, since it is committed; any other keeps its paths:

    python train_reader.py --out-dir models/reader       # full MNIST, downloaded
    python train_reader.py --dry-run --out-dir runs/reader-smoke
"""

import shlex
import sys

from digitsuite import cli
from digitsuite.training import EMA_STEPS

NONDIGIT_SHARE = 0.1   # of the training images
CONVENTION_SHARE = 0.35  # of the training 1s and of the 7s
READER_EPOCHS = 20


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    cli.add_keras_training_args(parser, learning_rate=3e-3, epochs=READER_EPOCHS,
                                augment="reading", ema_steps=EMA_STEPS)
    parser.add_argument("--nondigit-share", type=cli.fraction, default=NONDIGIT_SHARE,
                        help="share of the training images that are non-digits with an "
                             f"even target (default: {NONDIGIT_SHARE})")
    cli.add_convention_args(parser, CONVENTION_SHARE)
    cli.add_data_args(parser, datasets=["mnist"])
    cli.add_run_args(parser, "runs/reader")
    args = parser.parse_args(argv)
    # Recorded in config.json: the command that reproduces the model.
    args.command = shlex.join(["python", "train_reader.py",
                               *map(str, sys.argv[1:] if argv is None else argv)])
    return args


def main(args):
    from digitsuite.evaluation.reporting import make_run_portable, ships_with_project
    from digitsuite.fileio import prepare_out_dir
    from digitsuite.inference.modelio import drop_training_state
    from digitsuite.reading.confidence import CALIBRATION_FILE
    from digitsuite.training.nondigits import with_nondigits
    from digitsuite.training.run import run_files
    from models import build_cnn

    # A bad --out-dir stops the run before any work.
    prepare_out_dir(args.out_dir, run_files("cnn"))
    args, resume = cli.resume_if_asked(args, args.out_dir)
    splits = cli.load_splits(args)
    splits = cli.with_conventions(splits, args)
    splits = splits._replace(train=with_nondigits(splits.train, args.nondigit_share, args.seed))
    cli.print_split_summary(splits)
    metrics = cli.train_keras_run("cnn", build_cnn, args, splits, args.out_dir,
                                  "python train_reader.py", resume=resume, title="Reader CNN")
    drop_training_state(args.out_dir / "model.keras")  # small enough to ship in the repo
    if ships_with_project(args.out_dir):  # retrained in place: no paths of this machine
        make_run_portable(args.out_dir)
    if (args.out_dir / CALIBRATION_FILE).exists():
        print(f"note: {args.out_dir}/{CALIBRATION_FILE} was fit for the model this run "
              "replaced, and the reader refuses it beside this one; fit it again with: "
              f"python benchmarks/calibrate_reader.py --model {args.out_dir}/model.keras "
              "--partner PARTNER.keras --data-dir DIR")
    print(f"test accuracy on MNIST: {metrics['test_accuracy']:.2%} "
          f"({metrics['n_test']:,} test images); outputs in {args.out_dir}/; "
          "score its reading with: python benchmarks/read_bench.py "
          f"--model {args.out_dir}/model.keras")
    return metrics


if __name__ == "__main__":
    cli.run(main, parse_args())
