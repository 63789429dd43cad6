"""Driving the app's page in headless Chromium: launching Debian's
Chromium through Playwright and drawing with the mouse as a user would.
Used by the browser tests and by tests/app/screenshot.py."""

import contextlib
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright downloads nothing
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]

# A '7' as mouse strokes, in pad pixels (the pad is 280x280): the bar, then the stem.
SEVEN = [[(70, 62), (210, 62)], [(210, 62), (118, 230)]]


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
