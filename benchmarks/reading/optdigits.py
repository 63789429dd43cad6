"""The optdigits loader: real handwriting that is not MNIST, which the
reading benchmark writes into pages beside MNIST's. For measuring only."""

from pathlib import Path

import numpy as np

from digitsuite.data.datasets import NUM_CLASSES, read_unzipped
from digitsuite.errors import DataError

OPTDIGITS_CITATION = ("Alpaydin, E. and Kaynak, C. (1998). Optical Recognition of "
                      "Handwritten Digits. UCI Machine Learning Repository, CC BY 4.0")
OPTDIGITS_SIZE = 32         # each bitmap is 32x32, the digit's height filling the rows
OPTDIGITS_HEADER_LINES = 21


def load_optdigits(path):
    """The original optdigits bitmaps (``optdigits-orig.tra`` or ``.tra.gz``,
    ``.cv``, ``.wdep``...): returns (images uint8 (n, 32, 32) with ink 255
    and paper 0, labels int64 (n,)).

    The file: a text header of 21 lines, then per digit 32 lines of 32
    characters ``0``/``1`` (1 = ink) and one line holding its label (`` 7``).
    The set (1,934 digits by 30 writers in the training part) is by
    Alpaydin, E. and Kaynak, C. (1998). Optical Recognition of Handwritten
    Digits. UCI Machine Learning Repository, CC BY 4.0. It is for measuring
    how the reader does on writers it never saw: never train or tune on it.

    Raises DataError, one line naming the file, for a missing, unreadable,
    corrupt or truncated file.
    """
    path = Path(path)
    redo = "download optdigits-orig.tra(.gz) from the UCI repository again"
    if not path.exists():
        raise DataError(f"no optdigits file at {path}; pass --optdigits with the path of "
                        "optdigits-orig.tra(.gz)")
    raw = read_unzipped(path, redo)
    try:
        lines = raw.decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not an optdigits text file (byte {exc.start} is not "
                        f"ASCII); {redo}") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    header, body = lines[:OPTDIGITS_HEADER_LINES], lines[OPTDIGITS_HEADER_LINES:]
    announced = None
    for line in header:
        key, _, value = line.partition("=")
        if key.strip() == "ntot" and value.strip().isdigit():
            announced = int(value)
    per_digit = OPTDIGITS_SIZE + 1
    if not body:
        raise DataError(f"{path} holds no digits after its {OPTDIGITS_HEADER_LINES}-line "
                        f"header; it is empty or not an optdigits file, {redo}")
    if len(body) % per_digit:
        raise DataError(
            f"{path} ends inside digit {len(body) // per_digit + 1} ({len(body):,} lines "
            f"after the header, not a multiple of {per_digit}); the file is truncated, {redo}")
    n = len(body) // per_digit
    if announced is not None and announced != n:
        raise DataError(f"{path} holds {n:,} digits but its header announces ntot = "
                        f"{announced:,}; the file is truncated, {redo}")
    images = np.zeros((n, OPTDIGITS_SIZE, OPTDIGITS_SIZE), np.uint8)
    labels = np.zeros(n, np.int64)
    for k in range(n):
        start = k * per_digit
        rows = body[start:start + OPTDIGITS_SIZE]
        for r, row in enumerate(rows):
            if len(row) != OPTDIGITS_SIZE or row.strip("01"):
                line_no = OPTDIGITS_HEADER_LINES + start + r + 1
                raise DataError(
                    f"{path} line {line_no:,} (digit {k + 1}) is {row[:40]!r}, not "
                    f"{OPTDIGITS_SIZE} characters 0/1; the file is corrupt, {redo}")
        images[k] = (np.frombuffer("".join(rows).encode(), np.uint8)
                     .reshape(OPTDIGITS_SIZE, OPTDIGITS_SIZE) - ord("0")) * 255
        label = body[start + OPTDIGITS_SIZE].strip()
        if not (label.isdigit() and int(label) < NUM_CLASSES):
            line_no = OPTDIGITS_HEADER_LINES + start + OPTDIGITS_SIZE + 1
            raise DataError(f"{path} line {line_no:,} holds label {label[:20]!r} for digit "
                            f"{k + 1}, not a digit 0-9; the file is corrupt, {redo}")
        labels[k] = int(label)
    return images, labels
