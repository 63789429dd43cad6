"""What a convolution and a max-pool do to an ordinary colour photo.

Applies 3x3 kernels (edge detection, sharpen, box blur and a custom kernel
from --kernel) to a picture with Keras' convolution op, shows 'valid'
versus 'same' padding on a 5x5 example with every number written out, and
halves the picture with 2x2 max-pooling, printing the shapes. Writes
convolution.png, padding.png and pooling.png under --out-dir, with
report.json and report.md (the kernels, the shapes, the example's numbers). With no
--image it uses the bundled sample_data/demo_photo.png, so it runs offline.

    python conv_demo.py
    python conv_demo.py --image holiday.jpg --kernel "0,-1,0, -1,4,-1, 0,-1,0"
    python conv_demo.py --kernel="-1,0,1, -2,0,2, -1,0,1"   # '=' when it starts with '-'
"""

import argparse
from pathlib import Path

from digitsuite import cli
from digitsuite.visual.convdemo import DEMO_PHOTO, SOBEL_X, parse_kernel

DEFAULT_OUT = Path("runs/conv_demo")
DRY_RUN_SIDE = 96


def kernel_arg(text):
    """argparse type for --kernel."""
    try:
        return parse_kernel(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--image", type=Path, default=DEMO_PHOTO,
                        help="colour or grey picture to filter (default: the bundled "
                             "sample_data/demo_photo.png)")
    parser.add_argument("--kernel", type=kernel_arg, default=parse_kernel(SOBEL_X),
                        help="custom kernel: 9 numbers (3x3) or 25 (5x5), rows top to "
                             "bottom, separated by commas or spaces; write --kernel=-1,... "
                             f"when it starts with a minus (default: \"{SOBEL_X}\", a Sobel "
                             "filter for vertical edges)")
    parser.add_argument("--max-side", type=cli.positive_int, default=800,
                        help="shrink larger pictures so neither side exceeds this many "
                             "pixels (default: 800)")
    cli.add_output_args(parser, DEFAULT_OUT, dry_run=f"the picture shrunk to at most "
                        f"{DRY_RUN_SIDE} pixels a side")
    return parser.parse_args(argv)


def main(args):
    import numpy as np

    from digitsuite.data.images import read_image
    from digitsuite.errors import printable
    from digitsuite.fileio import output_set, prepare_out_dir, save_figure, write_json, write_text
    from digitsuite.visual import convdemo

    max_side = min(args.max_side, DRY_RUN_SIDE) if args.dry_run else args.max_side
    image = read_image(args.image, colour=True, max_side=max_side)  # (h, w, 1 or 3)
    out_dir = prepare_out_dir(args.out_dir)
    default = np.array_equal(args.kernel, parse_kernel(SOBEL_X))
    own = "Sobel x (default --kernel)" if default else "custom (--kernel)"
    demo = convdemo.run_demo(image, args.kernel, own)
    results, valid, example, pooled = (demo[k] for k in ("filtered", "valid", "example",
                                                         "pooled"))

    name = printable(args.image.name)
    data, markdown = convdemo.report(name, image, demo)
    with output_set(out_dir):  # the figures and the report land together, or none do
        save_figure(convdemo.plot_kernels(image, results, name),
                    out_dir / "convolution.png", dpi=convdemo.DPI)
        save_figure(convdemo.plot_padding(example), out_dir / "padding.png",
                    dpi=convdemo.DPI)
        save_figure(convdemo.plot_pooling(image, pooled), out_dir / "pooling.png",
                    dpi=convdemo.DPI)
        write_json(out_dir / "report.json", data)
        write_text(out_dir / "report.md", markdown)

    shape = convdemo.shape_text
    same = results[own][1]
    side = args.kernel.shape[0]
    print(f"picture: {name}, {shape(image)} (height x width x channels)")
    print(f"{side}x{side} convolution: 'same' {shape(image)} -> {shape(same)}, "
          f"'valid' {shape(image)} -> {shape(valid)}")
    print(f"padding example: 5x5 input -> 'valid' {shape(example['valid'])}, "
          f"'same' {shape(example['same'])}")
    print(f"2x2 max-pool: {shape(image)} -> {shape(pooled)}")
    print(f"figures in {out_dir}/: {', '.join(convdemo.FIGURES)}; report.md and .json")
    return {"image": image, "outputs": {n: out for n, (_, out) in results.items()},
            "valid": valid, "example": example, "pooled": pooled}


if __name__ == "__main__":
    cli.run(main, parse_args())
