"""The benchmark's pictures of how far the reading can be trusted: a
reliability diagram (probability given against the share right, digits and
numbers) and the coverage-precision curve of whole numbers, per source."""

import numpy as np

from digitsuite.reading.confidence import coverage_precision, reliability


def pooled(judged, conditions=None):
    """The judged digits and numbers of the chosen conditions (default: all)
    of one source, as arrays (n, 2) and (m, 3)."""
    names = conditions or list(judged)
    digits = [d for n in names for d in judged[n]["digits"]]
    numbers = [x for n in names for x in judged[n]["numbers"]]
    return (np.array(digits, np.float64).reshape(-1, 2),
            np.array(numbers, np.float64).reshape(-1, 3))


def save_trust_plots(out_dir, judged, names, expected):
    """Write reliability.png and coverage-precision.png to ``out_dir``;
    ``judged`` is {source: {condition: {"digits": [(p, right)], "numbers":
    [(p, right, vouched)]}}}, ``names`` each source's name, ``expected`` its
    true numbers per condition. Returns the files' names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from digitsuite.fileio import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, what in zip(axes, ("digits", "numbers")):
        ax.plot([0, 1], [0, 1], color="0.7", lw=1, label="perfectly calibrated")
        for key, by_condition in judged.items():
            digits, numbers = pooled(by_condition)
            items = digits if what == "digits" else numbers
            if not len(items):
                continue
            bins = reliability(items[:, 0], items[:, 1])
            ax.plot([b[0] for b in bins], [b[1] for b in bins], marker="o",
                    label=f"{names[key]} ({len(items):,})")
        ax.set(title=f"{what}: probability given vs. share right",
               xlabel="probability of being right the reader gave", ylabel="share right",
               xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_dir / "reliability.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for key, by_condition in judged.items():
        for label, conditions, style in (("standard pages", ["standard"], "-"),
                                         ("every condition", None, "--")):
            _, numbers = pooled(by_condition, conditions)
            if not len(numbers):
                continue
            total = sum(expected[key][n] for n in (conditions or by_condition))
            coverage, precision = coverage_precision(numbers[:, 0], numbers[:, 1], total)
            ax.plot(coverage, precision, style, label=f"{names[key]}: {label}")
            vouched = numbers[:, 2] > 0
            if vouched.any():
                ax.plot(vouched.sum() / total, numbers[vouched, 1].mean(), "k.", ms=9)
    ax.axhline(0.995, color="0.6", lw=0.8, ls=":")
    ax.set(title="Whole numbers: answer only the surest", xlabel="coverage (share of "
           "numbers answered)", ylabel="precision (share of answers right)",
           xlim=(0, 1), ylim=(0.8, 1.002))
    ax.legend(loc="lower left", fontsize=8, title="dot: what the reader vouches for",
              title_fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_dir / "coverage-precision.png")
    plt.close(fig)
    return ["reliability.png", "coverage-precision.png"]
