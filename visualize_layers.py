"""Show what every layer of the trained CNN sees for one digit.

For a test image (by class or index) or your own picture of a digit, writes
under --out-dir: input.png, one maps_<layer>.png per convolution and pooling
layer with all its feature maps, filters_<first conv>.png, dense.png,
probabilities.png, saliency.png, overview.png, index.html, which shows
them all on one page, and report.json and report.md (the prediction, every
class's probability, each layer's output shape). Prints the prediction
and its probability. Your picture's run goes to runs/layers/<its name>/,
or <its name>-2/ and so on when that folder holds another picture's run.

    python visualize_layers.py --digit 0              # first test '0', runs/layers/digit-0/
    python visualize_layers.py --index 1234
    python visualize_layers.py --image my_seven.jpg   # dark ink on light paper or the reverse
    python visualize_layers.py --model runs/cnn-fashion/model.keras --dataset fashion_mnist

Your picture's digit is found as the page reader finds characters
(shadows, the paper's edge, dots and dashes left out; the most plausible
glyph taken; crop.png shows which) and prepared the way MNIST was made:
grey, ink as foreground, cropped to the ink, fit into 20x20 keeping its
aspect ratio, placed in 28x28 by centre of mass. A picture with no digit
in it (blank, a dot, a dash, a scribble, a shadow) is an error that says
why. The convolution and max-pooling demo on an ordinary photo is
conv_demo.py.
"""

import re
from pathlib import Path

from digitsuite import cli
from digitsuite.inference.runs import DEFAULT_RUNS_DIR, READER_MODEL, model_path

DEFAULT_MODEL = model_path(DEFAULT_RUNS_DIR, "cnn")
SHIPPED_READER = Path("models", "reader", "model.keras")  # READER_MODEL, as a user sees it
LAYERS_ROOT = DEFAULT_RUNS_DIR / "layers"
MAX_REPORT_BYTES = 2**20  # an earlier report.json larger than this is not read


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--model", type=Path, default=None,
                        help=f"trained Keras model (default: {DEFAULT_MODEL}; for MNIST, "
                             f"until you train one, the reader CNN shipped in "
                             f"{SHIPPED_READER})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--digit", type=cli.digit, default=0,
                        help="show the first test image of this class, 0-9; give "
                             "either this, --index or --image (default: 0)")
    source.add_argument("--index", type=cli.non_negative_int, default=None,
                        help="show the test image with this index (default: none)")
    source.add_argument("--image", type=Path, default=None,
                        help="show your own picture of one digit (PNG, JPEG, ...; "
                             "default: none)")
    cli.add_data_args(parser, split=False)
    cli.add_output_args(parser, None, default_text=f"{LAYERS_ROOT}/digit-D, index-N or the "
                        "image's file name", dry_run="an untrained seed CNN instead of "
                        "--model, so every picture is drawn without a trained model")
    return parser.parse_args(argv)


def pick_test_image(args):
    """The test image chosen by --digit or --index: (uint8 28x28, label, description)."""
    from digitsuite.data.datasets import load_dataset
    from digitsuite.errors import DigitsuiteError

    dataset = load_dataset(args.dataset, args.data_dir)
    x_test, y_test = dataset.x_test, dataset.y_test
    if args.index is not None:
        if args.index >= len(x_test):
            raise DigitsuiteError(
                f"--index {args.index} is out of range: the test set ({dataset.source}) "
                f"has {len(x_test):,} images, so use 0-{len(x_test) - 1}")
        index = args.index
    else:
        matches = (y_test == args.digit).nonzero()[0]
        if not len(matches):
            raise DigitsuiteError(f"the test set ({dataset.source}) has no image of class "
                                  f"{args.digit}; pick another --digit or use --index")
        index = int(matches[0])
    label = int(y_test[index])
    name = dataset.class_names[label]
    return x_test[index], label, f"test image #{index} of {len(x_test):,} (label {name})"


def pick_input(args):
    """The picture chosen by the flags: (original or None, float 28x28 input,
    label or None, description, default output folder name, the digit's box
    in the original or None)."""
    from digitsuite.data.datasets import to_model_input
    from digitsuite.errors import printable

    if args.image is not None:
        original, image, box = find_digit(args.image)
        # Letters, digits, '-' and '_' only: no spaces, no '..' out of runs/layers.
        name = re.sub(r"[^\w-]+", "_", args.image.stem).strip("_") or "image"
        return original, image, None, f"your image {printable(args.image.name)}", name, box
    pixels, label, source = pick_test_image(args)
    name = f"index-{args.index}" if args.index is not None else f"digit-{args.digit}"
    return None, to_model_input(pixels[None])[0, ..., 0], label, source, name, None


def find_digit(path):
    """The picture at ``path`` (shrunk to DIGIT_MAX_SIDE or a small one
    enlarged, as the app reads it), its digit's 28x28 input and box; prints
    the box. ImageError, naming the file, when it shows no digit."""
    from digitsuite.data import images
    from digitsuite.errors import ImageError, printable
    from digitsuite.reading import single

    grey = images.read_image(path, max_side=images.DIGIT_MAX_SIDE, min_side=images.MIN_READ_SIDE)
    try:
        found = single.find_digit(grey)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from exc
    height, width = grey.shape
    full_width, full_height = file_size(path)
    scale = full_width / width  # shrunk to DIGIT_MAX_SIDE, or a small one enlarged
    x0, y0, x1, y1 = (round(v * scale) for v in found.box)
    shrunk = (f" ({'shrunk' if scale > 1 else 'enlarged'} to {width}x{height} to be read, "
              f"where the box is {found.box})" if scale != 1 else "")
    print(f"{printable(path.name)}: the digit read is the crop x {x0}-{x1}, y {y0}-{y1} of "
          f"its {full_width}x{full_height} pixels{shrunk}; crop.png shows it")
    if found.candidates > 1:
        print(f"note: {found.candidates} characters in it could be digits; this one is the "
              "largest near the middle. To read a number, use read_digits.py")
    return grey, found.digit, found.box


def file_size(path):
    """(width, height) of the picture at ``path`` as read: upright by its
    EXIF orientation (a phone photo taken upright)."""
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
        turned = img.getexif().get(0x0112) in (5, 6, 7, 8)  # a quarter turn
    return (height, width) if turned else (width, height)


def own_folder(name, image_sha256, root=None):
    """``root``/``name`` (default root: LAYERS_ROOT), or ``name``-2, -3...
    when that folder holds the run of another picture (another file with
    the same name, whose report.json records another checksum, or a folder
    without one): a run never replaces what another picture's run left. The
    same picture's folder is used again."""
    import json

    from digitsuite.errors import DigitsuiteError

    root = LAYERS_ROOT if root is None else root
    for k in range(1, 1000):
        folder = root / (name if k == 1 else f"{name}-{k}")
        if not folder.exists():
            return folder
        report = folder / "report.json"
        try:
            if (report.is_file() and report.stat().st_size <= MAX_REPORT_BYTES
                    and json.loads(report.read_text())["image_sha256"] == image_sha256):
                return folder
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not a report this script wrote: someone else's folder
    raise DigitsuiteError(f"{root}/ holds 999 runs named {name}; choose a folder "
                          "with --out-dir")


def model_path(args):
    """The classifier file to look into (None for --dry-run's fresh seed CNN),
    checked without Keras so that a wrong --model is refused at once."""
    from digitsuite.inference.modelio import check_model_file

    if args.dry_run:
        return None
    path = args.model or DEFAULT_MODEL
    if args.model is None and not path.exists() and args.dataset == "mnist":
        # A fresh checkout: the shipped reader is the seed CNN, trained on MNIST.
        print(f"note: no {DEFAULT_MODEL} yet (python train_cnn.py trains it); showing "
              f"the layers of the reader CNN shipped in {SHIPPED_READER}")
        path = READER_MODEL
    check_model_file(path)
    return path


def load_model(path):
    """The classifier at ``path``, or a fresh seed CNN for None."""
    from digitsuite.errors import ModelFileError
    from digitsuite.inference.modelio import load_keras_model

    if path is None:
        from models import build_cnn

        return build_cnn()
    model = load_keras_model(path, expect_input_shape=(28, 28, 1))
    if not isinstance(model.output_shape, tuple) or len(model.output_shape) != 2:
        raise ModelFileError(f"{path} outputs shape {model.output_shape}; this script "
                             "needs a classifier with one vector of class scores")
    return model


def main(args):
    from digitsuite.data.datasets import CLASS_NAMES, sha256
    from digitsuite.fileio import output_set, prepare_out_dir
    from digitsuite.markdown import percent

    path = model_path(args)
    # The picture is read before Keras loads: a wrong one is refused at once.
    original, image, label, source, default_name, crop = pick_input(args)
    image_sha256 = sha256(args.image) if args.image is not None else None
    out_dir = args.out_dir
    if out_dir is None:
        out_dir = (own_folder(default_name, image_sha256) if image_sha256
                   else LAYERS_ROOT / default_name)
        if out_dir.name != default_name:
            print(f"note: {LAYERS_ROOT / default_name}/ holds another picture's run; "
                  f"this one goes to {out_dir}/")
    model = load_model(path)
    from digitsuite.visual import layerfigures, layerviz
    out_dir = prepare_out_dir(out_dir)

    result = layerviz.analyse(model, image)
    class_names = CLASS_NAMES[args.dataset]
    if len(class_names) != len(result["probabilities"]):
        class_names = [str(k) for k in range(len(result["probabilities"]))]
    with output_set(out_dir):  # the pictures and index.html land together, or none do
        files = layerfigures.write_report(out_dir, model, image, result, class_names, source,
                                         label=label, original=original, crop=crop,
                                         image_sha256=image_sha256)
    predicted = result["predicted"]
    # The softmax of one model, which read_digits.py's calibrated chance of
    # being right (two models, the glyph among its neighbours) can be far
    # below: each figure says what it is.
    what = ("an untrained CNN (--dry-run), so the answer means nothing" if path is None
            else "the model's softmax, not read_digits.py's chance of being right")
    print(f"{source}: predicted {class_names[predicted]} with probability "
          f"{percent(result['probabilities'][predicted], 2)} ({what})")
    print(f"wrote {len(files)} files; open {out_dir / 'index.html'}")
    return {"image": image, "files": files, "out_dir": out_dir, "crop": crop, **result}


if __name__ == "__main__":
    cli.run(main, parse_args())
