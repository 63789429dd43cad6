"""Markdown tables, as every report of the suite writes them, and the
percentages shown to a user."""

import math


def percent(probability, decimals=0):
    """``probability`` as a percentage with ``decimals`` places, rounded down,
    so a near-certainty never reads 100 % (0.99996 -> "99%", "99.99%")."""
    scale = 10 ** decimals
    # round() first: 0.29 * 100 is 28.999999999999996, which is 29 %, not 28 %.
    value = math.floor(round(probability * 100 * scale, 6))
    if probability < 1:
        value = min(value, 100 * scale - 1)
    return f"{value / scale:.{decimals}f}%"


def table(header, rows, align=None):
    """A Markdown table as a list of lines.

    ``header`` is the column titles, ``rows`` lists of cells (turned into
    text with ``str``); ``align`` gives one of ``"left"``/``"right"`` per
    column (default: left).
    """
    rule = {"left": "---", "right": "---:"}
    align = align or ["left"] * len(header)
    return ["| " + " | ".join(header) + " |",
            "| " + " | ".join(rule[a] for a in align) + " |",
            *["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]]
