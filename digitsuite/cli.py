"""Shared command-line pieces: argument types, common flags, data set-up and
the entry point that turns user errors into one ``error:`` line."""

import argparse
import inspect
import os
import re
import signal
import sys
from pathlib import Path

from digitsuite.data.datasets import DRY_RUN_SIZES
from digitsuite.errors import DigitsuiteError, printable
from digitsuite.precision import PRECISIONS

DRY_RUN_TRAIN, DRY_RUN_TEST = DRY_RUN_SIZES


def whole_number(text, low, high=None):
    """Parse ``text`` as an int in ``low..high`` or raise argparse's type error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if high is not None and not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def positive_int(text):
    """argparse type: a whole number >= 1."""
    return whole_number(text, 1)


def non_negative_int(text):
    """argparse type: a whole number >= 0."""
    return whole_number(text, 0)


def digit(text):
    """argparse type: a class number 0-9."""
    try:
        return whole_number(text, 0, 9)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a digit 0-9, got {text}") from None


def number(text):
    """Parse ``text`` as a float or raise argparse's type error."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text):
    value = number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def fraction(text):
    """argparse type: a number strictly between 0 and 1."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def share(text):
    """argparse type: a number from 0 (none) up to, not including, 1."""
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and under 1, got {value}")
    return value


def auto_or_smoothing(text):
    """argparse type: 'auto', 0, or a number strictly between 0 and 1."""
    if text == "auto":
        return text
    try:
        if float(text) == 0:
            return 0.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None
    return fraction(text)


class Parser(argparse.ArgumentParser):
    """argparse with defaults shown in help and ``error:`` lines on bad flags."""

    def __init__(self, doc, **kwargs):
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                         **kwargs)

    def error(self, message):
        # argparse takes a value that starts with '-' (a negative number, a
        # kernel "-1,0,1,...") for the next flag and says only that one is
        # missing.
        flag = re.fullmatch(r"argument (--[\w-]+)(?:/[^:]*)?: expected one argument", message)
        if flag:
            message += f"; a value starting with '-' is written {flag.group(1)}=VALUE"
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        """Parse as argparse does; with --dry-run, the default folders under
        runs/ move to runs/dry-run/, so a smoke test never replaces (or is
        later taken for) a real run. Folders given on the command line stay."""
        argv = sys.argv[1:] if args is None else [str(a) for a in args]
        parsed = super().parse_args(argv, namespace)
        if getattr(parsed, "dry_run", False):
            for flag in ("--out-dir", "--runs-dir"):
                key = flag[2:].replace("-", "_")
                given = any(a == flag or a.startswith(flag + "=") for a in argv)
                value = getattr(parsed, key, None)
                if not given and value is not None:
                    setattr(parsed, key, dry_run_folder(value))
        return parsed


def dry_run_folder(folder):
    """Where a --dry-run writes instead of ``folder`` (a default under runs/)."""
    folder = Path(folder)
    if folder.is_absolute() or not folder.parts or folder.parts[0] != "runs" \
            or folder.parts[1:2] == ("dry-run",):
        return folder
    return Path("runs", "dry-run", *folder.parts[1:])


def add_reader_arg(parser):
    """--model for a benchmark of the reader: a .keras classifier, or None
    for the reader shipped in models/reader/ (with its partner and
    calibration)."""
    parser.add_argument("--model", type=Path, default=None,
                        help="the reader (default: the one shipped in models/reader/)")


def add_data_args(parser, split=True, datasets=None):
    """--dataset (one of ``datasets``, default all) and --data-dir; with
    ``split`` (scripts that train), also --val-fraction, --seed and --split-seed."""
    from digitsuite.data.datasets import DATASETS

    parser.add_argument("--dataset", choices=datasets or DATASETS, default="mnist",
                        help="dataset to use (default: mnist)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four IDX files or mnist.npz (default: "
                             "Keras cache, then download, then the bundled sample)")
    if split:
        parser.add_argument("--val-fraction", type=fraction, default=0.1,
                            help="share of the training data held out for validation "
                                 "(default: 0.1)")
        parser.add_argument("--seed", type=int, default=0,
                            help="random seed (default: 0)")
        # Two models meant to judge each other (the reader and its partner) must
        # hold out the same digits, or the pages written to compare and
        # calibrate them hold digits one of them trained on.
        parser.add_argument("--split-seed", type=int, default=None,
                            help="seed of the validation split alone (default: --seed); "
                                 "runs with the same --split-seed and different --seed "
                                 "train differently on the same digits")


def default_of(function, parameter):
    """The default of ``function``'s ``parameter``: flags take a builder's
    defaults from its signature, so each default is written once."""
    return inspect.signature(function).parameters[parameter].default


# --tensorboard without a folder: tensorboard/ under --out-dir (compared by identity).
TENSORBOARD_UNDER_OUT_DIR = Path("tensorboard")


def add_keras_training_args(parser, learning_rate, model="", epochs=40, augment="auto",
                            ema_steps=0, run_dir="--out-dir"):
    """The flags of the Keras training recipe (:func:`digitsuite.training.loop.fit`)
    and --resume, which continues the stopped run in ``run_dir``.

    ``model`` starts each help text (e.g. ``"dense net: "``) in scripts that
    train more than one kind of model.
    """
    from models import build_cnn

    dropout = default_of(build_cnn, "dropout")
    parser.add_argument("--epochs", type=positive_int, default=epochs,
                        help=f"{model}training epochs (default: {epochs})")
    parser.add_argument("--batch-size", type=positive_int, default=128,
                        help=f"{model}images per training step (default: 128)")
    parser.add_argument("--learning-rate", type=positive_float, default=learning_rate,
                        help=f"{model}peak learning rate of the warm-up + cosine schedule "
                             f"(default: {learning_rate:g})")
    parser.add_argument("--dropout", type=fraction, default=dropout,
                        help=f"{model}dropout rate after Dense 512 (default: {dropout})")
    parser.add_argument("--label-smoothing", type=auto_or_smoothing, default="auto",
                        help=f"{model}share of each training target spread evenly over all "
                             "classes, at least 0 and below 1; 'auto': the dataset's "
                             "(0 for digits, 0.1 for clothes) (default: auto)")
    parser.add_argument("--augment", choices=["auto", "reading", "none"], default=augment,
                        help=f"{model}'auto': the dataset's augmentation policy (shifts, "
                             "rotations, shear, scale and stroke width for digits; "
                             "whole-pixel shifts and flips for clothes); 'reading': "
                             "stronger, with the blur, elastic wobble, binarised ink and "
                             "low resolution of real pages (train_reader.py's); 'none': "
                             f"train on the images as they are (default: {augment})")
    parser.add_argument("--ema-steps", type=non_negative_int, default=ema_steps,
                        help=f"{model}validate, keep and save a moving average of the "
                             "weights over about this many steps (at most a tenth of the "
                             f"run); 0: the weights themselves (default: {ema_steps})")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help=f"{model}arithmetic of training: 'bfloat16' computes in "
                             "bfloat16 with float32 weights, 'float32' in float32; 'auto': "
                             "bfloat16 where the CPU (AMX or AVX512-BF16) or GPU does it "
                             "natively and a short probe finds it faster, else float32; "
                             "config.json records the choice and why (default: auto)")
    parser.add_argument("--tensorboard", type=Path, nargs="?", const=TENSORBOARD_UNDER_OUT_DIR,
                        default=None,
                        metavar="DIR",
                        help=f"{model}log the run for TensorBoard in DIR: scalars, the "
                             "learning rate, weight histograms and each epoch's feature maps "
                             "of one test digit (default: off; DIR defaults to tensorboard/ "
                             "under --out-dir)")
    parser.add_argument("--resume", action="store_true",
                        help=f"{model}continue the interrupted run in {run_dir} from its last "
                             "completed epoch, with that run's settings (default: off)")


def add_output_args(parser, default_out_dir, what="every output file", dry_run=None,
                    default_text=None):
    """--out-dir and --debug, and --dry-run with help text ``dry_run`` when given.

    ``default_out_dir`` None means a folder chosen at run time (or none),
    which ``default_text`` then describes.
    """
    out_dir = Path(default_out_dir) if default_out_dir is not None else None
    parser.add_argument("--out-dir", type=Path, default=out_dir,
                        help=f"folder for {what} (default: {default_text or out_dir})")
    if dry_run:
        moved = (f"; it writes under {dry_run_folder(out_dir)} unless --out-dir is given"
                 if out_dir is not None and dry_run_folder(out_dir) != out_dir else "")
        parser.add_argument("--dry-run", action="store_true",
                            help=f"smoke test: {dry_run}{moved} (default: off)")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks instead of one-line errors (default: off)")


def add_convention_args(parser, default):
    """--convention-share: flagged 1s and crossed 7s drawn onto training digits
    (:mod:`digitsuite.training.conventions`)."""
    parser.add_argument("--convention-share", type=share, default=default,
                        help="share of the training 1s given a flag (some a foot too) and "
                             "of the 7s given a bar, as much of the world writes them; "
                             f"digits only (default: {default})")


def with_conventions(splits, args):
    """``splits`` with --convention-share of the training 1s and 7s redrawn."""
    if not args.convention_share:
        return splits
    from digitsuite.training.conventions import with_conventions as redrawn

    return splits._replace(train=redrawn(splits.train, args.convention_share, args.seed))


def add_app_model_args(parser):
    """--runs-dir and --model: the trained runs the app (and its tools) load."""
    from digitsuite.inference.runs import DEFAULT_RUNS_DIR, model_path

    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                        help="folder with the trained runs lr/, rf/, dense/ and cnn/ "
                             f"(default: {DEFAULT_RUNS_DIR})")
    parser.add_argument("--model", type=Path, default=None,
                        help="the CNN to look into, a Keras model with 28x28x1 inputs "
                             "(default: RUNS_DIR/cnn/model.keras, i.e. "
                             f"{model_path(DEFAULT_RUNS_DIR, 'cnn')})")


def add_run_args(parser, default_out_dir):
    """The output flags of the scripts that train: --out-dir, --dry-run, --debug."""
    add_output_args(parser, default_out_dir, dry_run=f"{DRY_RUN_TRAIN} training images (the "
                    f"validation share held out of them) and {DRY_RUN_TEST} test images, "
                    "one epoch")


def load_splits(args, log=print):
    """:func:`digitsuite.data.datasets.load_splits` with the data flags of ``args``."""
    from digitsuite.data.datasets import load_splits

    return load_splits(args.dataset, args.data_dir, val_fraction=args.val_fraction,
                       seed=split_seed(args), dry_run=args.dry_run,
                       dry_run_sizes=(DRY_RUN_TRAIN, DRY_RUN_TEST), log=log)


def split_seed(args):
    """The seed that chose the validation split: --split-seed, else --seed."""
    given = getattr(args, "split_seed", None)
    return args.seed if given is None else given


def print_split_summary(splits):
    """One line: the data source and how many images train and validate."""
    from digitsuite.training.nondigits import count_nondigits

    dataset, train, val, _ = splits
    nondigits = count_nondigits(train[1])
    drawn = f" and {nondigits:,} drawn non-digits" if nondigits else ""
    print(f"data: {dataset.summary()}; training on {len(train[0]) - nondigits:,}{drawn}, "
          f"validating on {len(val[0]):,}")


# Flags that say where and how to run, not what to train: --resume keeps these.
RUN_ONLY_ARGS = ("out_dir", "resume", "debug", "distribute", "tensorboard")
# Training settings added after some runs were started, with the value that
# gives what such a run did: a run resumed from before them goes on as it began.
ADDED_SETTINGS = {"ema_steps": 0, "convention_share": 0.0, "split_seed": None}


def tensorboard_dir(args, out_dir):
    """Where ``--tensorboard`` logs a run writing to ``out_dir``; None when off."""
    if args.tensorboard is None:
        return None
    if args.tensorboard is TENSORBOARD_UNDER_OUT_DIR:
        return out_dir / TENSORBOARD_UNDER_OUT_DIR
    return args.tensorboard


def saved_args(args):
    """Every argument of ``args`` as JSON-ready values, for config.json and
    for the checkpoints a resume reads."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def restore_args(args, saved):
    """``args`` with the training settings of an earlier run put back (not
    where or how this run goes: those stay as given)."""
    restored = argparse.Namespace(**vars(args))
    added = {key: value for key, value in ADDED_SETTINGS.items() if key in vars(args)}
    for key, value in {**added, **saved}.items():
        if key not in RUN_ONLY_ARGS:
            setattr(restored, key, Path(value) if key == "data_dir" and value else value)
    return restored


def resume_if_asked(args, run_dir, strategy=None):
    """With --resume: ``(args with the stopped run's training settings put
    back, the run to resume)`` for the run in ``run_dir``; else ``(args, None)``."""
    if not args.resume:
        return args, None
    from digitsuite.training.run import resume_from

    resume = resume_from(run_dir, strategy)
    print(f"resuming {run_dir} after epoch {resume.state['epochs_done']} with the settings "
          "it was started with")
    return restore_args(args, resume.settings), resume


def train_keras_run(name, build, args, splits, run_dir, command, **options):
    """Train Keras model ``name`` (built by ``build``) with the recipe flags of
    ``args`` (:func:`add_keras_training_args`) into ``run_dir``; returns its
    metrics. ``command`` runs the script again (``python train_cnn.py``): a
    stopped run tells the user to add ``--resume --out-dir``. ``options``
    (resume, strategy, title) go to :func:`digitsuite.training.run.train_keras`."""
    from digitsuite.training.run import train_keras

    return train_keras(
        name, build, splits=splits, out_dir=run_dir, settings=saved_args(args),
        epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, dropout=args.dropout, seed=args.seed,
        augment=args.augment, label_smoothing=args.label_smoothing,
        ema_steps=args.ema_steps, precision=args.precision,
        tensorboard=tensorboard_dir(args, run_dir),
        resume_command=f"{command} --resume --out-dir {args.out_dir}", **options)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(main, args):
    """Call ``main(args)``; print user errors as one line and exit non-zero.

    SIGTERM is treated like Ctrl-C, so a killed run stops the same clean way.
    The output folders ``main`` held (:func:`digitsuite.fileio.lock_folder`)
    are let go when it returns.
    """
    from digitsuite.fileio import release_folders

    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return main(args)
    except DigitsuiteError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"error: {printable(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print("error: interrupted; files already written are complete", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # Whoever read our output (say `| head`) has gone: nothing to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:
        if getattr(args, "debug", False):
            raise
        where = f" {printable(exc.filename)}" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}; check the path and "
              "free space (--debug shows the traceback)", file=sys.stderr)
        sys.exit(1)
    finally:
        release_folders()
