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


def decimals_apart(probability, threshold, most=3):
    """The fewest decimals (at most ``most``) at which ``percent`` shows
    ``probability`` apart from ``threshold``: a number just under the
    reader's bar must not read "98%" beside a sure one's "98%" (0.985 and
    0.9893 against a bar of 0.989 read 98.5 % and 98.9 %). 0 when there is
    no threshold."""
    if threshold is None:
        return 0
    decimals = 0
    while (decimals < most and probability != threshold
           and percent(probability, decimals) == percent(threshold, decimals)):
        decimals += 1
    return decimals


def bar_decimals(threshold, decimals=0):
    """Decimals to show a threshold with beside values shown with
    ``decimals``: one for a bar that is no whole percentage (0.9094 is
    "90.9%", where "90%" would say that 90.5 % clears it), none for one
    that is (0.9 is "90%")."""
    whole = abs(threshold * 100 - round(threshold * 100)) < 1e-9
    return max(decimals, 0 if whole else 1)


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
