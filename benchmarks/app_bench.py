"""Time the web app's draw requests, as the page sends them while you draw,
and what a user feels: pen-up to the answer on the page.

Starts the app (digitsuite.app) on a free local port with the models of
--runs-dir (and --model), then sends --requests draw requests: a
140x140 PNG of a test digit, answered with the 28x28 input, the four
models' probabilities, every feature map of the CNN and its saliency. It
does this with 1 and then 8 clients sending at once, and records the
server's time per request (from its Server-Timing header: from the request
to the start of the response) and the round trip seen by the client.
Then it draws --drawings digits with the mouse in headless Chromium
(Debian's /usr/bin/chromium through Playwright, a 1400x1000 window) and
times each from the last pen-up to the page showing the answer for the
finished drawing. It writes every figure as p50/p95 to <date>-app.json and
.md under --out-dir, with the CPU and the machine's load.

    python benchmarks/app_bench.py --runs-dir runs
    python benchmarks/app_bench.py --runs-dir runs --requests 200
    python benchmarks/app_bench.py --dry-run --runs-dir runs --out-dir runs/bench-smoke
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402

DRAWING_SIDE = 140  # what the page sends (app.js SEND_SIDE)
DRY_RUN_REQUESTS = 16
DRY_RUN_DRAWINGS = 3


def drawing_count(text):
    """argparse type: a whole number of drawings, 0 or more."""
    return cli.whole_number(text, 0)


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    cli.add_app_model_args(parser)
    parser.add_argument("--requests", type=cli.positive_int, default=200,
                        help="draw requests per concurrency level (default: 200)")
    parser.add_argument("--clients", type=cli.positive_int, nargs="+", default=[1, 8],
                        help="concurrency levels: clients sending at once (default: 1 8)")
    parser.add_argument("--drawings", type=drawing_count, default=32,
                        help="digits drawn in Chromium and timed from pen-up to the answer "
                             "on the page, 0 for none (default: 32)")
    cli.add_output_args(parser, ROOT / "benchmarks" / "results", what="the result files",
                        dry_run=f"{DRY_RUN_REQUESTS} requests per level, "
                                f"{DRY_RUN_DRAWINGS} drawings",
                        default_text="benchmarks/results")
    return parser.parse_args(argv)


def drawings(count):
    """``count`` PNGs like the page's: bundled test digits, dark on white, 140x140."""
    import io

    import numpy as np
    from PIL import Image

    from digitsuite.data.datasets import load_idx_folder

    test = load_idx_folder(ROOT / "sample_data" / "mnist-t10k-split")["x_test"]
    digits = test[np.arange(count) % len(test)]
    pngs = []
    for digit in digits:
        picture = Image.fromarray(255 - digit).resize((DRAWING_SIDE, DRAWING_SIDE),
                                                      Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


def timed_requests(url, pngs, clients):
    """Send every PNG once, from ``clients`` threads; returns [(server ms, round-trip ms)]."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def send(chunk):
        times = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for png in chunk:
                start = time.perf_counter()
                response = client.post("/api/digit",
                                       files={"file": ("drawing.png", png, "image/png")})
                trip = (time.perf_counter() - start) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"draw request failed: {response.text}")
                server = float(response.headers["server-timing"].split("dur=")[1])
                times.append((server, trip))
        return times

    chunks = [pngs[k::clients] for k in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        return [t for times in pool.map(send, chunks) for t in times]


def pen_up_times(url, count):
    """Draw ``count`` 7s with the mouse in headless Chromium, each shifted a
    little, and return the milliseconds from each one's pen-up to the page
    showing its answer (:func:`tests.app.pages.pen_up_to_answer`), and the
    browser's version."""
    from digitsuite.errors import DigitsuiteError
    from tests.app.pages import CHROMIUM, DESKTOP, SEVEN, launch, pen_up_to_answer

    if not CHROMIUM.exists():
        raise DigitsuiteError(f"no Chromium at {CHROMIUM} to time drawings in: "
                              "apt-get install -y chromium, or pass --drawings 0")

    def shifted(k):
        dx, dy = 8 * (k % 5 - 2), 8 * (k // 5 % 3 - 1)
        return [[(x + dx, y + dy) for x, y in stroke] for stroke in SEVEN]

    times = []
    with launch() as browser:
        page = browser.new_page(**DESKTOP)
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        for k in range(count + 1):  # the first one warms the page up and is not counted
            page.click("#clear")
            page.wait_for_selector("#digit-views", state="hidden")
            ms = pen_up_to_answer(page, shifted(k))
            if k:
                times.append(ms)
        page.context.close()
        return times, browser.version


def summarise_pen_up(times, version):
    import numpy as np

    return {"drawings": len(times), "p50_ms": round(float(np.median(times)), 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1),
            "max_ms": round(float(np.max(times)), 1),
            "browser": f"Chromium {version}, headless, 1400x1000"}


def summarise(times, seconds):
    import numpy as np

    server, trip = np.array(times).T
    return {"requests": len(times), "server_ms_p50": round(float(np.median(server)), 2),
            "server_ms_p95": round(float(np.percentile(server, 95)), 2),
            "round_trip_ms_p50": round(float(np.median(trip)), 2),
            "round_trip_ms_p95": round(float(np.percentile(trip, 95)), 2),
            "requests_per_second": round(len(times) / seconds, 1)}


def load(averages):
    return " / ".join(f"{v:g}" for v in averages)


def report(results):
    """The Markdown page of a run."""
    from digitsuite.markdown import table

    rows = [[r["clients"], r["requests"], r["server_ms_p50"], r["server_ms_p95"],
             r["round_trip_ms_p50"], r["round_trip_ms_p95"], r["requests_per_second"]]
            for r in results["levels"]]
    machine = results["machine"]
    pen_up = results.get("pen_up")
    felt = [] if not pen_up else [
        "## Pen-up to the answer on the page", "",
        f"{pen_up['drawings']} '7's drawn with the mouse in {pen_up['browser']}, each "
        "timed in the page's clock from the last pointerup to the DOM showing the answer "
        "for the finished drawing:", "",
        *table(["drawings", "p50 ms", "p95 ms", "max ms"],
               [[pen_up["drawings"], pen_up["p50_ms"], pen_up["p95_ms"], pen_up["max_ms"]]],
               ["right"] * 4), ""]
    return "\n".join([
        f"# App draw requests, {results['date']}", "",
        f"Command: `{results['command']}`", "",
        f"Machine: {machine.get('cpu', 'CPU')}, {machine['cpus']} cores, load average "
        f"{load(machine['load_before'])} "
        f"before and {load(machine['load_after'])} after (1, 5, 15 minutes); TensorFlow "
        f"{machine['tensorflow']}. Models: {results['models']}.", "",
        "Each request: a 140x140 PNG drawing -> MNIST-style 28x28 input, the four models' "
        "probabilities, every CNN feature map and the saliency map. Server time is from the "
        "request to the start of the response (Server-Timing); round trip is the client's.",
        "", *table(["clients", "requests", "server p50 ms", "server p95 ms", "round trip p50 ms",
                    "round trip p95 ms", "requests/s"], rows, ["right"] * 7), "", *felt])


def main(args):
    import datetime
    import os
    import time

    from benchmarks import write_results
    from benchmarks.perf import machine
    from digitsuite.app import server
    from digitsuite.app.session import Session
    from digitsuite.backend import tf
    from digitsuite.fileio import prepare_out_dir

    requests = DRY_RUN_REQUESTS if args.dry_run else args.requests
    drawings_count = min(args.drawings, DRY_RUN_DRAWINGS) if args.dry_run else args.drawings
    session = Session(args.runs_dir, args.model)
    print("\n".join(session.summary()))
    pngs = drawings(requests)
    levels = []
    with server.running(server.create_app(session)) as url:
        load_before = [round(v, 2) for v in os.getloadavg()]
        timed_requests(url, pngs[:10], 1)  # warm-up: thread pool, connections, caches
        for clients in args.clients:
            start = time.perf_counter()
            times = timed_requests(url, pngs, clients)
            levels.append({"clients": clients, **summarise(times, time.perf_counter() - start)})
            print(f"{clients} client(s): server p50 {levels[-1]['server_ms_p50']} ms, "
                  f"p95 {levels[-1]['server_ms_p95']} ms; round trip p50 "
                  f"{levels[-1]['round_trip_ms_p50']} ms", flush=True)
        pen_up = None
        if drawings_count:
            pen_up = summarise_pen_up(*pen_up_times(url, drawings_count))
            print(f"pen-up to answer on the page: p50 {pen_up['p50_ms']} ms, "
                  f"p95 {pen_up['p95_ms']} ms ({pen_up['drawings']} drawings)", flush=True)
    date = datetime.date.today().isoformat()
    results = {
        "date": date, "command": " ".join(["python", "benchmarks/app_bench.py",
                                           *sys.argv[1:]]),
        "machine": {"cpu": machine()["cpu"], "cpus": os.cpu_count(),
                    "load_before": load_before,
                    "load_after": [round(v, 2) for v in os.getloadavg()],
                    "tensorflow": tf.__version__},
        "models": ", ".join(f"{slot.title} ({'loaded' if slot.available else 'missing'})"
                            for slot in session.slots.values()),
        "levels": levels, "pen_up": pen_up}
    out_dir = prepare_out_dir(args.out_dir)
    stem = f"{date}-app" + ("-dry-run" if args.dry_run else "")
    write_results(out_dir, stem, results, report(results))
    return results


if __name__ == "__main__":
    cli.run(main, parse_args())
