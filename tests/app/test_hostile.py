"""The app against other pages in the user's browser and hostile uploads:
foreign Host names (DNS rebinding) get 400, other sites' POSTs 403, every
answer carries nosniff and frame-ancestors 'none', heavy requests are
bounded, and odd pictures of every size and shape get 2xx or one 4xx line."""

import io
import threading

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from starlette.exceptions import HTTPException

from digitsuite.app import server
from tests.app.pages import local_client
from tests.support import draw_seven, kernel_texts, odd_pictures

SEVEN_NAME = "seven.png"


@pytest.fixture(scope="module")
def seven(tmp_path_factory):
    return draw_seven(tmp_path_factory.mktemp("seven") / SEVEN_NAME).read_bytes()


def upload(client, route, data, name=SEVEN_NAME, **kwargs):
    return client.post(route, files={"file": (name, data, "image/png")}, **kwargs)


def assert_guarded(response):
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "", "[::1", "127.0.0.1:x"])
def test_a_foreign_host_name_is_refused(client, host):
    response = client.get("/api/info", headers={"host": host})
    assert response.status_code == 400
    assert response.json()["error"].startswith("this app does not answer for host")
    assert_guarded(response)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "[::1]:80"])
def test_the_apps_own_host_names_are_answered(client, host):
    response = client.get("/api/info", headers={"host": host})
    assert response.status_code == 200
    assert_guarded(response)


def test_listening_on_every_interface_answers_addresses_but_not_other_names(session):
    client = local_client(server.create_app(session, "0.0.0.0"))
    assert client.get("/api/info", headers={"host": "192.168.1.20:8000"}).status_code == 200
    assert client.get("/api/info", headers={"host": "[fe80::1]:8000"}).status_code == 200
    assert client.get("/api/info", headers={"host": "rebound.evil.example"}).status_code == 400


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"},
    {"origin": "http://127.0.0.1:9999"},  # another local app: another origin
    {"origin": "null"},                   # a sandboxed frame or a file:// page
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
])
@pytest.mark.parametrize("route", ["/api/digit", "/api/read", "/api/conv"])
def test_a_post_from_another_sites_page_is_refused(client, seven, route, headers):
    response = client.post(route, files={"file": (SEVEN_NAME, seven, "image/png")},
                           data={"kernel": "0 0 0 0 1 0 0 0 0"}, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"].startswith("requests from another site's page are refused")
    assert_guarded(response)


def test_a_post_from_the_apps_own_page_or_a_script_is_answered(client, seven):
    own = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"}
    assert upload(client, "/api/digit", seven, headers=own).status_code == 200
    assert upload(client, "/api/digit", seven).status_code == 200  # curl sends no Origin


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/info", "/api/nothing"])
def test_every_answer_tells_the_browser_not_to_sniff_or_frame(client, path):
    assert_guarded(client.get(path))


def test_heavy_requests_beyond_the_limit_wait_then_get_503():
    slots = server.HeavySlots(n=2, wait=0.2)
    entered = threading.Barrier(3)
    release = threading.Event()

    def hold():
        with slots.held():
            entered.wait()
            release.wait()

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    entered.wait()
    with pytest.raises(HTTPException) as busy:
        with slots.held():
            pass
    assert busy.value.status_code == 503
    with slots.held(heavy=False):  # a drawing does not queue behind them
        pass
    release.set()
    for thread in holders:
        thread.join()
    with slots.held():  # free again
        pass


def test_a_picture_too_large_to_decode_is_refused_before_decoding(client):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (7000, 7000), (255, 255, 255, 0)).save(buffer, "PNG")
    for route in ("/api/digit", "/api/read"):
        error = upload(client, route, buffer.getvalue(), "huge.png").json()["error"]
        assert error.startswith("huge.png is 7000x7000 RGBA pixels, which take 392 MB to "
                                "decode, over the 128 MB limit")


def test_an_eps_upload_is_not_handed_to_a_decoder(client):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n"
    response = upload(client, "/api/digit", eps, "drawing.eps")
    assert response.status_code == 400
    assert response.json()["error"].startswith("drawing.eps is not an image this suite reads")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(picture=odd_pictures())
@pytest.mark.slow
def test_any_picture_gets_an_answer_or_one_4xx_line_on_every_route(client, picture):
    name, data = picture
    for route in ("/api/digit", "/api/read", "/api/conv"):
        response = client.post(route, files={"file": (name, data, "image/png")},
                               data={"kernel": "1 0 -1 2 0 -2 1 0 -1"})
        assert response.status_code in (200, 400, 413), (route, name, response.text[:300])
        if response.status_code != 200:
            error = response.json()["error"]
            assert error and "\n" not in error and "internal error" not in error


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(kernel=kernel_texts())
def test_any_kernel_text_gets_an_answer_or_one_4xx_line(client, kernel):
    response = client.post("/api/conv", data={"kernel": kernel})
    assert response.status_code in (200, 400, 422), response.text[:300]
    body = response.json()
    if response.status_code != 200:
        assert body["error"].startswith("kernel: ") and "\n" not in body["error"]


def test_a_live_server_refuses_a_rebound_host(live_url):
    response = httpx.get(live_url + "api/info", headers={"host": "attacker.example"})
    assert response.status_code == 400


def test_a_large_picture_is_heavy_whatever_its_file_size(seven):
    from PIL import Image
    from starlette.datastructures import UploadFile

    def as_upload(data):
        return UploadFile(io.BytesIO(data), filename="x.png")

    big = io.BytesIO()
    Image.new("RGBA", (3000, 3000), "white").save(big, "PNG")  # a few KB of file
    assert len(big.getvalue()) < 100_000
    assert server.is_heavy(as_upload(big.getvalue()), server.DIGIT_MAX_SIDE)
    assert not server.is_heavy(as_upload(seven), server.DIGIT_MAX_SIDE)
    assert not server.is_heavy(as_upload(b"not a picture"), server.DIGIT_MAX_SIDE)


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, '"text"', "{",
                                     '{"test_accuracy": "high"}'])
def test_a_models_metrics_that_say_nothing_usable_leave_its_accuracy_unknown(tmp_path, content):
    # A model folder someone sent: its metrics.json may hold anything.
    from digitsuite.app import session

    (tmp_path / "metrics.json").write_text(content)
    assert session._test_accuracy(tmp_path / "metrics.json") is None
    (tmp_path / "metrics.json").write_text('{"test_accuracy": 0.991}')
    assert session._test_accuracy(tmp_path / "metrics.json") == 0.991
