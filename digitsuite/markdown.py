"""Markdown tables, as every report of the suite writes them."""


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
