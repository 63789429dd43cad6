"""Benchmarks of the suite: ``bench.py`` races it against plain Keras
(``perf`` holds the measurements), ``app_bench.py`` times the web page,
``upload_bench.py`` measures the app's memory under hostile uploads and
``read_bench.py`` scores the reader (``reading``)."""


import json
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# An absolute path, or one climbing out of the folder it was typed in.
PATH = re.compile(r"(?<![\w.~<:/])(?:\.\./|/)[\w.@+-]+(?:/[\w.@+-]*)*")


def portable(text):
    """``text`` (a command, a file name) as it may be published: paths in the
    repository relative to it, the home folder as ``~``, any other path
    outside it (whose first folder is on this machine: not a URL's route)
    shortened to ``…/`` and its last part or two. A benchmark's
    figures travel to other machines; the folders of this one mean nothing
    there and tell more than they should."""
    home = str(Path.home())

    def shorten(match):
        path = match.group()
        absolute = Path(path if path.startswith("/") else (Path.cwd() / path))
        try:
            return str(Path(absolute).resolve().relative_to(ROOT))
        except (ValueError, OSError):
            pass
        if path.startswith(home + "/"):
            return "~" + path[len(home):]
        parts = [part for part in path.split("/") if part and part != ".."]
        top = Path("/" + parts[0]) if path.startswith("/") and parts else absolute
        if len(parts) < 2 or not top.exists():
            return path  # a bare name, or a URL's route: not a folder of this machine
        return "…/" + "/".join(parts[-min(2, len(parts) - 1):])

    return PATH.sub(shorten, text)


def write_portable(out_dir, stem, result, markdown):
    """Write a benchmark's figures as ``<stem>.json`` and its report as
    ``<stem>.md`` in ``out_dir``, every path made :func:`portable`."""
    from digitsuite.fileio import json_ready, write_json, write_text

    write_json(out_dir / f"{stem}.json", json.loads(portable(json.dumps(json_ready(result)))))
    write_text(out_dir / f"{stem}.md", portable(markdown))


def write_results(out_dir, stem, result, markdown):
    """:func:`write_portable`, and say where."""
    write_portable(out_dir, stem, result, markdown)
    print(f"wrote {out_dir / stem}.json and .md")


def reader_bench_args(doc, script, count, default, help, argv=None, dry_run=None,
                      more=None):
    """Parse the arguments of a benchmark that reads single digits with the
    reader (``formats_bench.py``, ``onedigit_bench.py``): --dataset,
    --data-dir, --model, ``--<count>`` (an int, ``default``, ``help``),
    --out-dir (runs/<script's name>), --dry-run (``dry_run`` is its help)
    and --debug, and what ``more(parser)`` adds; ``args.command`` is the
    command that reruns it."""
    from digitsuite import cli

    parser = cli.Parser(doc)
    cli.add_data_args(parser, split=False)
    cli.add_reader_arg(parser)
    parser.add_argument(f"--{count}", type=cli.positive_int, default=default,
                        help=f"{help} (default: {default})")
    if more is not None:
        more(parser)
    name = Path(script).stem.replace("_", "-")
    cli.add_output_args(parser, Path("runs", name), dry_run=dry_run)
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", f"benchmarks/{Path(script).name}",
                               *map(str, sys.argv[1:] if argv is None else argv)])
    return args
