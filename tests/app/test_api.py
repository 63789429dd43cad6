"""The app's JSON API without a browser: a drawing's views equal the
suite's own analysis, a page reads as read_digits.py reads it, the
convolution demo, every bad input's 4xx and one-line message, missing and
corrupt models, concurrent clients, and app.py's command line."""

import base64
import io
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from benchmarks.app_bench import drawings
from digitsuite.app import server
from digitsuite.app.session import OTHERS, Session
from digitsuite.data import images
from digitsuite.data.features import make_features
from digitsuite.inference import predict, runs
from digitsuite.reading import reader, single
from digitsuite.visual import convdemo, layerviz
from tests.app.pages import local_client
from tests.support import ROOT, amount_page, draw_seven, fails_with_one_line, run_script

PAGE = ROOT / "sample_data" / "digits_page.png"


def png(picture):
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def post(client, route, data, name="picture.png"):
    return client.post(route, files={"file": (name, data, "image/png")})


def unpack(b64, shape):
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(shape)


def test_info_lists_the_four_models_and_the_cnn_layers(client, session):
    info = client.get("/api/info").json()
    assert [m["name"] for m in info["models"]] == list(runs.MODELS)
    assert all(m["available"] and m["problem"] is None for m in info["models"])
    layers = info["cnn"]["layers"]
    assert [layer["name"] for layer in layers] == layerviz.map_layer_names(session.cnn)
    for name, filters in session.analyser.filters.items():
        np.testing.assert_allclose(info["cnn"]["filters"][name]["values"], filters, atol=1e-4)
    assert {len(base64.b64decode(lut)) for lut in info["colormaps"].values()} == {768}


def test_a_drawing_gets_the_suites_analysis_from_all_four_models(client, session, tmp_path):
    path = draw_seven(tmp_path / "seven.png")
    response = post(client, "/api/digit", path.read_bytes(), "your drawing")
    assert response.status_code == 200, response.text
    assert float(response.headers["server-timing"].split("dur=")[1]) > 0
    result = response.json()
    # The input is the suite's MNIST-style preparation, in 8-bit pixels.
    pixels = np.rint(images.load_digit(path)[1] * 255).astype(np.uint8)
    np.testing.assert_array_equal(unpack(result["input"], (28, 28)), pixels)
    expected = layerviz.analyse(session.cnn, pixels / np.float32(255))
    answers = {m["name"]: m for m in result["models"]}
    assert list(answers) == list(runs.MODELS)
    assert answers["cnn"]["predicted"] == expected["predicted"] == 7
    np.testing.assert_allclose(answers["cnn"]["probabilities"], expected["probabilities"],
                               atol=1e-4)
    for name in OTHERS:
        run = session.slots[name].run
        want = (run.model.predict_proba(make_features(pixels[None], run.features))
                if run.features else predict.predict_proba(run.model, pixels[None]))
        np.testing.assert_allclose(answers[name]["probabilities"], want[0], atol=1e-4)
        assert answers[name]["predicted"] == int(np.argmax(want[0]))
    assert [layer["name"] for layer in result["layers"]] == list(expected["maps"])
    for layer in result["layers"]:
        maps = expected["maps"][layer["name"]]  # (h, w, channels)
        assert layer["shape"] == list(maps.shape)
        shown = unpack(layer["maps"], (maps.shape[-1], *maps.shape[:2])).astype(float)
        scaled = (np.moveaxis(maps, -1, 0) - layer["low"]) / (layer["high"] - layer["low"])
        np.testing.assert_allclose(shown, 255 * scaled, atol=1.01)
        assert sorted(layer["order"]) == list(range(maps.shape[-1]))
        assert layer["order"][0] == int(np.argmax(maps.mean(axis=(0, 1))))
    np.testing.assert_allclose(unpack(result["saliency"], (28, 28)),
                               255 * expected["saliency"], atol=1.01)


def test_a_page_reads_as_read_digits_json_reads_it(client, reader_model, capsys):
    readings = run_script("read_digits", [PAGE, "--json", "--model", reader_model])
    assert json.loads(capsys.readouterr().out) == readings
    response = post(client, "/api/read", PAGE.read_bytes(), PAGE.name)
    assert response.status_code == 200, response.text
    result = response.json()
    expected = [{**readings[0], "file": PAGE.name}]
    assert json.loads(result["json"]) == expected
    assert result["reading"] == expected[0]
    assert result["text"] == "\n".join(reader.written_lines(expected[0]))
    assert len(expected[0]["lines"]) == 5 and len(expected[0]["digits"]) == 24
    assert result["report"].startswith("digits_page.png (5 lines, 24 digits")
    assert (result["width"], result["height"]) == Image.open(PAGE).size


def test_the_convolution_demo_on_the_bundled_photo_and_an_upload(client):
    photo = images.read_image(convdemo.DEMO_PHOTO, colour=True)
    result = client.post("/api/conv", data={"kernel": "0,-1,0 -1,4,-1 0,-1,0"}).json()
    height, width, _ = photo.shape
    assert result["source"] == "demo_photo.png" and result["shape"] == f"{height}x{width}x3"
    assert [f["name"] for f in result["filtered"]] == [*convdemo.KERNELS, "your kernel"]
    assert result["filtered"][-1]["kernel"] == [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]
    assert result["valid_shape"] == f"{height - 2}x{width - 2}x3"
    assert result["pooled_shape"] == f"{height // 2}x{width // 2}x3"
    pooled = Image.open(io.BytesIO(base64.b64decode(result["pooled"].split(",")[1])))
    assert pooled.size == (width // 2, height // 2)
    assert result["example"]["valid"] == [[63, 72, 81], [108, 117, 126], [153, 162, 171]]
    grey = png(Image.new("L", (64, 48), 200))
    upload = client.post("/api/conv", data={"kernel": "1 1 1 1 1 1 1 1 1"},
                         files={"file": ("mine.png", grey, "image/png")}).json()
    assert upload["source"] == "mine.png" and upload["shape"] == "48x64x1"


def seven_png():
    buffer = io.BytesIO()
    buffer.name = "seven.png"  # Pillow picks the format from the name
    draw_seven(buffer)
    return buffer.getvalue()


SEVEN = seven_png()
BAD_UPLOADS = {
    "text file": ("notes.txt", b"just text", "notes.txt is not an image this suite reads"),
    "empty file": ("empty.png", b"", "empty.png is empty (0 bytes)"),
    "one pixel": ("dot.png", png(Image.new("L", (1, 1), 255)), "dot.png is only 1x1 pixels"),
    "blank canvas": ("your drawing", png(Image.new("L", (140, 140), 255)),
                     "your drawing: no digit found"),
    "truncated": ("cut.png", SEVEN[:len(SEVEN) // 2], "cut.png cannot be decoded"),
    "decompression bomb": ("bomb.png", png(Image.new("1", (9000, 9000))),
                           "bomb.png is 9000x9000 pixels, over the 50-megapixel limit"),
}


@pytest.mark.parametrize("route", ["/api/digit", "/api/read"])
def test_every_bad_upload_gets_a_400_with_one_line(client, route):
    for case, (name, data, message) in BAD_UPLOADS.items():
        if case == "blank canvas":
            continue  # an answer: no digit (test_no_digit_is_an_answer_with_its_reason)
        error = one_line_error(post(client, route, data, name), 400)
        assert error.startswith(message), (case, error)
    assert post(client, route, SEVEN).status_code == 200  # and the server keeps serving


def one_line_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    return body["error"]


def test_other_bad_requests_get_a_4xx_with_one_line(client):
    assert "over the 10 MB limit" in one_line_error(
        post(client, "/api/digit", b"\0" * (11 * 1024 * 1024)), 413)
    assert one_line_error(client.post("/api/digit"), 422) == "file: Field required"
    assert one_line_error(client.post("/api/conv", data={"kernel": "1 2 3"}),
                          400).startswith("kernel: needs 9 numbers")
    assert one_line_error(client.post("/api/conv", data={"kernel": "a b"}),
                          400).startswith("kernel: expected numbers")
    assert one_line_error(client.get("/api/nothing"), 404) == "Not Found"
    assert one_line_error(client.get("/api/digit"), 405) == "Method Not Allowed"
    # The server keeps serving.
    assert client.get("/api/info").status_code == 200


def test_a_body_without_length_is_cut_off_at_the_limit(live_url):
    def chunks():
        yield b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
        for _ in range(12):
            yield b"\0" * (1024 * 1024)

    response = httpx.post(live_url + "api/digit", content=chunks(), timeout=60,
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert "over the 10 MB limit" in one_line_error(response, 413)


def test_a_fresh_checkout_draws_with_the_shipped_reader_and_says_how_to_add_the_rest(tmp_path):
    runs_dir = tmp_path / "runs"
    session = Session(runs_dir)
    client = local_client(server.create_app(session))
    info = client.get("/api/info").json()
    models = {model["name"]: model for model in info["models"]}
    for name in OTHERS:
        assert not models[name]["available"]
        assert models[name]["problem"].endswith(runs.train_command(name, runs_dir))
    assert info["baselines_command"] == f"python baselines.py --out-dir {runs_dir}"
    cnn = models["cnn"]
    assert cnn["available"] and cnn["title"] == "CNN (shipped reader)"
    assert cnn["path"] == str(runs.READER_MODEL) and cnn["accuracy"] > 0.99
    assert cnn["stand_in"].endswith(runs.train_command("cnn", runs_dir))
    result = post(client, "/api/digit", SEVEN).json()
    assert [m["name"] for m in result["models"]] == ["cnn"]
    assert result["models"][0]["predicted"] == 7
    assert [layer["name"] for layer in result["layers"]][0] == "conv1"
    # Pages still read and the Learn tab works.
    assert post(client, "/api/read", PAGE.read_bytes(), PAGE.name).json()["reading"]["digits"]
    assert client.post("/api/conv", data={"kernel": "1 0 -1 1 0 -1 1 0 -1"}).status_code == 200
    # With no reader either, a drawing gets a 409 naming the command.
    bare = local_client(server.create_app(Session(runs_dir, reader=tmp_path / "none.keras")))
    error = one_line_error(post(bare, "/api/digit", SEVEN), 409)
    assert error.startswith("no trained model to answer with") and "train_cnn.py" in error


def test_a_digit_comes_with_its_crop_its_dense_layers_and_its_margin(client, session):
    picture = Image.new("L", (120, 90), 255)
    picture.paste(Image.open(io.BytesIO(SEVEN)).convert("L").resize((30, 40)), (50, 20))
    result = post(client, "/api/digit", png(picture)).json()
    grey = images.decode_image(io.BytesIO(png(picture)), "x")
    found = single.find_digit(grey)
    digit, box = found.digit, found.box
    assert result["crop"] == box and (result["width"], result["height"]) == (120, 90)
    assert result["no_digit"] is None
    assert 48 <= box[0] < box[2] <= 82 and 18 <= box[1] < box[3] <= 62
    expected = session.analyse(np.rint(digit * 255).astype(np.uint8))
    assert [d["name"] for d in result["dense"]] == list(expected["dense"])
    for layer in result["dense"]:
        values = expected["dense"][layer["name"]]
        shown = unpack(layer["values"], values.shape).astype(float)
        scale = (values - layer["low"]) / (layer["high"] - layer["low"])
        np.testing.assert_allclose(shown, 255 * scale, atol=1.01)
        assert layer["active"] == int((values > 0).sum())
    cnn = result["models"][-1]
    ranked = np.argsort(cnn["probabilities"])[::-1]
    assert cnn["second"] == ranked[1]
    assert cnn["margin"] == pytest.approx(
        cnn["probabilities"][ranked[0]] - cnn["probabilities"][ranked[1]], abs=2e-4)


def drawn(draw, size=(140, 140)):
    picture = Image.new("L", size, 255)
    draw(ImageDraw.Draw(picture))
    return png(picture)


@pytest.mark.parametrize("case, picture, reason", [
    ("blank pad", lambda d: None, "the picture is blank"),
    ("a dot", lambda d: d.ellipse([60, 60, 70, 70], fill=0), "only specks or a dot"),
    ("a short dash", lambda d: d.line([(55, 70), (80, 71)], fill=0, width=10),
     "only a dash"),
    ("a dash", lambda d: d.line([(30, 70), (110, 73)], fill=0, width=10), "only a dash"),
    ("a scribble over the pad", lambda d: d.line(
        [tuple(p) for p in np.random.default_rng(2).uniform(15, 125, (12, 2))],
        fill=0, width=10), "only a scribble"),
])
def test_no_digit_is_an_answer_with_its_reason(client, case, picture, reason):
    response = post(client, "/api/digit", drawn(picture), "your drawing")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["no_digit"].startswith(f"no digit found: {reason}"), (case, result)
    assert "models" not in result and "input" not in result  # no class, however confident
    assert (result["width"], result["height"]) == (140, 140)
    # The same shape of answer as /api/read's: the page draws either.
    assert result["crop"] == (result["boxes"][0] if result["boxes"] else None)
    if case != "blank pad":
        x0, y0, x1, y1 = result["crop"]  # the mark that came closest
        assert 10 <= x0 < x1 <= 130 and 10 <= y0 < y1 <= 130


@pytest.mark.parametrize("case, picture, reason, marks", [
    ("blank page", lambda d: None, "the picture is blank", 0),
    ("a dot", lambda d: d.ellipse([150, 90, 166, 106], fill=0), "only a dot or a blob", 1),
])
def test_a_page_with_no_digit_is_an_answer_too(client, case, picture, reason, marks):
    response = post(client, "/api/read", drawn(picture, (320, 200)), "page.png")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["no_digit"].startswith(f"no digit found: {reason}"), (case, result)
    assert "reading" not in result and (result["width"], result["height"]) == (320, 200)
    assert len(result["boxes"]) == marks and result["crop"] == (
        result["boxes"][0] if marks else None)
    if marks:
        x0, y0, x1, y1 = result["crop"]
        assert 148 <= x0 < x1 <= 168 and 88 <= y0 < y1 <= 108


def test_the_text_to_copy_keeps_an_amounts_marks(client):
    page = Image.fromarray(np.where(amount_page(), 0, 255).astype(np.uint8))
    result = post(client, "/api/read", png(page), "amount.png").json()
    assert result["text"] == "\n".join(reader.written_lines(result["reading"]))
    assert result["reading"]["lines"][0].isdigit()       # the JSON's digits alone...
    assert "," in result["text"] and "." in result["text"]  # ...the text as written


def test_a_shadowed_photo_of_one_digit_gets_the_digits_crop(client):
    photo = Image.new("L", (400, 300), 215)
    photo.paste(45, (0, 0, 120, 300))       # a hand's shadow down the left side
    photo.paste(30, (0, 0, 400, 18))        # the table beyond the paper's top edge
    photo.paste(Image.open(io.BytesIO(SEVEN)).convert("L").resize((75, 100)), (230, 110))
    result = post(client, "/api/digit", png(photo), "photo.png").json()
    assert result["no_digit"] is None, result
    x0, y0, x1, y1 = result["crop"]
    assert 230 <= x0 < x1 <= 305 and 110 <= y0 < y1 <= 210
    assert result["models"][-1]["name"] == "cnn" and result["models"][-1]["predicted"] == 7
    assert result["candidates"] == 1  # the shadow and the table's edge are no candidates


def test_a_convolution_step_on_the_digit_equals_the_feature_map(client, session):
    result = post(client, "/api/digit", SEVEN).json()
    pixels = unpack(result["input"], (28, 28))
    first = session.analyser.filters_layer
    maps = session.analyse(pixels)["maps"][first]  # (26, 26, filters)
    step = client.post("/api/step", data={"pixels": result["input"], "channel": 3,
                                          "row": 12, "col": 7}).json()
    assert (step["row"], step["col"], step["out_shape"]) == (12, 7, list(maps.shape[:2]))
    np.testing.assert_allclose(step["window"], pixels[12:15, 7:10] / 255, atol=1e-6)
    np.testing.assert_allclose(step["weights"], session.analyser.filters[first][..., 3],
                               atol=1e-6)
    assert step["output"] == pytest.approx(float(maps[12, 7, 3]), abs=1e-5)
    strongest = client.post("/api/step", data={"pixels": result["input"], "channel": 3}).json()
    assert strongest["output"] == pytest.approx(float(maps[..., 3].max()), abs=1e-5)
    for data, message in [
            ({"pixels": "***", "channel": 0}, "pixels: not base64"),
            ({"pixels": base64.b64encode(b"12").decode(), "channel": 0},
             "pixels: 2 bytes, not the 784 of a 28x28 digit"),
            ({"pixels": result["input"], "channel": 99}, f"{first} has filters 0 to"),
            ({"pixels": result["input"], "channel": 0, "row": 26, "col": 0},
             f"{first}'s maps are 26x26; no position (26, 0)"),
            ({"pixels": result["input"], "channel": "x"}, "channel: Input should be")]:
        status = 422 if data["channel"] == "x" else 400
        assert one_line_error(client.post("/api/step", data=data), status).startswith(message)


def test_a_corrupt_model_is_reported_and_the_others_answer(tmp_path, app_runs):
    runs_dir = tmp_path / "runs"
    shutil.copytree(app_runs / "lr", runs_dir / "lr")
    shutil.copytree(app_runs / "rf", runs_dir / "rf")
    (runs_dir / "rf" / "model.skops").write_bytes(b"not a model")
    cnn = tmp_path / "model.keras"
    cnn.write_bytes(b"not a model either")
    client = local_client(server.create_app(Session(runs_dir, model=cnn)))
    problems = {m["name"]: m["problem"] for m in client.get("/api/info").json()["models"]}
    assert problems["lr"] is None
    assert "is not a skops model file" in problems["rf"]
    assert "not a .keras model (not a zip archive)" in problems["cnn"]
    result = post(client, "/api/digit", SEVEN).json()
    assert [m["name"] for m in result["models"]] == ["lr"] and result["layers"] == []
    no_reader = local_client(server.create_app(Session(runs_dir, model=cnn, reader=cnn)))
    assert "no CNN to read with" in one_line_error(post(no_reader, "/api/read", SEVEN), 409)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pixels=st.binary(max_size=900), channel=st.integers(-5, 100),
       position=st.one_of(st.none(), st.tuples(st.integers(-3, 40), st.integers(-3, 40))))
def test_a_step_on_any_pixels_and_position_is_an_answer_or_one_error_line(
        client, pixels, channel, position):
    data = {"pixels": base64.b64encode(pixels).decode(), "channel": channel}
    if position is not None:
        data["row"], data["col"] = position
    response = client.post("/api/step", data=data)
    if response.status_code == 200:
        step = response.json()
        assert len(pixels) == 784 and 0 <= step["row"] < step["out_shape"][0]
        assert step["output"] >= 0  # through the ReLU
    else:  # 422 for an empty field, which the form parser reads as none
        assert response.status_code in (400, 422)
        one_line_error(response, response.status_code)


def test_eight_clients_at_once_get_the_answers_of_one_at_a_time(live_url):
    pngs = drawings(8)

    def ask(client, data):
        response = post(client, "/api/digit", data)
        assert response.status_code == 200, response.text
        result = response.json()
        return result["input"], result["models"], result["layers"], result["saliency"]

    with httpx.Client(base_url=live_url, timeout=60) as client:
        alone = [ask(client, data) for data in pngs]

    def one_client(k):  # each client asks for all eight, starting at a different one
        order = [(k + i) % len(pngs) for i in range(len(pngs))]
        with httpx.Client(base_url=live_url, timeout=60) as client:
            return {i: ask(client, pngs[i]) for i in order}

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(one_client, range(8)))
    assert len({m[1][-1]["predicted"] for m in alone}) > 1  # not all the same digit
    for answers in together:
        for i, answer in answers.items():
            assert answer == alone[i]


def test_app_py_flags_and_a_taken_port(capsys):
    import app

    args = app.parse_args([])
    assert (args.host, args.port, args.runs_dir, args.model) == (
        "127.0.0.1", 8000, runs.DEFAULT_RUNS_DIR, None)
    assert "must be from 0 to 65535" in fails_with_one_line(capsys, "app", ["--port", "70000"])
    taken = server.bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        error = fails_with_one_line(capsys, "app", ["--port", port])
    finally:
        taken.close()
    assert error.startswith(f"error: cannot listen on 127.0.0.1 port {port}")


def test_app_py_starts_on_a_fresh_checkout_and_says_how_to_train(tmp_path):
    runs_dir = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", "0", "--runs-dir", str(runs_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.strip())
            if "open http" in line:
                break
        url = lines[-1].split("open ")[1].split()[0]
        info = httpx.get(url + "api/info", timeout=30).json()
        page = httpx.get(url, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert lines[:3] == [f"{runs.TITLES[name]}: not trained yet (no "
                         f"{runs.model_path(runs_dir, name)}); train it with: "
                         f"{runs.train_command(name, runs_dir)}" for name in OTHERS]
    assert lines[3].startswith(f"CNN (shipped reader): {runs.READER_MODEL}, test accuracy ")
    assert lines[3].endswith(f"train your own with: {runs.train_command('cnn', runs_dir)}")
    assert [model["available"] for model in info["models"]] == [False, False, False, True]
    assert page.status_code == 200 and '<canvas id="pad"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_forest_answers_a_few_images_as_scikit_learn_does(session, sample_test_set):
    run = session.slots["rf"].run
    digits = sample_test_set[0][:runs.FEW_IMAGES]
    features = make_features(digits, run.features)
    np.testing.assert_allclose(run.predict_proba(digits), run.model.predict_proba(features),
                               rtol=0, atol=1e-12)
