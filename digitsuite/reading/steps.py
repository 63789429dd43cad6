"""Switches for the reader's document steps, one per step.

A clean page needs none of them; a real document needs each where its
evidence is. :class:`Steps` turns each on or off for one reading
(``reader.read_page(..., steps=...)``), so the benchmark can measure what
every step gains where it is needed and costs where it is not
(``read_bench.py --ablation``). The default reads with all of them on.
"""

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Steps:
    """Which document steps the reader runs (all on by default)."""

    shadows: bool = True      # a shadow the lighting fit leaves, divided out
    #                           (images.even_out_shadows)
    pattern: bool = True      # a lighter printed background pattern left out (printed.ink_core)
    rules: bool = True        # ruled lines, box sides, comb ticks taken off (printed.remove_rules)
    edges: bool = True        # a dark scanner margin, rules down a cell's sides and fragments
    #                           cut by the picture's edge left out (printed.remove_edges)
    punctuation: bool = True  # dots, commas and dashes told from digits (segment.punctuation)
    lattice: bool = True      # a wide glyph cut into touching digits (segment.lattice)
    thinning: bool = True     # very thick strokes thinned before the model (images.thin)

    def without(self, name):
        """These steps with ``name`` switched off."""
        return replace(self, **{name: False})


NAMES = tuple(f.name for f in fields(Steps))
ALL = Steps()
NONE = Steps(**dict.fromkeys(NAMES, False))
