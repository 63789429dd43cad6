"""Atomic output files: a run killed at any moment leaves the old file or the
new one, never a half-written one."""

import contextlib
import json
import os
from pathlib import Path

from digitsuite.errors import DigitsuiteError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place on success.

    The temporary name keeps the suffix, so writers that pick a format from
    the extension (``fig.savefig``, ``model.save``) behave as for ``path``.
    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_figure(fig, path, **kwargs):
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **kwargs)
    finally:
        plt.close(fig)


def prepare_out_dir(path):
    """Create ``path`` (and parents) and check that it can be written to."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DigitsuiteError(f"--out-dir {path} is a file, not a folder; "
                              "choose another with --out-dir")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigitsuiteError(
            f"cannot create output folder {path}: {exc.strerror}; "
            "choose another with --out-dir"
        ) from exc
    if not path.is_dir() or not os.access(path, os.W_OK):
        raise DigitsuiteError(
            f"output folder {path} is not a writable folder; "
            "choose another with --out-dir"
        )
    return path
