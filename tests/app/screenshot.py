"""Take the README's screenshot of the app with the browser tests' tooling:
headless Debian Chromium through Playwright, a '7' drawn with the mouse,
a map of the first layer clicked for its filter, stepped over the digit.

    python -m tests.app.screenshot --runs-dir /tmp/app-runs --out docs/images/app-draw.png
"""

from pathlib import Path

from digitsuite import cli

MAX_COLOURS = 256  # a palette PNG keeps the picture small; the page has few colours


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    cli.add_app_model_args(parser)
    parser.add_argument("--out", type=Path, default=Path("docs/images/app-draw.png"),
                        help="the PNG to write (default: docs/images/app-draw.png)")
    parser.add_argument("--height", type=cli.positive_int, default=1000,
                        help="pixels of the page's top to keep (default: 1000)")
    return parser.parse_args(argv)


def main(args):
    import io

    from PIL import Image

    from digitsuite.app import server
    from digitsuite.app.session import Session
    from tests.app.pages import SEVEN, draw, launch, wait_for_answer

    session = Session(args.runs_dir, args.model)
    with server.running(server.create_app(session)) as url, launch() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": args.height})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        draw(page, SEVEN)
        wait_for_answer(page)
        first = session.analyser.map_names[0]
        page.locator(f"#layer-{first} .map").first.click()
        page.click("#step-open")
        page.wait_for_selector("#step-sum:not(:empty)")
        page.wait_for_timeout(300)  # let the last drawing's answer settle
        shot = page.screenshot()
    picture = Image.open(io.BytesIO(shot)).convert("RGB").quantize(MAX_COLOURS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1000:.0f} kB)")


if __name__ == "__main__":
    cli.run(main, parse_args())
