"""Draw the sample page that read_digits.py can be tried on.

Real MNIST test digits from the bundled sample, written in lines on lit,
slightly noisy paper by the same code as read_digits.py's benchmark
(benchmarks.reading.pages, its standard style). The committed
sample_data/digits_page.png and its answer, digits_page.txt, are this
script's output:

    python tools/make_digit_page.py              # writes sample_data/digits_page.png
    python tools/make_digit_page.py --out-dir runs/page --seed 3
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--seed", type=int, default=0,
                        help="which random page to draw (default: 0)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "sample_data",
                        help="folder for digits_page.png and digits_page.txt "
                             "(default: the project's sample_data)")
    return parser.parse_args(argv)


def main(args):
    import numpy as np
    from PIL import Image

    from benchmarks.reading.pages import make_page
    from digitsuite.data.datasets import SAMPLE_DIR, load_idx_folder
    from digitsuite.fileio import atomic_path, prepare_out_dir, write_text

    sample = load_idx_folder(SAMPLE_DIR)
    page, truth = make_page(np.random.default_rng(args.seed), sample["x_test"],
                            sample["y_test"])
    out_dir = prepare_out_dir(args.out_dir)
    path = out_dir / "digits_page.png"
    with atomic_path(path) as tmp:
        Image.fromarray(page).save(tmp, format="PNG", optimize=True)
    lines = [line["text"] for line in truth]
    write_text(out_dir / "digits_page.txt", "\n".join(lines) + "\n")
    print(f"wrote {path} ({page.shape[1]}x{page.shape[0]} pixels); it says: {' / '.join(lines)}")
    return lines


if __name__ == "__main__":
    cli.run(main, parse_args())
