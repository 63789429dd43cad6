"""The crop strip read_digits.py --out-dir saves (digitsuite.reading.figures)."""

import matplotlib.pyplot as plt
import numpy as np

from digitsuite.reading import figures


def test_each_crop_is_titled_with_its_reading_and_the_texts_probability():
    reading = {"lines": ["3?"], "digits": [
        {"line": 0, "digit": 3, "confidence": 0.991, "unsure": False, "top2": [[3, 0.99],
                                                                               [8, 0.01]]},
        {"line": 0, "digit": 1, "confidence": 0.86, "unsure": True, "top2": [[1, 0.99],
                                                                             [4, 0.0]]}]}
    fig = figures.plot_crops(np.zeros((2, 28, 28), np.float32), reading)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    plt.close(fig)
    assert titles == ["3 99%", "1 or 4? 86%"]
