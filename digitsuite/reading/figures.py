"""The pictures of a reading: the page with each digit's box and answer, and
the 28x28 inputs as the model saw them. They draw what
:mod:`digitsuite.reading.reader` computed and compute nothing themselves."""

import json
import re
from urllib.parse import quote

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from digitsuite.errors import printable
from digitsuite.fileio import save_figure
from digitsuite.markdown import decimals_apart, percent, table
from digitsuite.reading.reader import written_lines

CROPS_PER_ROW = 16    # crops per row in the crop strip
FIGURE_DPI = 100
MAX_FIGURE_SIDE = 2000  # pixels; larger pages are drawn scaled down
LEGIBLE_POINTS = 9      # a digit's label smaller than this goes under its box, if that is freer
READINGS_FILE = "readings.json"
READINGS_REPORT = "readings.md"
MAX_READINGS_BYTES = 50 * 2**20  # an earlier readings.json larger than this is not merged
PICTURE_NAME = re.compile(r"[^/\\]+\.(annotated|crops)\.png")


def save_reading_figures(out_dir, stem, grey, crops, reading):
    """Write ``<stem>.annotated.png`` and, when a digit was read,
    ``<stem>.crops.png`` under ``out_dir``; returns the names written."""
    names = [f"{stem}.annotated.png"]
    save_figure(plot_annotated(grey, reading), out_dir / names[0], dpi=FIGURE_DPI)
    if reading["digits"]:
        names.append(f"{stem}.crops.png")
        save_figure(plot_crops(crops, reading), out_dir / names[1], dpi=FIGURE_DPI)
    return names


def readings_markdown(readings):
    """``readings.md``: per image read, its picture, its lines and each
    number with its verdict, from the readings in ``readings.json``."""
    out = ["# Readings", "",
           "A number is *sure* when the reader vouches for it: no digit of it is "
           "unsure ('?') and its chance of being right is over the reader's number "
           "threshold. Check the others. Boxes, in `readings.json`, are in the "
           "pixels of the picture as read (`size`).", ""]
    for reading in readings:
        kind = "likely right" if reading.get("calibrated") else "softmax, uncalibrated"
        name = _plain(reading["file"])
        out += [f"## {name}", ""]
        pictures = reading.get("pictures") or []
        if pictures:  # the link's path quoted: a name may hold spaces, brackets, bars
            out += [f"![{name}]({quote(printable(pictures[0]))})", ""]
        # An earlier run's entries come from a file that may have been
        # edited or sent: what is not as this version writes it is left out,
        # and its text goes in escaped, on one line.
        if isinstance(reading.get("no_digit"), str):
            out += [f"No digit found: {_plain(reading['no_digit'])}.", ""]
            continue
        lines = [line for line in _list(reading.get("lines")) if isinstance(line, str)]
        numbers = [{**n, "written": _written(n)} for n in _list(reading.get("numbers"))
                   if isinstance(n, dict) and isinstance(n.get("line"), int)
                   and isinstance(n.get("amount"), str)
                   and isinstance(n.get("confidence"), (int, float))]
        # Each line as written, its numbers' marks where they stand (12.50,
        # not the digits alone: 1250).
        lines = written_lines({"lines": lines, "numbers": numbers})
        ink = reading.get("ink")
        ink = f" ({_plain(ink)} ink)" if isinstance(ink, str) else ""
        out += [f"Lines read: {', '.join(_code(line) for line in lines) or 'none'}{ink}.", ""]
        if numbers:
            bar = _threshold(reading, "number")
            rows = [[n["line"] + 1, _code(n["written"]), _verdict(n),
                     percent(n["confidence"], decimals_apart(n["confidence"], bar))]
                    for n in numbers]
            out += table(["line", "number", "verdict", f"chance ({kind})"], rows,
                         ["right", "left", "left", "right"])
            out.append("")
    return "\n".join(out)


def _code(text):
    """``text`` as inline code in a Markdown line or table cell: printable,
    on one line, with no backtick to end the code nor bar to end the cell."""
    text = " ".join(printable(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{text}`"


def _plain(text):
    """``text`` as plain Markdown on one line: printable, with the characters
    that would start code, a link, a picture, emphasis, HTML or a table
    cell escaped (a file name's underscores stay as they are: within a
    word they are no emphasis)."""
    return re.sub(r"([\\`*\[\]<>|])", r"\\\1", " ".join(printable(text).split()))


def _verdict(number):
    """"sure", or "check" with the number's doubts, as the text output says them."""
    if not number.get("unsure", True):
        return "sure"
    doubts = [_plain(d) for d in _list(number.get("doubts")) if isinstance(d, str)]
    return "; ".join(["check", *doubts])


def _written(number):
    """A number as written (``1,234.56``), or its amount from an earlier
    version's entry without it."""
    written = number.get("written")
    return written if isinstance(written, str) else number["amount"]


def _threshold(reading, kind):
    """The reader's ``kind`` threshold ("digit" or "number") in ``reading``,
    or None where an earlier version's entry has none that is a number."""
    thresholds = reading.get("thresholds")
    bar = thresholds.get(kind) if isinstance(thresholds, dict) else None
    return float(bar) if isinstance(bar, (int, float)) and 0 <= bar <= 1 else None


def _list(value):
    return value if isinstance(value, list) else []


def stem_of(name):
    """The stem of a picture's file name: ``scan.v2`` of ``scan.v2.crops.png``."""
    return name.rsplit(".", 2)[0]


def picture_stems(out_dir):
    """The stems of the reading pictures in ``out_dir`` (none if it is absent)."""
    if out_dir is None or not out_dir.is_dir():
        return set()
    return {stem_of(entry.name) for entry in out_dir.iterdir()
            if PICTURE_NAME.fullmatch(entry.name)}


def earlier_readings(out_dir):
    """The readings an earlier run left in ``out_dir``'s readings.json,
    each with the ``pictures`` it wrote; [] when there is none, or it is
    not such a file (too large, not JSON, not a list of readings): a
    folder someone sent may hold anything, and reading it must not fail
    the run."""
    path = out_dir / READINGS_FILE
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_READINGS_BYTES:
            return []
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested arrays, [[[[...
        return []
    if not isinstance(found, list):
        return []
    return [r for r in found if isinstance(r, dict) and isinstance(r.get("file"), str)
            and isinstance(r.get("pictures"), list) and r["pictures"]
            and all(isinstance(n, str) and PICTURE_NAME.fullmatch(n) for n in r["pictures"])]


def unique_stem(stem, taken):
    """``stem``, or ``stem-2``, ``stem-3``... if taken; records the choice."""
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    taken.add(name)
    return name


def plot_annotated(grey, reading):
    """The page with a box and the digit read over each character (orange
    and '?' where unsure), a dashed orange frame round each number not
    vouched for (to check by eye, as the app draws it), a blue box with its
    mark under each punctuation mark and a grey dashed one round what was
    set aside as no digit."""
    height, width = grey.shape
    scale = min(1.0, MAX_FIGURE_SIDE / max(height, width))
    fig = plt.figure(figsize=(max(1.0, width * scale / FIGURE_DPI),
                              max(1.0, height * scale / FIGURE_DPI)), dpi=FIGURE_DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="antialiased")
    digits = reading["digits"]
    labels = [f"?{d['top2'][0][0]}/{d['top2'][1][0]}" if d["unsure"] else str(d["digit"])
              for d in digits]
    # LEGIBLE_POINTS a character, in page pixels (a bold one is 0.65 of its size wide).
    legible = 0.65 * LEGIBLE_POINTS / (scale * 72 / FIGURE_DPI)
    for d, label, (above, room) in zip(digits, labels,
                                       _label_places(digits, labels, width, legible)):
        colour = "tab:orange" if d["unsure"] else "tab:green"
        _boxed_label(ax, d["box"], label, colour, scale, above=above, room=room)
    for number in reading.get("numbers", []):
        if number.get("unsure"):
            # Every digit of it may be green: the number is what to check.
            pad = 4 / scale
            x0, y0, x1, y1 = number["box"]
            ax.add_patch(Rectangle((x0 - pad - 0.5, y0 - pad - 0.5), x1 - x0 + 2 * pad,
                                   y1 - y0 + 2 * pad, fill=False, edgecolor="tab:orange",
                                   linewidth=1.2, linestyle="--"))
        # A mark's box is a few pixels: its label is sized by its number's
        # height instead, or a '.' could not be told from a ','.
        tall = number["box"][3] - number["box"][1]
        for mark in number["marks"]:
            _boxed_label(ax, mark["box"], mark["mark"], "tab:blue", scale, above=False,
                         least=0.3 * tall)
    for x0, y0, x1, y1 in reading.get("not_digits", []):
        # A little apart from the mark, so a dot's box is not hidden under
        # the dot; its label legible however small the mark.
        pad = 3 / scale
        _boxed_label(ax, [x0 - pad, y0 - pad, x1 + pad, y1 + pad], "no digit", "tab:gray",
                     scale, above=True, dashed=True, least=16 / scale)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.axis("off")
    return fig


def _label_places(digits, labels, width, legible):
    """For each digit, (its label goes above the box, the page pixels the
    label may take from the box's left edge). A label goes above, unless
    the label before it on its line is above and would be cramped by this
    one (less than ``legible`` page pixels a character: touching digits
    cut apart, a narrow '1' beside its neighbour): then under the box. A
    label may run into the gap up to the next label on its side of the
    line (or the page's edge), so '?1/7' over a narrow '1' can be legible."""
    order = sorted(range(len(digits)), key=lambda k: (digits[k]["line"], digits[k]["box"][0]))
    above = [True] * len(digits)
    for before, k in zip(order, order[1:]):
        if digits[before]["line"] == digits[k]["line"] and above[before]:
            gap = digits[k]["box"][0] - digits[before]["box"][0] - 2
            above[k] = gap >= legible * len(labels[before])
    places = []
    for k, d in enumerate(digits):
        x0 = d["box"][0]
        after = [e["box"][0] for j, e in enumerate(digits) if j != k and e["line"] == d["line"]
                 and above[j] == above[k] and e["box"][0] > x0]
        places.append((above[k], max(1, min(after, default=width) - x0 - 2)))
    return places


def _boxed_label(ax, box, label, colour, scale, above, least=0.0, dashed=False, room=None):
    """A box on the page with ``label`` above (or below) it. The label is no
    wider than ``room`` page pixels (default: its box's width; with a floor
    for legibility, and at least ``least`` page pixels tall), so the labels
    of neighbouring characters do not run into each other."""
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                           edgecolor=colour, linewidth=1.5, linestyle="--" if dashed else "-"))
    points_per_pixel = scale * 72 / FIGURE_DPI
    # A bold character is about 0.65 of the font size wide.
    fits = (room or x1 - x0) / (0.65 * len(label)) * points_per_pixel
    size = max(6.0, min(28.0, max(min(0.45 * (y1 - y0) * points_per_pixel, fits),
                                  least * points_per_pixel)))
    ax.text(x0, y0 - 2 if above else y1 + 2, label, color="white", fontsize=size,
            fontweight="bold", va="bottom" if above else "top", ha="left",
            bbox={"facecolor": colour, "edgecolor": "none", "pad": 1, "alpha": 0.85})


def plot_crops(crops, reading):
    """The 28x28 inputs exactly as the model saw them (ink white, pixels not
    smoothed), one row per line of writing, each titled with its reading."""
    digits, bar = reading["digits"], _threshold(reading, "digit")
    rows = []  # digit indices per row: a line of writing, CROPS_PER_ROW at most
    for number in range(len(reading["lines"])):
        members = [k for k, d in enumerate(digits) if d["line"] == number]
        rows += [members[i:i + CROPS_PER_ROW] for i in range(0, len(members), CROPS_PER_ROW)]
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.9 * cols + 0.2, 1.2 * len(rows)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, members in enumerate(rows):
        for c, k in enumerate(members):
            d = digits[k]
            ax = axes[r, c]
            ax.imshow(crops[k], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            # The same probability as the text output's; an unsure digit
            # names its two best guesses in words, not as a fraction.
            chance = percent(d["confidence"], decimals_apart(d["confidence"], bar))
            title = (f"{d['top2'][0][0]} or {d['top2'][1][0]}? {chance}"
                     if d["unsure"] else f"{d['digit']} {chance}")
            ax.set_title(title, fontsize=8, color="tab:orange" if d["unsure"] else "black")
    fig.tight_layout(pad=0.3)
    return fig
