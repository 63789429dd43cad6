"""The app's FastAPI application: the page, its files and four JSON routes.

- ``GET /``: the page; ``GET /static/...``: its script and style.
- ``GET /api/info``: the models (loaded, or why not and how to train them),
  the CNN's layers and filters, the colour maps, the demo's kernels.
- ``POST /api/digit`` (form field ``file``: a drawing or a picture of one
  digit): the digit found in it (:func:`find_digit`) and its ``crop`` box,
  its MNIST-style 28x28 input, every model's probabilities, the CNN's
  feature maps and saliency (:func:`digitsuite.app.views.digit`), and how
  many ``candidates`` in the picture could be digits; or, for
  a picture with no digit (blank, a dot, a dash, a scribble, a shadow),
  ``no_digit``: one line saying why, ``crop`` the closest glyph or null
  and ``boxes`` the marks it looked at, closest first.
- ``POST /api/step`` (``pixels``: the 28x28 input ``/api/digit`` returned,
  ``channel``, optional ``row`` and ``col``): one output of the CNN's first
  convolution worked out (window, weights, products, sum, bias, activation).
- ``POST /api/read`` (``file``: a photo or scan): the numbers read, as
  ``read_digits.py`` reads them (:func:`digitsuite.reading.reader.read_page`);
  or, for a page with no digit, ``no_digit``, ``crop`` and ``boxes`` as
  above (every mark set aside).
- ``POST /api/conv`` (``kernel`` text, optional ``file``): the convolution
  demo of ``conv_demo.py`` on the bundled photo or the upload.

Every error is a 4xx (or 500) response ``{"error": "one line"}``; bodies
over MAX_UPLOAD_BYTES are refused before they are read. The routes are
plain functions, so the server runs them in its thread pool: concurrent
requests are computed in parallel, each on its own arrays; at most
HEAVY_AT_ONCE of them decode a large picture or read a page at a time
(the rest wait, then get 503), so memory stays bounded however many come.

The app is local, yet any page open in the user's browser can reach it:
requests naming another ``Host`` (DNS rebinding) get 400, POSTs from another
site's page get 403, and every answer tells the browser not to sniff types
or frame the page (:class:`SameSite`).
"""

import contextlib
import ctypes
import io
import ipaddress
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from digitsuite.app import views
from digitsuite.data import images
from digitsuite.errors import DigitsuiteError, NoDigit
from digitsuite.reading import single
from digitsuite.reading.reader import PAGE_MAX_SIDE  # pages read as read_digits.py reads them

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the largest picture accepted
FORM_OVERHEAD = 64 * 1024  # room for the multipart framing and the other fields
# Pictures are shrunk to at most this many pixels a side before one digit is
# prepared, or a page read, so that one request cannot hold the server long.
DIGIT_MAX_SIDE = images.DIGIT_MAX_SIDE
CONV_MAX_SIDE = 480   # the convolution demo's pictures, as conv_demo.py --max-side
# The page loads nothing from elsewhere, and no other page may frame it; the
# browser is told to refuse both.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-resource-policy", b"same-origin")]
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Decoding a large upload or reading a page holds up to about
# images.MAX_DECODE_BYTES and one core: this many at once, the rest wait.
HEAVY_AT_ONCE = 2
HEAVY_WAIT_SECONDS = 30
LIGHT_DECODE_BYTES = 4_000_000  # a drawing from the page takes a few KB to decode


class UploadLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413,
    from the Content-Length header before reading any of it, or while
    reading a body sent without one. Also adds ``Server-Timing: app;dur=ms``
    (the time until the response starts)."""

    def __init__(self, app, max_bytes):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            response = error_response(
                413 if length.isdigit() else 400,
                too_large(int(length)) if length.isdigit() else "bad Content-Length header")
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, too_large(received))
            return message

        async def timed_send(message):
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                message["headers"] = [*message.get("headers", []),
                                      (b"server-timing", f"app;dur={ms:.2f}".encode())]
            await send(message)

        await self.app(scope, limited_receive, timed_send)


class SameSite:
    """ASGI middleware for an app that only this computer's browser should
    drive: answer only the ``Host`` names in ``hosts`` (400 otherwise: a
    rebound DNS name reaching 127.0.0.1 is refused), refuse a POST whose
    ``Origin`` or ``Sec-Fetch-Site`` says another site sent it (403), and
    send :data:`SECURITY_HEADERS` with every response, errors included.

    With ``any_ip`` (the app listens on every interface) a Host that is an
    IP address is answered too: rebinding needs a name, not an address.
    """

    def __init__(self, app, hosts, any_ip=False):
        self.app, self.hosts, self.any_ip = app, {h.lower() for h in hosts}, any_ip

    def host_allowed(self, host):
        parts = urlsplit(f"//{host}")
        name = parts.hostname
        if name is None or parts.port is None and parts.netloc.endswith(":"):
            return False
        if name in self.hosts:
            return True
        if not self.any_ip:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def guarded_send(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        host = headers.get("host", "")
        problem = None
        try:
            allowed = self.host_allowed(host)
        except ValueError:  # a port that is not a number, say
            allowed = False
        if not allowed:
            problem = (400, f"this app does not answer for host {host[:100]!r}; open it as "
                            "http://127.0.0.1 (or the --host it was started with)")
        elif scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none") \
                    or (origin is not None and origin != f"http://{host}"):
                problem = (403, "requests from another site's page are refused; use the "
                                "app's own page")
        if problem is not None:
            return await error_response(*problem)(scope, receive, guarded_send)
        await self.app(scope, receive, guarded_send)


def too_large(size):
    return (f"the upload is {size / 1e6:.1f} MB, over the {MAX_UPLOAD_BYTES / 1e6:.0f} MB "
            "limit; shrink the picture or save it as JPEG")


def error_response(status, message):
    """``{"error": message}`` on one line, with ``status``."""
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def upload_name(file, default="the upload"):
    """The uploaded file's own name (no folders, printable, short) for messages."""
    name = re.sub(r"[^\w .,()+-]", "_", Path(file.filename or "").name)[:80].strip()
    return name or default


def decode(file, max_side, colour=False, min_side=images.MIN_READ_SIDE):
    """An uploaded picture as a float array in 0-1 (see images.read_image),
    a small one to be read enlarged as read_digits.py enlarges it
    (``min_side``): the boxes answered are in its pixels, and ``width`` and
    ``height`` say so."""
    name = upload_name(file)
    data = file.file.read()
    if not data:
        raise DigitsuiteError(f"{name} is empty (0 bytes); give a PNG or JPEG image")
    return images.decode_image(io.BytesIO(data), name, colour=colour, max_side=max_side,
                               min_side=min_side), name


class HeavySlots:
    """At most ``n`` heavy requests (a large upload decoded, a page read) at
    once; the others wait up to ``wait`` seconds, then get 503."""

    def __init__(self, n=HEAVY_AT_ONCE, wait=HEAVY_WAIT_SECONDS):
        self.slots, self.wait = threading.BoundedSemaphore(n), wait

    @contextlib.contextmanager
    def held(self, heavy=True):
        if not heavy:
            yield
            return
        if not self.slots.acquire(timeout=self.wait):
            raise HTTPException(503, "the app is busy reading other pictures; try again in "
                                     "a moment")
        try:
            yield
        finally:
            self.slots.release()
            return_freed_memory()


def is_heavy(file, max_side):
    """True for an upload that takes more memory to decode than a drawing."""
    return images.decode_cost(file.file, max_side) > LIGHT_DECODE_BYTES


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: the allocator's own policy stands
        return None


_LIBC = _libc()


def keep_large_buffers_returnable():
    """Have glibc serve every buffer of 1 MB or more straight from the system
    (mmap), and give it back when freed. Its default raises that threshold
    after each large free, so decoded pictures would stay in the server's
    heap after the request, one arena per thread."""
    if _LIBC is not None:
        _LIBC.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD


def return_freed_memory():
    """Hand memory freed by a heavy request back to the system (glibc)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def create_app(session, host="127.0.0.1"):
    """The FastAPI application serving ``session``'s models.

    It answers requests addressed to ``host`` (the address it listens on)
    or to this computer's own names (:class:`SameSite`)."""
    keep_large_buffers_returnable()
    wildcard = host in ("0.0.0.0", "::", "")
    hosts = {*LOCAL_HOSTS, host.strip("[]")}
    if wildcard:
        hosts |= {socket.gethostname(), socket.getfqdn()}
    heavy = HeavySlots()
    app = FastAPI(title="digitsuite", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(UploadLimit, max_bytes=MAX_UPLOAD_BYTES + FORM_OVERHEAD)
    # Added last, so it runs first: a foreign request is refused unread.
    app.add_middleware(SameSite, hosts=hosts, any_ip=wildcard)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(HTTPException)
    def http_error(request, exc):
        return error_response(exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request, exc):
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"] if part != "body")
        return error_response(422, f"{where}: {problem['msg']}")

    @app.exception_handler(DigitsuiteError)
    def user_error(request, exc):
        return error_response(400, exc)

    @app.exception_handler(Exception)
    def server_error(request, exc):
        return error_response(500, f"internal error ({type(exc).__name__}); the server "
                                   "keeps serving, and its log has the details")

    def need_cnn():
        if session.analyser is None:
            raise HTTPException(409, f"no CNN to read with: {session.slots['cnn'].problem}")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/api/info")
    def info():
        return views.info(session, MAX_UPLOAD_BYTES)

    @app.post("/api/digit")
    def digit(file: UploadFile = File(...)):
        if not any(slot.available for slot in session.slots.values()):
            raise HTTPException(409, "no trained model to answer with: "
                                     + session.slots["cnn"].problem)
        with heavy.held(is_heavy(file, DIGIT_MAX_SIDE)):
            grey, name = decode(file, DIGIT_MAX_SIDE)
            height, width = grey.shape
            try:
                found = find_digit(session, grey)
            except NoDigit as exc:
                # An answer, not an error: the picture shows no digit, and why.
                return {"no_digit": str(exc), "crop": exc.box, "boxes": exc.boxes,
                        "width": width, "height": height}
            except DigitsuiteError as exc:
                raise DigitsuiteError(f"{name}: {exc}") from exc
        return {**views.digit(session, found.digit), "no_digit": None, "crop": found.box,
                "candidates": found.candidates, "width": width, "height": height}

    @app.post("/api/step")
    def step(pixels: str = Form(...), channel: int = Form(...),
             row: int | None = Form(None), col: int | None = Form(None)):
        need_cnn()
        return views.convolution_step(session, pixels, channel, row, col)

    @app.post("/api/read")
    def read(file: UploadFile = File(...)):
        from digitsuite.reading.reader import named, read_page

        if session.page_reader is None:
            need_cnn()
        with heavy.held():
            grey, name = decode(file, PAGE_MAX_SIDE)
            height, width = grey.shape
            try:
                found, _ = read_page(session.page_reader, grey)
            except NoDigit as exc:
                # An answer, as in /api/digit: no digit on the page, why, and
                # the marks set aside.
                return {"no_digit": str(exc), "crop": exc.box, "boxes": exc.boxes,
                        "width": width, "height": height}
            except DigitsuiteError as exc:
                raise DigitsuiteError(f"{name}: {exc}") from exc
            return views.reading(named(name, grey, found), grey)

    @app.post("/api/conv")
    def conv(kernel: str = Form(...), file: UploadFile | None = File(None)):
        from digitsuite.visual.convdemo import DEMO_PHOTO, parse_kernel

        try:
            weights = parse_kernel(kernel)
        except ValueError as exc:
            raise DigitsuiteError(f"kernel: {exc}") from exc
        with heavy.held():
            if file is None:
                picture, name = images.read_image(DEMO_PHOTO, colour=True,
                                                  max_side=CONV_MAX_SIDE), DEMO_PHOTO.name
            else:
                # Convolved as it is: the demo shows the picture's own pixels.
                picture, name = decode(file, CONV_MAX_SIDE, colour=True, min_side=None)
            return views.conv_demo(picture, weights, name)

    return app


def find_digit(session, grey):
    """The one digit of an upload or a drawing (:func:`single.find_digit`),
    judged by the reader model where there is one (:func:`single.is_digit`):
    a :class:`single.Found`, or :class:`NoDigit` saying why not."""
    if session.page_reader is None:
        return single.find_digit(grey)
    return single.read_digit(session.page_reader, grey)[0]


def bind(host, port):
    """A socket listening on ``host``:``port`` (0: any free port), before
    the server starts (connections wait until it does). Raises
    DigitsuiteError when it cannot be had (say, the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or exc
        raise DigitsuiteError(f"cannot listen on {host} port {port}: {reason}; choose "
                              "another --port (or --host)") from exc
    return sock


def url(sock):
    """The page's address for a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app):
    """A uvicorn server for ``app``, quiet but for warnings; ``.run(sockets=[sock])``."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))



@contextlib.contextmanager
def running(app, host="127.0.0.1", port=0):
    """Serve ``app`` from a background thread for the block; yields its URL.
    (For the tests, the benchmark and screenshots; app.py serves in front.)"""
    sock = bind(host, port)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app's server did not start")
        time.sleep(0.05)
    try:
        yield url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
