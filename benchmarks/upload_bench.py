"""Measure the app's memory under hostile uploads: many worst-case pictures
sent at once.

Starts `python app.py` on a free local port as its own process (the shipped
reader answers; no trained runs are needed), waits until it serves, asks it
once for a small drawing (its idle size, with the models loaded), then for
each kind of upload sends --clients copies at once to /api/digit and to
/api/read and records the server's peak RSS (VmHWM, reset before each kind)
and its RSS --settle seconds after the last answer. The kinds:

- a 7,000x7,000 RGBA PNG (about 200 KB: the picture decompresses to 196 MB),
  refused from its header;
- the largest RGBA PNG the app decodes (4,000x4,000, 128 MB to decode);
- a 7,000x7,000 JPEG photo, decoded at reduced scale.

Writes <date>-upload-memory.json and .md under --out-dir, with the CPU.

    python benchmarks/upload_bench.py
    python benchmarks/upload_bench.py --clients 8 --out-dir runs/upload-bench
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere, like the top-level scripts

from digitsuite import cli  # noqa: E402

KINDS = {  # name -> (size, mode, format)
    "7000x7000 RGBA PNG (refused)": ((7000, 7000), "RGBA", "PNG"),
    "4000x4000 RGBA PNG (largest decoded)": ((4000, 4000), "RGBA", "PNG"),
    "7000x7000 JPEG photo": ((7000, 7000), "RGB", "JPEG"),
}
ROUTES = ("/api/digit", "/api/read")


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--clients", type=cli.positive_int, default=20,
                        help="uploads sent at once per kind and route (default: 20)")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds after the last answer before the settled RSS is read "
                             "(default: 5.0)")
    cli.add_output_args(parser, ROOT / "benchmarks" / "results",
                        dry_run="2 clients, one kind, one route")
    return parser.parse_args(argv)


def picture(size, mode, fmt):
    """A page-like picture: paper with a few dark strokes, encoded as ``fmt``."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(img)
    w, h = size
    for k in range(5):
        x = w * (0.1 + 0.16 * k)
        draw.line([(x, 0.4 * h), (x + 0.1 * w, 0.6 * h)], fill="black", width=w // 100)
    buffer = io.BytesIO()
    img.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def memory(pid):
    """(RSS, peak RSS) of process ``pid`` in MB."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))


def reset_peak(pid):
    """Start the kernel's peak-RSS count of ``pid`` afresh (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def start_app(runs_dir):
    """``python app.py`` on a free port; returns (process, its URL)."""
    import os
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", "0",
                            "--runs-dir", str(runs_dir)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in app.stdout:
        if "open http" in line:
            return app, line.split("open ", 1)[1].split()[0]
    raise RuntimeError(f"app.py did not start (exit {app.wait()})")


def send_at_once(url, route, data, clients):
    """``clients`` uploads of ``data`` to ``route`` at once: their status codes."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(_):
        with httpx.Client(base_url=url, timeout=600) as client:
            return client.post(route, files={"file": ("upload", data, "image/png")}).status_code

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


def run(args, runs_dir):
    import time

    from benchmarks.perf import machine

    kinds = dict(list(KINDS.items())[:1]) if args.dry_run else KINDS
    routes = ROUTES[:1] if args.dry_run else ROUTES
    clients = 2 if args.dry_run else args.clients
    app, url = start_app(runs_dir)
    try:
        small = picture((140, 140), "L", "PNG")
        assert send_at_once(url, "/api/digit", small, 1) == [200]
        idle = memory(app.pid)[0]
        rows = []
        for name, spec in kinds.items():
            data = picture(*spec)
            for route in routes:
                reset_peak(app.pid)
                start = time.perf_counter()
                codes = send_at_once(url, route, data, clients)
                seconds = time.perf_counter() - start
                time.sleep(args.settle)
                settled, peak = memory(app.pid)
                rows.append({"upload": name, "bytes": len(data), "route": route,
                             "clients": clients, "statuses": sorted(set(codes)),
                             "seconds": round(seconds, 2), "peak_rss_mb": round(peak),
                             "settled_rss_mb": round(settled), "idle_rss_mb": round(idle)})
                print(f"{name} x{clients} -> {route}: {sorted(set(codes))} in {seconds:.1f} s, "
                      f"peak {peak:,.0f} MB, settled {settled:,.0f} MB (idle {idle:,.0f} MB)",
                      flush=True)
    finally:
        app.terminate()
        app.wait()
    return {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "clients": clients,
            "rows": rows}


def report(result):
    from digitsuite.markdown import table

    m = result["machine"]
    lines = [f"# App memory under {result['clients']} uploads at once ({result['date']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores. Command: "
             "`python benchmarks/upload_bench.py`.", ""]
    lines.extend(table(
        ["upload", "size", "route", "answers", "seconds", "peak RSS (MB)",
         "settled RSS (MB)", "idle RSS (MB)"],
        [[r["upload"], f"{r['bytes'] / 1e3:,.0f} KB", r["route"],
          " ".join(map(str, r["statuses"])), r["seconds"], f"{r['peak_rss_mb']:,}",
          f"{r['settled_rss_mb']:,}", f"{r['idle_rss_mb']:,}"] for r in result["rows"]]))
    return "\n".join(lines) + "\n"


def main(args):
    import tempfile

    from benchmarks import write_results
    from digitsuite.fileio import prepare_out_dir

    out_dir = prepare_out_dir(args.out_dir)
    with tempfile.TemporaryDirectory() as runs_dir:  # no runs: the shipped reader answers
        result = run(args, runs_dir)
    stem = f"{result['date']}-upload-memory" + ("-dry-run" if args.dry_run else "")
    write_results(out_dir, stem, result, report(result))
    return result


if __name__ == "__main__":
    cli.run(main, parse_args())
