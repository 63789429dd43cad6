"""A rerunnable benchmark for reading numbers off a page: synthetic pages
written with real handwritten digits, read by
:mod:`digitsuite.reading.reader` end to end.

Two sources of digits are written into pages the same way
(:mod:`benchmarks.reading.pages`) and reported side by side:

- MNIST's held-out test digits, the writers, pens, scanner and preparation
  the model trained on;
- optdigits (when its file is at hand): 1,934 digits by 30 other people,
  written on forms and scanned as 32x32 bitmaps (Alpaydin, E. and Kaynak,
  C. (1998). Optical Recognition of Handwritten Digits. UCI Machine
  Learning Repository, CC BY 4.0). It only measures: nothing is trained or
  tuned on it, or the figure would stop telling how the reader does on
  writing it never saw.

Each page's truth (every digit's ink box, the punctuation marks and the
decimal separator of each number) is kept, so the reading can be scored:

- per-digit accuracy: true digits found (a read box overlapping theirs) and
  read correctly, over all true digits;
- exact-number accuracy: lines read as one line with exactly the true
  digits, overall, by length and for 5-digit numbers;
- for amounts with punctuation, the share of numbers whose decimal
  separator the reading reports correctly (``reading["numbers"]``);
- digits and lines found vs. expected, the share shown as '?', and the error
  rate of the digits shown.

:data:`CONDITIONS` varies one thing at a time (pen, blur, slant, light,
polarity, spacing, size; printed patterns, guide lines, box fields,
punctuation, touching digits, marker/ballpoint/pencil, low resolution,
phone photos), each reported on its own; a timing figure reads pages of ten
numbers end to end.
"""

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.reading.pages import (
    ABLATION_CONDITIONS,
    CONDITION_NOTES,
    CONDITIONS,
    MNIST_BITMAP_DRAWING,
    MNIST_DRAWING,
    OPTDIGITS_DRAWING,
    STANDARD,
    Drawing,
    bitmaps,
    make_page,
)
from digitsuite.errors import ImageError
from digitsuite.markdown import table
from digitsuite.reading import confidence, reader
from digitsuite.reading.steps import ALL, NAMES, NONE

EXACT_LENGTH = 5      # the headline exact-number figure is for numbers this long
MATCH_IOU = 0.3       # a read box this close to a true digit's box found it
TIMING_NUMBERS = 10   # the timing page: this many numbers...
TIMING_DIGITS = (5, 8)  # ...of this many digits each
MNIST_CITATION = ("LeCun, Y., Cortes, C. and Burges, C.J.C. The MNIST database of "
                  "handwritten digits, CC BY-SA 3.0")


# --------------------------------------------------------------------------
# Scoring


def box_iou(a, b):
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def true_digits(truth):
    """A page truth's digits as (line, place, digit, box), in reading order."""
    return [(i, j, int(ch), box) for i, line in enumerate(truth)
            for j, (ch, box) in enumerate(zip(line["text"], line["boxes"]))]


def pair_digits(true, read):
    """Pair true digits (:func:`true_digits`) with read ones (the reading's
    ``digits``) one to one, best box overlap first, IoU at least MATCH_IOU:
    {true index: read index}."""
    pairs = sorted(((box_iou(t[3], r["box"]), a, b) for a, t in enumerate(true)
                    for b, r in enumerate(read)), reverse=True)
    match, used = {}, set()
    for iou, a, b in pairs:
        if iou < MATCH_IOU:
            break
        if a not in match and b not in used:
            match[a] = b
            used.add(b)
    return match


def judged_numbers(truth, reading, true=None, match=None, where=None):
    """Each read number as (confidence, right, vouched): right when its
    digits are exactly one true number's, all read correctly, in order,
    nothing missing or added. A number read from a rule, a margin or a
    speck is never right. ``true``, ``match`` and ``where`` (what
    :func:`true_digits`, :func:`pair_digits` and :func:`number_places`
    give) are computed when not given."""
    true = true_digits(truth) if true is None else true
    match = pair_digits(true, reading["digits"]) if match is None else match
    owner = {b: a for a, b in match.items()}
    where = (number_places(reading) if where is None else where) or {}
    members = {}
    for k, (m, _) in where.items():
        members.setdefault(m, []).append(k)
    out = []
    for m, number in enumerate(reading.get("numbers", [])):
        ks = sorted(members.get(m, []))
        got = [owner.get(k) for k in ks]
        right = bool(ks) and None not in got and len({true[a][0] for a in got}) == 1
        if right:
            line = true[got[0]][0]
            right = ([true[a][1] for a in got] == list(range(len(truth[line]["text"])))
                     and all(reading["digits"][k]["digit"] == true[a][2]
                             for k, a in zip(ks, got)))
        out.append((float(number.get("confidence", 0.0)), right,
                    not number.get("unsure", True)))
    return out


def score_page(truth, reading, decimals=False):
    """Compare a reading with the page's truth; returns counts (a dict).

    True and read digits are paired one to one, best box overlap first
    (IoU at least MATCH_IOU). A line is exact when each of its digits is
    paired with a correct reading, all in one read line that holds nothing
    else; ``shown_exact`` further needs none of them shown as '?'. With
    ``decimals``, also counts the numbers whose decimal separator is
    reported right (:func:`decimal_right`).
    """
    true = true_digits(truth)
    read = reading["digits"]
    match = pair_digits(true, read)
    read_per_line = np.bincount([r["line"] for r in read], minlength=len(reading["lines"]))
    where = number_places(reading)
    counts = {"digits_expected": len(true), "digits_found": len(read),
              "digits_paired": len(match), "digits_correct": 0, "digits_unsure": 0,
              "shown_wrong": 0, "lines_expected": len(truth),
              "lines_found": len(reading["lines"]), "by_length": {}}
    owner = {b: a for a, b in match.items()}
    # Every read digit, paired or not (a rule read as a 1 is a wrong digit),
    # and every read number, with the probability the reader gave it.
    counts["judged_digits"] = [
        (float(r.get("confidence", 0.0)), b in owner and r["digit"] == true[owner[b]][2])
        for b, r in enumerate(read)]
    counts["judged_numbers"] = judged_numbers(truth, reading, true, match, where)
    for a, (_, _, digit, _) in enumerate(true):
        if a in match:
            r = read[match[a]]
            counts["digits_correct"] += r["digit"] == digit
            counts["digits_unsure"] += r["unsure"]
            counts["shown_wrong"] += (not r["unsure"]) and r["digit"] != digit
    rows = rows_of(truth)
    on_row = np.bincount(rows, weights=[len(line["text"]) for line in truth])
    size = Counter(m for m, _ in (where or {}).values())
    for i in range(len(truth)):
        members = [a for a, t in enumerate(true) if t[0] == i]
        got = [read[match[a]] for a in members if a in match]
        exact = (len(got) == len(members)
                 and all(r["digit"] == true[a][2] for a, r in zip(members, got))
                 and len({r["line"] for r in got}) == 1
                 and read_per_line[got[0]["line"]] == on_row[rows[i]])
        if exact and "row" in truth[i] and where is not None:
            # Numbers that share a line are exact only when each is read
            # as a number of its own, not joined with its neighbour.
            ks = [match[a] for a in members]
            numbers = {where[k][0] for k in ks if k in where}
            exact = (len(numbers) == 1 and all(k in where for k in ks)
                     and size[numbers.pop()] == len(members))
        shown = exact and not any(r["unsure"] for r in got)
        entry = counts["by_length"].setdefault(str(len(members)),
                                               {"lines": 0, "exact": 0, "shown_exact": 0})
        entry["lines"] += 1
        entry["exact"] += int(exact)
        entry["shown_exact"] += int(shown)
    if decimals:
        for i, line in enumerate(truth):
            members = [a for a, t in enumerate(true) if t[0] == i]
            right = decimal_right(line, [match.get(a) for a in members], reading, where)
            has = line.get("decimal_after") is not None
            counts["numbers"] = counts.get("numbers", 0) + 1
            counts["decimal_right"] = counts.get("decimal_right", 0) + int(right)
            counts["with_separator"] = counts.get("with_separator", 0) + int(has)
            counts["separator_right"] = counts.get("separator_right", 0) + int(right and has)
    return counts


def rows_of(truth):
    """Each true number's row, numbered from 0: the line it is written on,
    shared by numbers written side by side (``row`` in the truth)."""
    seen = {}
    return [seen.setdefault(("row", line["row"]) if "row" in line else ("alone", i), len(seen))
            for i, line in enumerate(truth)]


def number_places(reading):
    """Where each read digit is in ``reading["numbers"]``: {digit index:
    (number index, place in the number)}, or None when the reading reports
    no numbers (a reader without them)."""
    numbers = reading.get("numbers")
    if numbers is None:
        return None
    per_line = {}
    for k, d in enumerate(reading["digits"]):
        per_line.setdefault(d["line"], []).append(k)
    where, used = {}, {}
    for m, number in enumerate(numbers):
        members = per_line.get(number.get("line"), [])
        start = used.get(number.get("line"), 0)
        size = sum(ch.isdigit() or ch == "?" for ch in str(number.get("text", "")))
        for place, k in enumerate(members[start:start + size]):
            where[k] = (m, place)
        used[number.get("line")] = start + size
    return where


def decimal_right(line, paired, reading, where):
    """Whether the reading reports a true number's decimal separator right:
    every digit of it found (``paired``: the read digit paired with each, or
    None), all of them exactly one reported number, and that number's
    ``decimal_after`` equal to the truth's (None when it has none). A
    reading without ``numbers`` (``where`` None) reports nothing: wrong."""
    if where is None or not paired or any(k is None for k in paired):
        return False
    places = [where.get(k) for k in paired]
    if any(p is None for p in places) or len({m for m, _ in places}) != 1:
        return False
    number = reading["numbers"][places[0][0]]
    size = sum(ch.isdigit() or ch == "?" for ch in str(number.get("text", "")))
    return ([p for _, p in places] == list(range(len(paired))) and size == len(paired)
            and number.get("decimal_after") == line.get("decimal_after"))


def read_alone(truth, reading):
    """Whether the reading holds the page's numbers and nothing else: its
    lines, spaces and '?' included, are the true numbers in order (a
    register cell read as a person would, no rule, margin, neighbour's
    piece or print read as a digit)."""
    return [line.replace(" ", "") for line in reading["lines"]] == [
        line["text"] for line in truth]


def add_counts(total, counts):
    """Add one page's counts into ``total`` (in place) and return it."""
    for key, value in counts.items():
        if isinstance(value, list):
            total.setdefault(key, []).extend(value)
        elif key == "by_length":
            for length, entry in value.items():
                into = total.setdefault(key, {}).setdefault(
                    length, {"lines": 0, "exact": 0, "shown_exact": 0})
                for k, v in entry.items():
                    into[k] += v
        else:
            total[key] = total.get(key, 0) + value
    return total


def summarise(total):
    """Rates from summed counts: the figures the benchmark reports."""
    def rate(a, b):
        return a / b if b else None

    by_length = dict(sorted(total.get("by_length", {}).items(), key=lambda kv: int(kv[0])))
    lines = sum(e["lines"] for e in by_length.values())
    exact = by_length.get(str(EXACT_LENGTH), {"lines": 0, "exact": 0, "shown_exact": 0})
    shown = total["digits_paired"] - total["digits_unsure"]
    return {
        "digit_accuracy": rate(total["digits_correct"], total["digits_expected"]),
        f"exact_{EXACT_LENGTH}_digit_accuracy": rate(exact["exact"], exact["lines"]),
        f"exact_{EXACT_LENGTH}_digit_lines": exact["lines"],
        "exact_number_accuracy": rate(sum(e["exact"] for e in by_length.values()), lines),
        "shown_exact_number_accuracy": rate(
            sum(e["shown_exact"] for e in by_length.values()), lines),
        "unsure_rate": rate(total["digits_unsure"], total["digits_paired"]),
        "shown_error_rate": rate(total["shown_wrong"], shown),
        **{k: total[k] for k in ("digits_expected", "digits_found", "digits_paired",
                                 "digits_correct", "lines_expected", "lines_found")},
        "exact_by_length": {k: {**e, "accuracy": rate(e["exact"], e["lines"])}
                            for k, e in by_length.items()},
        **({"decimal_accuracy": rate(total["decimal_right"], total["numbers"]),
            "separator_accuracy": rate(total["separator_right"], total["with_separator"]),
            **{k: total[k] for k in ("numbers", "decimal_right", "with_separator",
                                     "separator_right")}}
           if "numbers" in total else {}),
        **trust(total),
    }


VOUCH_GOAL = 0.995  # the precision whose coverage the benchmark reports


def trust(total):
    """How far the reading's probabilities can be trusted, from the judged
    digits and numbers of the summed counts: calibration error of each, and
    the numbers vouched for (no '?', probability over the reader's number
    threshold): their share of the true numbers and the share right, and
    the coverage a VOUCH_GOAL precision would allow."""
    from digitsuite.reading.confidence import calibration_error, coverage_at

    digits = np.array(total.get("judged_digits", []), np.float64).reshape(-1, 2)
    numbers = np.array(total.get("judged_numbers", []), np.float64).reshape(-1, 3)
    expected = total.get("lines_expected", 0)
    vouched = numbers[numbers[:, 2] > 0]
    return {
        "digit_calibration_error": calibration_error(digits[:, 0], digits[:, 1]),
        "number_calibration_error": calibration_error(numbers[:, 0], numbers[:, 1]),
        "vouched_numbers": len(vouched),
        "vouched_coverage": len(vouched) / expected if expected else None,
        "vouched_precision": float(vouched[:, 1].mean()) if len(vouched) else None,
        "coverage_at_99_5": (
            coverage_at(numbers[:, 0], numbers[:, 1], VOUCH_GOAL, expected)
            if expected else None),
    }


# --------------------------------------------------------------------------
# Sources


@dataclass
class Source:
    """Digits to write pages with, and where they come from."""

    key: str            # "mnist" or "optdigits": the results' key and file prefix
    name: str           # how reports name it
    images: np.ndarray  # uint8 (n, s, s), ink bright
    labels: np.ndarray
    drawing: Drawing
    file: str
    citation: str
    note: str = None

    def describe(self):
        return {"name": self.name, "file": self.file, "digits": len(self.labels),
                "citation": self.citation, "digit_height": self.drawing.digit_height,
                "binary": self.drawing.binary, "note": self.note}


def benchmark_digits(model_path, data_dir=None):
    """The held-out test digits for the benchmark: (images, labels, source, note).

    Without ``data_dir``, uses the data folder the model was trained with, as
    its config.json records. ``note`` warns when the data differs in size
    from the model's (its test digits might then overlap its training ones).
    """
    from digitsuite.data.datasets import load_dataset

    model_path = Path(model_path)
    try:
        config = json.loads((model_path.parent / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    note = None
    recorded = Path(config["data_dir"]) if config.get("data_dir") else None
    if data_dir is None and recorded is not None and not recorded.exists():
        # The model came from another machine (the shipped reader model does).
        note = (f"the model's data folder {recorded} is not on this machine, so the digits "
                "come from the usual search; pass --data-dir with the model's own data")
        recorded = None
    dataset = load_dataset("mnist", data_dir or recorded)
    trained = (config.get("n_train_total"), config.get("n_test"))
    if not config:
        note = (f"no readable config.json beside {model_path}, so it is unknown whether the "
                "model trained on any of these test digits")
    elif note is None and trained != (len(dataset.x_train), len(dataset.x_test)):
        note = (f"the model trained on {config.get('data_source')} "
                f"({trained[0]} train / {trained[1]} test digits) but the benchmark digits "
                f"come from {dataset.source}; if the two overlap the figures are too "
                "optimistic, so pass --data-dir with the model's own data")
    return dataset.x_test, dataset.y_test, dataset.source, note


def mnist_source(model_path, data_dir=None):
    """MNIST's held-out test digits as a :class:`Source`."""
    images, labels, where, note = benchmark_digits(model_path, data_dir)
    return Source("mnist", "MNIST test digits", images, labels, MNIST_DRAWING, where,
                  MNIST_CITATION, note)


def validation_sources(data_dir=None):
    """MNIST's validation digits (the stratified, seed-0 tenth of its
    training split that training holds out) as two :class:`Source`s: drawn
    as MNIST's grey images and as thresholded bitmaps, the hard edges of
    scanned forms. Pages of these are for choosing a reading step or a
    setting; the test digits and optdigits then say how it does."""
    from digitsuite.data.datasets import load_splits

    # The training scripts' default split: a tenth, seed 0.
    splits = load_splits("mnist", data_dir, seed=0, log=lambda *_: None)
    images, labels = splits.val
    where = splits.dataset.source
    note = f"for choosing: the held-out tenth of {len(splits.dataset.x_train):,} training digits"
    return [Source("mnist-val", "MNIST validation digits", images, labels, MNIST_DRAWING,
                   where, MNIST_CITATION, note),
            Source("bitmap-val", "MNIST validation digits as bitmaps", bitmaps(images), labels,
                   MNIST_BITMAP_DRAWING, where, MNIST_CITATION, note)]


def benchmark_sources(model_path, data_dir=None, optdigits=None, validation=False):
    """The :class:`Source`s to write pages with: MNIST's test digits and,
    with ``optdigits`` (its file's path), optdigits; with ``validation``,
    :func:`validation_sources` instead."""
    if validation:
        return validation_sources(data_dir)
    sources = [mnist_source(model_path, data_dir)]
    if optdigits is not None:
        sources.append(optdigits_source(optdigits))
    return sources


def optdigits_source(path):
    """The optdigits bitmaps at ``path`` as a :class:`Source` (DataError when
    the file is missing or bad)."""
    from benchmarks.reading.optdigits import OPTDIGITS_CITATION, load_optdigits

    images, labels = load_optdigits(path)
    return Source("optdigits", "optdigits (30 writers, not MNIST)", images, labels,
                  OPTDIGITS_DRAWING, str(path), OPTDIGITS_CITATION,
                  "measurement only: never trained or tuned on")


# --------------------------------------------------------------------------
# Running


NOT_READ = {"lines": [], "digits": []}


def read_grey(model, page, min_confidence, steps=ALL):
    """The reader's reading of a uint8 page, end to end, with the document
    ``steps`` given: (reading, crops); a page where it finds nothing reads
    as nothing (every digit missed)."""
    try:
        return reader.read_page(model, page.astype(np.float32) / 255.0, min_confidence,
                                steps)
    except ImageError:
        return NOT_READ, np.zeros((0, 28, 28), np.float32)


def run_condition(model, images, labels, style, pages, seed, min_confidence,
                  examples=0, drawing=MNIST_DRAWING, steps=ALL):
    """Write ``pages`` pages in ``style`` from (images, labels) drawn as
    ``drawing`` says, read them (with the document ``steps`` given) and
    score them. Returns (summary dict, examples): the first ``examples``
    pages as (uint8 page, truth, reading, crops)."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    out, total = [], {}
    whole = 0
    for number in range(pages):
        page, truth = make_page(rng, images, labels, style, drawing=drawing)
        reading, crops = read_grey(model, page, min_confidence, steps)
        add_counts(total, score_page(truth, reading, decimals=style.punctuation))
        whole += read_alone(truth, reading)
        if number < examples:
            out.append((page, truth, reading, crops))
    summary = summarise(total)
    # Kept for the pooled plots of run_benchmark, which takes them out again.
    summary["judged"] = {"digits": total.get("judged_digits", []),
                         "numbers": total.get("judged_numbers", [])}
    if style.register:
        summary["alone_accuracy"] = whole / pages if pages else None
    summary["pages"] = pages
    summary["seconds"] = round(time.perf_counter() - start, 1)
    return summary, out


def time_reading(model, source, pages, seed, min_confidence):
    """Median seconds :func:`reader.read_page` takes, segmentation and model,
    for a standard page of TIMING_NUMBERS numbers of TIMING_DIGITS digits."""
    rng = np.random.default_rng(seed + 1)
    greys = [make_page(rng, source.images, source.labels, STANDARD, drawing=source.drawing,
                       lines=(TIMING_NUMBERS, TIMING_NUMBERS), digits=TIMING_DIGITS)[0]
             .astype(np.float32) / 255.0 for _ in range(pages + 1)]
    reader.read_page(model, greys[0], min_confidence)  # the first call builds the graph
    seconds = []
    for grey in greys[1:]:
        start = time.perf_counter()
        reader.read_page(model, grey, min_confidence)
        seconds.append(time.perf_counter() - start)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count()
    return {"what": f"page of {TIMING_NUMBERS} numbers", "source": source.key,
            "digits_per_number": list(TIMING_DIGITS), "pages": pages,
            "median_seconds": round(float(np.median(seconds)), 3),
            "max_seconds": round(float(np.max(seconds)), 3), "cores": cores,
            "page_sizes": [list(g.shape) for g in greys[1:]]}


def run_benchmark(model, *, model_path, out_dir, data_dir=None, optdigits=None,
                  optdigits_skipped=None, pages=400, variation_pages=100, seed=0,
                  min_confidence=None, examples=3, timing_pages=5,
                  dry_run=False, validation=False, log=print):
    """Write, read and score the pages of every condition from MNIST and,
    with ``optdigits`` (its file's path), from optdigits; when that is None,
    ``optdigits_skipped`` says why (``validation``: from MNIST's validation
    digits only, :func:`validation_sources`). Writes benchmark.json, benchmark.md and
    example pages (with their readings) to ``out_dir``. ``pages`` standard
    pages, ``variation_pages`` per condition, ``timing_pages`` timed pages
    (``dry_run`` draws the readings of only the standard and document
    examples). Returns the results, per source and
    condition."""
    sources = benchmark_sources(model_path, data_dir, optdigits, validation)
    for source in sources:
        log(f"benchmark digits: {len(source.labels):,} from {source.file} ({source.name})")
        if source.note and source.key != "optdigits":
            log(f"note: {source.note}")
    if optdigits is None:
        log(f"optdigits skipped: {optdigits_skipped}")
    results = {source.key: {} for source in sources}
    judged = {source.key: {} for source in sources}
    examples_text = []
    primary = sources[-1]  # the real-looking example and the timing use writing not MNIST's
    for name, style in CONDITIONS.items():
        standard = name == "standard"
        for source in sources:
            summary, shown = run_condition(
                model, source.images, source.labels, style,
                pages if standard else variation_pages, seed, min_confidence,
                examples=examples if standard else 1, drawing=source.drawing)
            judged[source.key][name] = summary.pop("judged")
            results[source.key][name] = summary
            log(summary_line(f"{source.key} {name}", summary))
            for k, example in enumerate(shown, start=1):
                stem = example_stem(name, k, source, primary)
                # Drawing a reading takes seconds: a dry run draws only two per source.
                annotate = not dry_run or (k == 1 and name in ("standard", "document"))
                examples_text.append(save_example(out_dir, stem, name, source, *example,
                                                  annotate=annotate))
    timing = time_reading(model, primary, timing_pages, seed, min_confidence)
    log(f"speed: page of {TIMING_NUMBERS} numbers ({primary.key}): "
        f"{timing['median_seconds']:.2f} s median of {timing_pages} pages on "
        f"{timing['cores']} cores")
    ensemble = confidence.as_ensemble(model)
    config = {"model": str(model_path), "seed": seed, "min_confidence": min_confidence,
              "judged_by": (f"{len(ensemble.models)} models, calibrated"
                            if ensemble.calibrated else "one model, softmax, not calibrated"),
              "unsure_rule": (f"a digit is unsure ('?') under "
                              f"{min_confidence or ensemble.digit_threshold:.1%} probability "
                              "of being right, a number under "
                              f"{ensemble.number_threshold:.1%}"),
              "benchmark_pages": pages, "variation_pages": variation_pages,
              "timing_pages": timing_pages, "dry_run": dry_run,
              "sources": {s.key: s.describe() for s in sources},
              "skipped": {} if optdigits is not None else {"optdigits": optdigits_skipped},
              "conditions": {n: {"about": CONDITION_NOTES[n], **s.as_dict()}
                             for n, s in CONDITIONS.items()}}
    from benchmarks import write_portable
    from benchmarks.reading.trustplots import save_trust_plots

    trust_figures = save_trust_plots(out_dir, judged, {s.key: s.name for s in sources},
                                     {k: {n: r["lines_expected"] for n, r in v.items()}
                                      for k, v in results.items()})
    # The figures are published (benchmarks/results): no folder of this machine.
    write_portable(out_dir, "benchmark", {"config": config, "results": results,
                                          "timing": timing, "trust_figures": trust_figures},
                   report_markdown(config, results, timing, examples_text))
    return results


def example_stem(name, k, source, primary):
    """The file stem of a condition's k-th example page: MNIST's as before
    (example-1, variation-blur), optdigits' prefixed; the combined document
    page of the primary source is ``example-document``."""
    prefix = "" if source.key == "mnist" else f"{source.key}-"
    if name == "document":
        return "example-document" if source is primary else f"{source.key}-example-document"
    if name == "standard":
        return f"{prefix}example-{k}"
    return f"{prefix}variation-{name.replace(' ', '-')}"


def save_example(out_dir, stem, name, source, page, truth, reading, crops, annotate=True):
    """Save an example page and, with ``annotate``, its annotated reading
    and crops; returns its line for the report."""
    from digitsuite.fileio import atomic_path
    from digitsuite.reading.figures import save_reading_figures

    with atomic_path(out_dir / f"{stem}.png") as tmp:
        Image.fromarray(page).save(tmp, format="PNG")
    if annotate:  # a page read as nothing is annotated too: that is the finding
        save_reading_figures(out_dir, stem, page / 255.0, crops, reading)
    return (f"- `{stem}.png` ({source.key}, {name}): truth "
            f"{' / '.join(written(line) for line in truth)}; "
            f"read {' / '.join(reading['lines']) or '(nothing)'}")


def written(line):
    """A truth line as written, punctuation included (``1,500.00``)."""
    return reader.written(line["text"], line.get("marks", []))


def percent_or_dash(value, digits=1):
    """A rate as a percentage, or a dash when there was nothing to measure."""
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def rate_of(value, count, digits=1, none="none on these pages"):
    """A rate with the count it is of, or ``none`` when there was nothing to
    count (a dry run's short pages hold no long numbers)."""
    if not count:
        return none
    return f"{percent_or_dash(value, digits)} (of {count:,})"


def summary_line(name, summary):
    """One line of a condition's headline figures, for the terminal."""
    k = EXACT_LENGTH
    decimals = (f", decimal separators right {percent_or_dash(summary['decimal_accuracy'])}"
                if "decimal_accuracy" in summary else "")
    vouched = ("no number vouched for " if not summary["vouched_numbers"] else
               f"vouched for {percent_or_dash(summary['vouched_coverage'])} of the numbers, "
               f"{percent_or_dash(summary['vouched_precision'])} of those right ")
    return (f"{name}: per digit {percent_or_dash(summary['digit_accuracy'], 2)}, exact "
            f"{k}-digit numbers "
            f"{rate_of(summary[f'exact_{k}_digit_accuracy'], summary[f'exact_{k}_digit_lines'])}"
            ", digits found "
            f"{summary['digits_found']:,} / {summary['digits_expected']:,}{decimals}, "
            f"{vouched}({summary['pages']} pages, {summary['seconds']:.0f} s)")


def short_name(key, sources):
    """A source's name in a table's column: its first word ("MNIST",
    "optdigits"), or its key when another source's name starts alike."""
    first = sources[key]["name"].split(" ")[0]
    alike = sum(s["name"].split(" ")[0] == first for s in sources.values())
    return first if alike == 1 else key


def report_markdown(config, results, timing, example_texts):
    """benchmark.md: the data, the side-by-side table of every condition, the
    decimal separators, the speed, each source's details and the examples."""
    k = EXACT_LENGTH
    sources = config["sources"]
    keys = list(results)
    lines = ["# Reading numbers off a page: benchmark", "",
             f"Model: `{config['model']}` ({config['judged_by']}). Seed {config['seed']}; "
             f"{config['unsure_rule']}. "
             f"{config['benchmark_pages']} standard pages, {config['variation_pages']} per "
             "other condition, per source" + (" (dry run)." if config["dry_run"] else "."),
             "", "## Data", "",
             *table(["source", "file", "digits", "citation", "note"],
                    [[s["name"], f"`{s['file']}`", f"{s['digits']:,}", s["citation"],
                      s["note"] or ""] for s in sources.values()])]
    for key, why in config["skipped"].items():
        lines += ["", f"The {key} half was skipped: {why}."]
    header, rows = ["condition", "pages"], []
    for key in keys:
        header += [f"{short_name(key, sources)} per digit",
                   f"{short_name(key, sources)} exact {k}-digit"]
    for name in CONDITIONS:
        row = [name, results[keys[0]][name]["pages"]]
        for key in keys:
            r = results[key][name]
            row += [percent_or_dash(r["digit_accuracy"]),
                    rate_of(r[f"exact_{k}_digit_accuracy"], r[f"exact_{k}_digit_lines"])]
        rows.append(row)
    lines += ["", "## All conditions, side by side", "",
              "Each condition changes one thing from the standard pages (the same digits "
              "at the same sizes); the last combines several.", "", *table(header, rows)]
    decimal_rows = [[name, sources[key]["name"], results[key][name]["numbers"],
                     percent_or_dash(results[key][name]["decimal_accuracy"]),
                     f"{percent_or_dash(results[key][name]['separator_accuracy'])} (of "
                     f"{results[key][name]['with_separator']})"]
                    for name in CONDITIONS for key in keys
                    if "decimal_accuracy" in results[key][name]]
    if decimal_rows:
        lines += ["", "## Decimal separators", "",
                  "A '.' or ',' followed by exactly two digits to the number's end is its "
                  "decimal separator (`1,500.00`: after 4 digits; `1.480` has none). A "
                  "number counts as right when all its digits are found as one reported "
                  "number whose `decimal_after` equals the truth's (None included); a "
                  "reading without `numbers` counts as wrong.", "",
                  *table(["condition", "source", "numbers", "decimal_after right",
                          "of numbers with a separator"], decimal_rows)]
    trust_rows = [[name, short_name(key, sources),
                   percent_or_dash(r["vouched_coverage"]),
                   rate_of(r["vouched_precision"], r["vouched_numbers"], 2,
                           none="none vouched for"),
                   percent_or_dash(r["coverage_at_99_5"]),
                   f"{r['digit_calibration_error']:.3f}"
                   if r["digit_calibration_error"] is not None else "–",
                   f"{r['number_calibration_error']:.3f}"
                   if r["number_calibration_error"] is not None else "–"]
                  for name in CONDITIONS for key in keys for r in [results[key][name]]]
    lines += ["", "## Can the reading be trusted?", "",
              "A number is *vouched for* when none of its digits is unsure and its "
              "probability of being right is over the reader's number threshold. "
              "Coverage: vouched-for numbers over the true numbers; precision: the share "
              "of them read exactly right (a number read off a rule or a margin counts as "
              "wrong). 'coverage at 99.5 %': the share the reader could vouch for, surest "
              "first, keeping 99.5 % right. Calibration error (ECE, 10 bins): the mean gap "
              "between the probability given and the share right, for every digit read "
              "and every number read.", "",
              "![reliability](reliability.png)", "",
              "![coverage-precision](coverage-precision.png)", "",
              *table(["condition", "source", "vouched for", "right among vouched",
                      "coverage at 99.5 %", "digit ECE", "number ECE"], trust_rows)]
    lines += ["", "## Speed", "",
              f"page of {TIMING_NUMBERS} numbers: {timing['median_seconds']:.2f} s (median of "
              f"{timing['pages']} pages of {TIMING_NUMBERS} numbers of "
              f"{TIMING_DIGITS[0]}-{TIMING_DIGITS[1]} digits, {timing['source']}, read end "
              f"to end by `reader.read_page`, on {timing['cores']} cores; slowest "
              f"{timing['max_seconds']:.2f} s)"]
    for key in keys:
        main = results[key]["standard"]
        lines += [
            "", f"## Standard pages: {sources[key]['name']}", "",
            *table(["measure", "value"], [
                ["per-digit accuracy", f"{percent_or_dash(main['digit_accuracy'], 2)} "
                 f"({main['digits_correct']:,} of {main['digits_expected']:,})"],
                [f"exact {k}-digit numbers",
                 rate_of(main[f"exact_{k}_digit_accuracy"], main[f"exact_{k}_digit_lines"])],
                ["exact numbers, all lengths", percent_or_dash(main["exact_number_accuracy"])],
                ["exact as printed ('?' counts as wrong)",
                 percent_or_dash(main["shown_exact_number_accuracy"])],
                ["digits found / expected",
                 f"{main['digits_found']:,} / {main['digits_expected']:,}"],
                ["lines found / expected",
                 f"{main['lines_found']:,} / {main['lines_expected']:,}"],
                ["shown as '?'", percent_or_dash(main["unsure_rate"])],
                ["wrong among digits shown", percent_or_dash(main["shown_error_rate"], 2)],
            ]),
            "", "Exact-number accuracy by length:", "",
            *table(["digits", "lines", "exact"],
                   [[n, e["lines"], percent_or_dash(e["accuracy"])]
                    for n, e in main["exact_by_length"].items()]),
            "", f"Every condition ({sources[key]['name']}):", "",
            *table(["condition", "pages", "per digit", f"exact {k}-digit", "exact, all",
                    "found / expected", "'?'", "wrong shown"],
                   [[name, r["pages"], percent_or_dash(r["digit_accuracy"]),
                     percent_or_dash(r[f"exact_{k}_digit_accuracy"]),
                     percent_or_dash(r["exact_number_accuracy"]),
                     f"{r['digits_found']:,} / {r['digits_expected']:,}",
                     percent_or_dash(r["unsure_rate"]), percent_or_dash(r["shown_error_rate"])]
                    for name, r in results[key].items()]),
        ]
    lines += ["", "## Conditions", "",
              *table(["condition", "how the pages differ"],
                     [[name, CONDITION_NOTES[name]] for name in CONDITIONS]),
              "", "## Examples", "", *example_texts, ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Ablation: what each document step gains and costs


def ablation_settings():
    """The step settings the ablation compares: all on, all off, and each
    step off alone ({name: Steps})."""
    return {"all on": ALL, "all off": NONE, **{f"no {name}": ALL.without(name)
                                               for name in NAMES}}


def run_ablation(model, *, model_path, out_dir, data_dir=None, optdigits=None,
                 optdigits_skipped=None, pages=40, seed=0,
                 min_confidence=None, dry_run=False, validation=False, log=print):
    """Read the pages of ABLATION_CONDITIONS (``pages`` each, the same pages
    for every setting) with every setting of :func:`ablation_settings`, per
    source (:func:`benchmark_sources`); writes benchmark.json and
    benchmark.md (the ablation tables) to ``out_dir`` and returns
    {source: {condition: {setting: summary}}}."""
    sources = benchmark_sources(model_path, data_dir, optdigits, validation)
    if optdigits is None and optdigits_skipped:
        log(f"optdigits skipped: {optdigits_skipped}")
    settings = ablation_settings()
    results = {source.key: {} for source in sources}
    for name in ABLATION_CONDITIONS:
        for source in sources:
            per = results[source.key].setdefault(name, {})
            for label, steps in settings.items():
                summary, _ = run_condition(model, source.images, source.labels,
                                           CONDITIONS[name], pages, seed, min_confidence,
                                           drawing=source.drawing, steps=steps)
                summary.pop("judged")
                per[label] = summary
                log(summary_line(f"{source.key} {name} [{label}]", summary))
    config = {"model": str(model_path), "seed": seed, "min_confidence": min_confidence,
              "pages_per_condition": pages, "dry_run": dry_run,
              "settings": {label: vars(steps) for label, steps in settings.items()},
              "sources": {s.key: s.describe() for s in sources},
              "skipped": {} if optdigits is not None else {"optdigits": optdigits_skipped},
              "conditions": {n: {"about": CONDITION_NOTES[n], **CONDITIONS[n].as_dict()}
                             for n in ABLATION_CONDITIONS}}
    from benchmarks import write_portable

    write_portable(out_dir, "benchmark", {"config": config, "ablation": results},
                   ablation_markdown(config, results))
    return results


def ablation_cell(summary):
    """'per digit / exact numbers' of one summary, in percent."""
    def pct(value):
        return "–" if value is None else f"{100 * value:.1f}"

    exact = summary.get("alone_accuracy", summary["exact_number_accuracy"])
    return f"{pct(summary['digit_accuracy'])} / {pct(exact)}"


def ablation_markdown(config, results):
    """benchmark.md of an ablation run: per source, a row per condition and
    a column per setting, each cell per-digit / exact-number accuracy."""
    settings = list(config["settings"])
    lines = ["# Reading numbers off a page: the document steps, one at a time", "",
             f"Model: `{config['model']}`. Seed {config['seed']}; "
             f"{config['pages_per_condition']} pages per condition and source, the same "
             "pages for every setting" + (" (dry run)." if config["dry_run"] else "."),
             "", "Each cell: per-digit accuracy / exact numbers, in percent. For register "
             "cells 'exact' is the cell read as its number and nothing else (no rule, "
             "margin, neighbour's piece or print read as a digit); elsewhere a number "
             "read as one line holding exactly its digits. Steps: "
             + "; ".join(f"`{name}`" for name in NAMES) + "."]
    for key, per_condition in results.items():
        name = config["sources"][key]["name"]
        lines += ["", f"## {name}", "",
                  *table(["condition", *settings],
                         [[condition, *(ablation_cell(row[s]) for s in settings)]
                          for condition, row in per_condition.items()])]
    for key, why in config["skipped"].items():
        lines += ["", f"The {key} half was skipped: {why}."]
    lines += ["", "## Conditions", "",
              *table(["condition", "how the pages differ"],
                     [[n, config["conditions"][n]["about"]] for n in config["conditions"]]),
              ""]
    return "\n".join(lines)
