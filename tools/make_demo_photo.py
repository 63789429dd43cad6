"""Draw the demo "photo" that conv_demo.py uses when given no --image.

A small synthetic landscape drawn with numpy and Pillow, made for this
project (no third-party picture, so no licence to track): smooth gradients,
soft clouds and a fine grain for blurring and sharpening to act on, hard
edges and thin fence stripes for edge detection, and odd sides (181x301
pixels) so that 2x2 max-pooling shows the last row and column dropped.
The committed sample_data/demo_photo.png is this script's output:

    python tools/make_demo_photo.py              # writes sample_data/demo_photo.png
    python tools/make_demo_photo.py --out-dir runs/photo
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402

HEIGHT, WIDTH = 181, 301


def draw_photo():
    """The demo landscape as a Pillow RGB image, HEIGHT x WIDTH."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rows = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    sky = (1 - rows) * np.array([70, 130, 210]) + rows * np.array([200, 225, 245])
    photo = Image.fromarray(np.broadcast_to(sky, (HEIGHT, WIDTH, 3)).astype(np.uint8))
    clouds = Image.new("L", (WIDTH, HEIGHT), 0)
    for box in ((20, 15, 90, 35), (55, 8, 120, 30), (150, 25, 215, 42)):
        ImageDraw.Draw(clouds).ellipse(box, fill=230)
    photo.paste((250, 250, 252), mask=clouds.filter(ImageFilter.GaussianBlur(4)))
    draw = ImageDraw.Draw(photo)
    draw.ellipse((225, 18, 265, 58), fill=(255, 214, 90))                      # sun
    draw.polygon([(0, 120), (60, 55), (120, 110), (175, 45), (250, 120)],
                 fill=(105, 115, 140))                                         # far hills
    draw.polygon([(120, 125), (230, 70), (301, 110), (301, 125)], fill=(85, 95, 120))
    grass = np.linspace(0.0, 1.0, HEIGHT - 120)[:, None, None]
    ground = (1 - grass) * np.array([110, 170, 70]) + grass * np.array([50, 100, 35])
    photo.paste(Image.fromarray(np.broadcast_to(ground, (HEIGHT - 120, WIDTH, 3))
                                .astype(np.uint8)), (0, 120))
    draw.rectangle((40, 95, 120, 150), fill=(220, 200, 160), outline=(60, 40, 30))  # house
    draw.polygon([(32, 95), (80, 62), (128, 95)], fill=(150, 50, 40))            # roof
    for left in (50, 95):                                                         # windows
        draw.rectangle((left, 105, left + 16, 121), fill=(240, 240, 200),
                       outline=(60, 40, 30), width=2)
        draw.line((left + 8, 105, left + 8, 121), fill=(60, 40, 30), width=2)
        draw.line((left, 113, left + 16, 113), fill=(60, 40, 30), width=2)
    draw.rectangle((73, 120, 87, 150), fill=(100, 60, 40))                       # door
    draw.rectangle((196, 110, 204, 155), fill=(90, 60, 35))                      # trunk
    draw.ellipse((175, 70, 225, 120), fill=(40, 120, 50))                        # crown
    for x in range(135, 301, 6):                                                 # fence
        draw.rectangle((x, 140, x + 2, 165), fill=(245, 245, 240))
    draw.line((135, 148, 301, 148), fill=(245, 245, 240), width=2)
    draw.line((135, 158, 301, 158), fill=(245, 245, 240), width=2)
    # Fine grain, as in a real photo, for the blur to smooth and sharpening to raise.
    grain = np.random.default_rng(0).normal(0.0, 3.0, (HEIGHT, WIDTH, 1))
    return Image.fromarray(np.clip(np.asarray(photo) + grain, 0, 255).astype(np.uint8))


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "sample_data",
                        help="folder for demo_photo.png (default: the project's sample_data)")
    return parser.parse_args(argv)


def main(args):
    from digitsuite.fileio import atomic_path, prepare_out_dir

    path = prepare_out_dir(args.out_dir) / "demo_photo.png"
    with atomic_path(path) as tmp:
        draw_photo().save(tmp, optimize=True)
    print(f"wrote {path} ({WIDTH}x{HEIGHT} pixels, {path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    cli.run(main, parse_args())
