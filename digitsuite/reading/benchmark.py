"""A rerunnable benchmark for reading numbers off a page: synthetic pages
written with real MNIST test digits, read by :mod:`digitsuite.reading.reader`.

Each page holds 2-5 lines, each a number of 1-8 digits taken from the
held-out test split, scaled to a random size (per line), rotated slightly
and spaced at random, laid as dark ink on light paper with uneven lighting
and noise. The page's truth (every digit and its ink box) is kept, so the
reading can be scored:

- per-digit accuracy: true digits found (a read box overlapping theirs) and
  read correctly, over all true digits;
- exact-number accuracy: lines read as one line with exactly the true
  digits, overall, by length and for 5-digit numbers;
- digits and lines found vs. expected, the share shown as '?', and the error
  rate of the digits shown.

:data:`CONDITIONS` varies one thing at a time (pen, blur, slant, light,
polarity, spacing, size) to show how the reading holds up.
"""

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from digitsuite.errors import ImageError
from digitsuite.markdown import table
from digitsuite.reading import reader

LINES_PER_PAGE = (2, 5)
DIGITS_PER_LINE = (1, 8)
EXACT_LENGTH = 5      # the headline exact-number figure is for numbers this long
MATCH_IOU = 0.3       # a read box this close to a true digit's box found it
INK_LEVEL = 0.3       # ink coverage that counts towards a digit's true box


@dataclass(frozen=True)
class PageStyle:
    """How pages are written; the defaults are the main benchmark's."""

    height: tuple = (28, 64)    # pixels, the MNIST 20-pixel box scaled to this, per line
    gap: tuple = (0.15, 0.6)    # space between digits, x the line's height
    rotation: float = 6.0       # degrees, each digit turned by up to this either way
    slant: float = 0.0          # shear of the whole page's writing (0.3: ~17 degrees)
    stroke: float = 0.0         # pen width change, x the line's height (+ thicker)
    blur: float = 0.0           # Gaussian blur sigma, x the median line height
    light: float = 0.35         # darkest corner's light loss (0: even lighting)
    noise: float = 0.03         # sensor noise standard deviation (0-1 scale)
    inverted: bool = False      # light ink on dark paper (a blackboard, a negative)

    def as_dict(self):
        return asdict(self)


STANDARD = PageStyle()
CONDITIONS = {
    "standard": STANDARD,
    "thick pen": replace(STANDARD, stroke=0.06),
    "thin pen": replace(STANDARD, stroke=-0.035),
    "blur": replace(STANDARD, blur=0.06),
    "slant": replace(STANDARD, slant=0.35),
    "strong uneven light": replace(STANDARD, light=0.7),
    "light ink on dark": replace(STANDARD, inverted=True),
    "touching digits": replace(STANDARD, gap=(-0.08, 0.05)),
    "small digits": replace(STANDARD, height=(14, 20)),
    "heavy noise": replace(STANDARD, noise=0.08),
}


# --------------------------------------------------------------------------
# Writing pages


def digit_tile(image, scale, angle, shear, stroke):
    """One MNIST digit (uint8 28x28, ink bright) as ink coverage 0-1 at page
    scale: enlarged ``scale`` times, sheared, turned ``angle`` degrees and
    its strokes widened (``stroke`` > 0) or narrowed by ``abs(stroke)`` pixels."""
    tile = Image.fromarray(image)
    size = max(2, round(28 * scale))
    tile = tile.resize((size, size), Image.Resampling.BICUBIC)
    if shear:
        pad = round(abs(shear) * size / 2) + 1
        tile = tile.transform((size + 2 * pad, size), Image.Transform.AFFINE,
                              (1, shear, -pad - shear * size / 2, 0, 1, 0),
                              Image.Resampling.BICUBIC)
    tile = tile.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    ink = np.asarray(tile, np.float32) / 255.0
    radius = abs(stroke)
    if radius >= 0.5:
        footprint = disk(radius)
        filt = ndimage.grey_dilation if stroke > 0 else ndimage.grey_erosion
        ink = filt(np.pad(ink, footprint.shape[0]), footprint=footprint)
    return np.clip(ink, 0.0, 1.0)


def disk(radius):
    """A round bool footprint of the given radius (pixels)."""
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= radius * radius + 0.25


def make_page(rng, images, labels, style=STANDARD):
    """Write one page; returns (uint8 grey page, truth).

    ``images``/``labels`` are the digits to draw from (uint8 (n, 28, 28),
    ints). The truth is a list of lines, each ``{"text": "3071", "boxes":
    [[x0, y0, x1, y1], ...]}`` with the ink box of every digit. Every page
    draws the same random numbers whatever the style, so conditions
    compare the same digits in the same places.
    """
    placed, truth = [], []  # placed: (tile, left, top) in unshifted page pixels
    y = 0.0
    for number in range(rng.integers(LINES_PER_PAGE[0], LINES_PER_PAGE[1] + 1)):
        u = rng.random(3)
        height = style.height[0] + u[0] * (style.height[1] - style.height[0])
        if number:
            y += (0.4 + 0.8 * u[1]) * height   # space between lines
        centre, x = y + height / 2, u[2] * height
        text, boxes = "", []
        for _ in range(rng.integers(DIGITS_PER_LINE[0], DIGITS_PER_LINE[1] + 1)):
            k = rng.integers(len(images))
            v = rng.random(4)
            tile = digit_tile(images[k], height / 20 * (0.9 + 0.2 * v[0]),
                              style.rotation * (2 * v[1] - 1), style.slant,
                              style.stroke * height)
            rows, cols = np.nonzero(tile > INK_LEVEL)
            if not rows.size:  # a thin pen rubbed the digit out
                continue
            left = int(round(x - cols.min()))
            top = int(round(centre + 0.08 * height * (2 * v[2] - 1)
                            - (rows.min() + rows.max()) / 2))
            placed.append((tile, left, top))
            boxes.append([left + int(cols.min()), top + int(rows.min()),
                          left + int(cols.max()) + 1, top + int(rows.max()) + 1])
            text += str(int(labels[k]))
            x = boxes[-1][2] + (style.gap[0] + v[3] * (style.gap[1] - style.gap[0])) * height
        truth.append({"text": text, "boxes": boxes, "height": height})
        y += height
    return render(rng, placed, truth, style)


def render(rng, placed, truth, style):
    """Lay the placed tiles on lit, noisy paper with a margin; returns
    (uint8 page, truth) with the truth's boxes in page pixels."""
    margin = int(round(0.5 * style.height[1])) + 4
    shift_x = margin - min(x for _, x, _ in placed)
    shift_y = margin - min(y for _, _, y in placed)
    page_w = max(x + t.shape[1] for t, x, _ in placed) + shift_x + margin
    page_h = max(y + t.shape[0] for t, _, y in placed) + shift_y + margin
    coverage = np.zeros((page_h, page_w), np.float32)
    for tile, x, y in placed:
        region = coverage[y + shift_y:y + shift_y + tile.shape[0],
                          x + shift_x:x + shift_x + tile.shape[1]]
        np.maximum(region, tile, out=region)
    u = rng.random(5)
    if style.blur:
        sigma = style.blur * float(np.median([line["height"] for line in truth]))
        coverage = ndimage.gaussian_filter(coverage, sigma)
    paper, ink = 0.78 + 0.17 * u[0], 0.05 + 0.25 * u[1]
    if style.inverted:
        paper, ink = 1.0 - paper, 1.0 - ink
    reflectance = paper + (ink - paper) * coverage
    # Light falls off linearly towards a random side, with a soft bright spot.
    yy, xx = np.mgrid[0:page_h, 0:page_w].astype(np.float32)
    xx, yy = xx / page_w, yy / page_h
    ramp = np.cos(2 * np.pi * u[2]) * xx + np.sin(2 * np.pi * u[2]) * yy
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    spot = np.exp(-((xx - u[3]) ** 2 + (yy - u[4]) ** 2) / 0.08)
    light = 1.0 - style.light * ramp + 0.15 * style.light * spot
    # Noise from its own generator: the page's size, which the style
    # changes, must not change what the main generator draws next.
    noise = np.random.default_rng(rng.integers(2 ** 63)).normal(0.0, 1.0, coverage.shape)
    page = reflectance * light + style.noise * noise
    page = np.clip(np.round(page * 255), 0, 255).astype(np.uint8)
    return page, [{"text": line["text"],
                   "boxes": [[b[0] + shift_x, b[1] + shift_y, b[2] + shift_x, b[3] + shift_y]
                             for b in line["boxes"]]} for line in truth]


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


def score_page(truth, reading):
    """Compare a reading with the page's truth; returns counts (a dict).

    True and read digits are paired one to one, best box overlap first
    (IoU at least MATCH_IOU). A line is exact when each of its digits is
    paired with a correct reading, all in one read line that holds nothing
    else; ``shown_exact`` further needs none of them shown as '?'.
    """
    true = [(i, j, int(ch), box) for i, line in enumerate(truth)
            for j, (ch, box) in enumerate(zip(line["text"], line["boxes"]))]
    read = reading["digits"]
    pairs = sorted(((box_iou(t[3], r["box"]), a, b) for a, t in enumerate(true)
                    for b, r in enumerate(read)), reverse=True)
    match, used = {}, set()
    for iou, a, b in pairs:
        if iou < MATCH_IOU:
            break
        if a not in match and b not in used:
            match[a] = b
            used.add(b)
    read_per_line = np.bincount([r["line"] for r in read], minlength=len(reading["lines"]))
    counts = {"digits_expected": len(true), "digits_found": len(read),
              "digits_paired": len(match), "digits_correct": 0, "digits_unsure": 0,
              "shown_wrong": 0, "lines_expected": len(truth),
              "lines_found": len(reading["lines"]), "by_length": {}}
    for a, (_, _, digit, _) in enumerate(true):
        if a in match:
            r = read[match[a]]
            counts["digits_correct"] += r["digit"] == digit
            counts["digits_unsure"] += r["unsure"]
            counts["shown_wrong"] += (not r["unsure"]) and r["digit"] != digit
    for i in range(len(truth)):
        members = [a for a, t in enumerate(true) if t[0] == i]
        got = [read[match[a]] for a in members if a in match]
        exact = (len(got) == len(members)
                 and all(r["digit"] == true[a][2] for a, r in zip(members, got))
                 and len({r["line"] for r in got}) == 1
                 and read_per_line[got[0]["line"]] == len(members))
        shown = exact and not any(r["unsure"] for r in got)
        entry = counts["by_length"].setdefault(str(len(members)),
                                               {"lines": 0, "exact": 0, "shown_exact": 0})
        entry["lines"] += 1
        entry["exact"] += int(exact)
        entry["shown_exact"] += int(shown)
    return counts


def add_counts(total, counts):
    """Add one page's counts into ``total`` (in place) and return it."""
    for key, value in counts.items():
        if key == "by_length":
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
    }


# --------------------------------------------------------------------------
# Running


def run_condition(model, images, labels, style, pages, seed, min_confidence,
                  examples=0):
    """Write ``pages`` pages in ``style`` from (images, labels), read them and
    score them. Returns (summary dict, examples): the first ``examples``
    pages as (uint8 page, truth, reading, crops)."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    prepared, written = [], []
    for number in range(pages):
        page, truth = make_page(rng, images, labels, style)
        try:
            found = reader.prepare_page(page.astype(np.float32) / 255.0)
        except ImageError:
            found = None  # nothing found on the page: every digit is missed
        prepared.append((truth, found))
        if number < examples:
            written.append(page)
    # One batch for every character of every page.
    crops = [found.crops for _, found in prepared if found is not None]
    probs = reader.classify(model, np.concatenate(crops)) if crops else np.zeros((0, 10))
    out, total, k = [], {}, 0
    for number, (truth, found) in enumerate(prepared):
        if found is None:
            reading, page_crops = {"lines": [], "digits": []}, np.zeros((0, 28, 28))
        else:
            lines, page_probs, page_crops = reader.resolve(
                found, probs[k:k + len(found.crops)])
            reading = reader.describe(lines, page_probs, found.ink_dark, min_confidence)
            k += len(found.crops)
        add_counts(total, score_page(truth, reading))
        if number < examples:
            out.append((written[number], truth, reading, page_crops))
    summary = summarise(total)
    summary["pages"] = pages
    summary["seconds"] = round(time.perf_counter() - start, 1)
    return summary, out


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
    data_dir = data_dir or (Path(config["data_dir"]) if config.get("data_dir") else None)
    dataset = load_dataset("mnist", data_dir)
    note = None
    trained = (config.get("n_train_total"), config.get("n_test"))
    if not config:
        note = (f"no readable config.json beside {model_path}, so it is unknown whether the "
                "model trained on any of these test digits")
    elif trained != (len(dataset.x_train), len(dataset.x_test)):
        note = (f"the model trained on {config.get('data_source')} "
                f"({trained[0]} train / {trained[1]} test digits) but the benchmark digits "
                f"come from {dataset.source}; if the two overlap the figures are too "
                "optimistic, so pass --data-dir with the model's own data")
    return dataset.x_test, dataset.y_test, dataset.source, note


def run_benchmark(model, *, model_path, out_dir, data_dir=None, pages=400,
                  variation_pages=100, seed=0, min_confidence=reader.MIN_CONFIDENCE,
                  examples=3, dry_run=False, log=print):
    """Write, read and score the pages of every condition; write
    benchmark.json, benchmark.md and example pages (with their readings) to
    ``out_dir``. ``pages`` standard pages, ``variation_pages`` per variation
    (``dry_run`` is only recorded). Returns the results per condition."""
    from digitsuite.fileio import atomic_path, save_figure, write_json, write_text

    x_test, y_test, source, note = benchmark_digits(model_path, data_dir)
    log(f"benchmark digits: {len(x_test):,} test digits from {source}")
    if note:
        log(f"note: {note}")
    results, example_texts = {}, []
    for name, style in CONDITIONS.items():
        standard = name == "standard"
        summary, shown = run_condition(
            model, x_test, y_test, style, pages if standard else variation_pages, seed,
            min_confidence, examples=examples if standard else 1)
        results[name] = summary
        log(summary_line(name, summary))
        slug = name.replace(" ", "-")
        for k, (page, truth, reading, crops) in enumerate(shown, start=1):
            stem = f"example-{k}" if standard else f"variation-{slug}"
            with atomic_path(out_dir / f"{stem}.png") as tmp:
                Image.fromarray(page).save(tmp)
            if reading["digits"]:
                save_figure(reader.plot_annotated(page / 255.0, reading),
                            out_dir / f"{stem}.annotated.png", dpi=reader.FIGURE_DPI)
                save_figure(reader.plot_crops(crops, reading), out_dir / f"{stem}.crops.png",
                            dpi=reader.FIGURE_DPI)
            example_texts.append(
                f"- `{stem}.png` ({name}): truth {' / '.join(t['text'] for t in truth)}; "
                f"read {' / '.join(reading['lines']) or '(nothing)'}")
    header = [f"Model: `{model_path}`. Digits: {len(x_test):,} held-out test digits from "
              f"{source}. Seed {seed}; digits under {min_confidence:.0%} "
              "confidence show as '?'."]
    if note:
        header.append(f"Note: {note}.")
    config = {"model": str(model_path), "data_source": source, "n_digits": len(x_test),
              "seed": seed, "min_confidence": min_confidence,
              "benchmark_pages": pages, "variation_pages": variation_pages, "dry_run": dry_run,
              "note": note,
              "conditions": {n: s.as_dict() for n, s in CONDITIONS.items()}}
    write_json(out_dir / "benchmark.json", {"config": config, "results": results})
    write_text(out_dir / "benchmark.md", report_markdown(header, results, example_texts))
    return results


def percent_or_dash(value, digits=1):
    """A rate as a percentage, or a dash when there was nothing to measure."""
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def summary_line(name, summary):
    """One line of a condition's headline figures, for the terminal."""
    k = EXACT_LENGTH
    return (f"{name}: per digit {percent_or_dash(summary['digit_accuracy'], 2)}, exact "
            f"{k}-digit numbers {percent_or_dash(summary[f'exact_{k}_digit_accuracy'])} "
            f"(of {summary[f'exact_{k}_digit_lines']}), digits found "
            f"{summary['digits_found']:,} / {summary['digits_expected']:,} "
            f"({summary['pages']} pages, {summary['seconds']:.0f} s)")


def report_markdown(header, results, example_texts):
    """benchmark.md: the headline figures, the conditions table and the
    example pages' truth and readings."""
    main = results["standard"]
    k = EXACT_LENGTH
    lines = [
        "# Reading numbers off a page: benchmark", "",
        *header, "",
        "## Standard pages", "",
        *table(["measure", "value"], [
            ["per-digit accuracy", f"{percent_or_dash(main['digit_accuracy'], 2)} "
             f"({main['digits_correct']:,} of {main['digits_expected']:,})"],
            [f"exact {k}-digit numbers", f"{percent_or_dash(main[f'exact_{k}_digit_accuracy'])}"
             f" (of {main[f'exact_{k}_digit_lines']:,})"],
            ["exact numbers, all lengths", percent_or_dash(main["exact_number_accuracy"])],
            ["exact as printed ('?' counts as wrong)",
             percent_or_dash(main["shown_exact_number_accuracy"])],
            ["digits found / expected",
             f"{main['digits_found']:,} / {main['digits_expected']:,}"],
            ["lines found / expected", f"{main['lines_found']:,} / {main['lines_expected']:,}"],
            ["shown as '?'", percent_or_dash(main["unsure_rate"])],
            ["wrong among digits shown", percent_or_dash(main["shown_error_rate"], 2)],
        ]),
        "", "Exact-number accuracy by length:", "",
        *table(["digits", "lines", "exact"],
               [[n, e["lines"], percent_or_dash(e["accuracy"])]
                for n, e in main["exact_by_length"].items()]),
        "", "## Variations", "",
        "Each row changes one thing from the standard pages (same digits, same layout).", "",
        *table(["condition", "pages", "per digit", f"exact {k}-digit", "exact, all",
                "found / expected", "'?'", "wrong shown"],
               [[name, r["pages"], percent_or_dash(r["digit_accuracy"]),
                 percent_or_dash(r[f"exact_{k}_digit_accuracy"]),
                 percent_or_dash(r["exact_number_accuracy"]),
                 f"{r['digits_found']:,} / {r['digits_expected']:,}",
                 percent_or_dash(r["unsure_rate"]), percent_or_dash(r["shown_error_rate"])]
                for name, r in results.items()]),
    ]
    lines += ["", "## Examples", "", *example_texts, ""]
    return "\n".join(lines)
