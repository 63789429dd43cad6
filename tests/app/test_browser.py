"""The page in headless Chromium, driven as a user drives it: draw a 7 with
the mouse, open every layer's maps and a filter, upload a page of numbers
and download its JSON, upload a file that is not a picture, and the
convolution demo with an edited kernel."""

import json

from digitsuite.inference import runs
from tests.app.pages import SEVEN, draw, wait_for_answer
from tests.support import ROOT

PAGE = ROOT / "sample_data" / "digits_page.png"


def test_drawing_a_seven_gets_a_seven_from_the_cnn_and_four_answers(page):
    draw(page, SEVEN)
    wait_for_answer(page)
    assert page.inner_text("#model-cnn td.answer") == "7"
    assert page.inner_text("#cnn-answer").startswith("7 (")
    rows = page.locator("#models tbody tr")
    assert [rows.nth(k).get_attribute("id") for k in range(4)] == [
        f"model-{name}" for name in runs.MODELS]
    for name in runs.MODELS:
        assert page.inner_text(f"#model-{name} td.answer") in list("0123456789")
    assert page.locator("#cnn-probs .row").count() == 10
    assert page.get_attribute("#cnn-probs .row.top", "data-digit") == "7"
    # The 28x28 input and the saliency overlay are drawn (not left black).
    for canvas in ("input28", "saliency"):
        assert page.evaluate(f"""() => {{
            const c = document.getElementById('{canvas}');
            const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;
            return d.some((v, i) => i % 4 !== 3 && v > 0); }}""")
    # Undo takes the stem away; the models answer again, for the bar alone.
    before = page.evaluate("() => document.getElementById('input28').toDataURL()")
    page.click("#undo")
    page.wait_for_function("before => document.getElementById('input28').toDataURL() "
                           "!== before", arg=before)
    page.click("#clear")
    page.wait_for_selector("#digit-views", state="hidden")


def test_every_layer_shows_its_maps_all_of_them_and_a_filter(page, session):
    draw(page, SEVEN)
    wait_for_answer(page)
    for name in session.analyser.map_names:
        height, width, channels = session.cnn.get_layer(name).output.shape[1:]
        layer = page.locator(f"#layer-{name}")
        assert layer.locator(".map canvas").count() == min(8, channels)
        layer.locator("button.show-all").click()
        layer = page.locator(f"#layer-{name}")
        assert layer.locator(".map canvas").count() == channels
        size = layer.locator(".map canvas").last.evaluate("c => [c.width, c.height]")
        assert size == [width, height]
    first = session.analyser.map_names[0]
    page.locator(f"#layer-{first} .map").nth(3).click()
    assert page.locator("#filter-view table.numbers td").count() == 9
    assert f"{first} map #3" in page.inner_text("#filter-view")
    pool = next(n for n in session.analyser.map_names if n not in session.analyser.filters)
    page.locator(f"#layer-{pool} .map").first.click()
    assert "has no filter" in page.inner_text("#filter-view")


def test_uploading_a_page_shows_its_numbers_and_the_json(page, client):
    expected = client.post("/api/read", files={"file": (PAGE.name, PAGE.read_bytes())}).json()
    page.click("#tab-upload")
    page.set_input_files("#file", PAGE)
    page.wait_for_selector("#read-view:not([hidden])")
    assert page.input_value("#read-text") == expected["text"]
    assert len(expected["text"].splitlines()) == 5
    assert page.inner_text("#read-report").startswith("digits_page.png (5 lines, 24 digits")
    assert page.evaluate("document.getElementById('page').width") == expected["width"]
    with page.expect_download() as download:
        page.click("#download-json")
    saved = download.value.path().read_text()
    assert json.loads(saved) == json.loads(expected["json"])
    assert download.value.suggested_filename == "digits_page.json"


def test_uploading_one_digit_shows_every_layer(page, session, tmp_path):
    from tests.support import draw_seven

    page.click("#tab-upload")
    page.check("#mode-digit")
    page.set_input_files("#file", draw_seven(tmp_path / "seven.png"))
    wait_for_answer(page)
    assert page.inner_text("#model-cnn td.answer") == "7"
    assert page.locator("#layers .layer").count() == len(session.analyser.map_names)


def test_uploading_a_text_file_shows_the_error(page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.click("#tab-upload")
    page.set_input_files("#file", notes)
    page.wait_for_selector("#upload-error:not([hidden])")
    assert page.inner_text("#upload-error").startswith(
        "notes.txt is not an image this suite reads")
    assert page.is_hidden("#read-view")


def test_the_learn_tab_filters_the_photo_with_your_kernel(page):
    page.click("#tab-learn")
    page.wait_for_selector("#conv-images img")
    assert page.locator("#conv-images figure").count() == 5
    page.fill("#kernel", "0,0,0, 0,1,0, 0,0,0")
    page.wait_for_function("() => document.querySelector('#conv-images "
                           "figure:last-child td').textContent === '0'")
    assert page.is_hidden("#conv-error")
    page.fill("#kernel", "1 2 3")
    page.wait_for_selector("#conv-error:not([hidden])")
    assert "needs 9 numbers" in page.inner_text("#conv-error")
