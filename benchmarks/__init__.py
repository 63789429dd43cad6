"""Benchmarks of the suite against plain Keras: ``bench.py`` runs them,
``perf`` holds the measurements."""


def write_results(out_dir, stem, result, markdown):
    """Write a benchmark's figures as ``<stem>.json`` and its report as
    ``<stem>.md`` in ``out_dir``, and say where."""
    from digitsuite.fileio import write_json, write_text

    write_json(out_dir / f"{stem}.json", result)
    write_text(out_dir / f"{stem}.md", markdown)
    print(f"wrote {out_dir / stem}.json and .md")
