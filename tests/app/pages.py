"""Driving the app's page in headless Chromium: launching Debian's
Chromium through Playwright, drawing with the mouse or a finger as a user
would, and timing pen-up to the answer on the page. Used by the browser
tests, tests/app/screenshot.py and benchmarks/app_bench.py."""

import contextlib
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright downloads nothing
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}  # a 6.1-inch phone held upright
DESKTOP = {"viewport": {"width": 1400, "height": 1000}}

# A '7' as mouse strokes, in pad pixels (the pad is 280x280): the bar, then the stem.
SEVEN = [[(70, 62), (210, 62)], [(210, 62), (118, 230)]]


def local_client(app):
    """An in-process client of ``app`` addressed as a browser on this
    computer addresses it (the app answers only its own Host names)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1")


@contextlib.contextmanager
def launch():
    """A headless Chromium browser (Playwright's sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def upload(page, path, one_digit=False):
    """Open the Upload tab and give it the file at ``path``, in one-digit
    mode or (default) as a page of numbers."""
    page.click("#tab-upload")
    if one_digit:
        page.check("#mode-digit")
    page.set_input_files("#file", path)


def draw(page, strokes, steps=12):
    """Draw ``strokes`` (lists of points in pad pixels) on #pad with the mouse."""
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 280
    for stroke in strokes:
        (x, y), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=steps)
        page.mouse.up()


def wait_for_answer(page):
    """Wait until every model's row shows an answer for the latest drawing."""
    page.wait_for_selector("#digit-views:not([hidden]) #model-cnn td.answer")
    page.wait_for_function("() => document.querySelectorAll('#models tbody tr').length === 4")


def draw_touch(page, strokes, steps=12):
    """Draw ``strokes`` on #pad with one finger (touch events, as a phone sends)."""
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 280
    cdp = page.context.new_cdp_session(page)

    def touch(kind, x, y):
        points = [] if kind == "touchEnd" else [
            {"x": box["x"] + x * scale, "y": box["y"] + y * scale, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    for stroke in strokes:
        touch("touchStart", *stroke[0])
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for k in range(1, steps + 1):
                touch("touchMove", x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
        touch("touchEnd", 0, 0)
    cdp.detach()


# The page marks #pad with the version of the drawing (one more per change)
# and #digit-views with the version whose answer it shows. This notes, in the
# page's own clock, when the pen last went up and when the answer for the
# drawing as it was then reached the DOM.
WATCH_PEN_UP = """() => {
  if (window.penUpTiming) return;
  const views = document.getElementById('digit-views');
  const pad = document.getElementById('pad');
  const t = window.penUpTiming = {up: null, version: null, shown: null};
  const answered = () => Number(views.dataset.drawing || 0) >= t.version;
  new MutationObserver(() => {
    if (t.up !== null && t.shown === null && answered()) t.shown = performance.now();
  }).observe(views, {attributes: true, attributeFilter: ['data-drawing']});
  document.addEventListener('pointerup', () => {
    t.up = performance.now();
    t.version = Number(pad.dataset.drawing);
    t.shown = answered() ? t.up : null;
  });
}"""


def pen_up_to_answer(page, strokes, touch=False):
    """Draw ``strokes`` and return the milliseconds from the last pen-up to
    the page showing the answer for the finished drawing."""
    page.evaluate(WATCH_PEN_UP)
    (draw_touch if touch else draw)(page, strokes)
    page.wait_for_function("() => window.penUpTiming.shown !== null")
    return page.evaluate("() => window.penUpTiming.shown - window.penUpTiming.up")
