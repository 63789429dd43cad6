"""Benchmarks of the suite: ``bench.py`` races it against plain Keras
(``perf`` holds the measurements), ``app_bench.py`` times the web page,
``upload_bench.py`` measures the app's memory under hostile uploads and
``read_bench.py`` scores the reader (``reading``)."""


def write_results(out_dir, stem, result, markdown):
    """Write a benchmark's figures as ``<stem>.json`` and its report as
    ``<stem>.md`` in ``out_dir``, and say where."""
    from digitsuite.fileio import write_json, write_text

    write_json(out_dir / f"{stem}.json", result)
    write_text(out_dir / f"{stem}.md", markdown)
    print(f"wrote {out_dir / stem}.json and .md")
