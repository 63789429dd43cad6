"""The reading benchmark's pages and scoring (digitsuite.reading.benchmark)."""

import numpy as np

from digitsuite.reading import benchmark as digit_bench


def test_score_page_pairs_digits_by_box():
    truth = [{"text": "12", "boxes": [[0, 0, 10, 20], [15, 0, 25, 20]]},
             {"text": "3", "boxes": [[0, 40, 10, 60]]}]

    def digit(box, value, line):
        return {"box": box, "digit": value, "line": line, "unsure": False}

    reading = {"lines": ["12", "35"], "digits": [
        digit([0, 0, 10, 20], 1, 0), digit([14, 1, 25, 20], 2, 0),
        digit([1, 40, 10, 60], 3, 1), digit([40, 40, 50, 60], 5, 1)]}   # an extra '5'
    counts = digit_bench.score_page(truth, reading)
    assert counts["digits_correct"] == counts["digits_expected"] == 3
    assert counts["digits_found"] == 4 and counts["lines_found"] == 2
    assert counts["by_length"] == {"2": {"lines": 1, "exact": 1, "shown_exact": 1},
                                   "1": {"lines": 1, "exact": 0, "shown_exact": 0}}


def test_pages_keep_their_truth_and_differ_only_in_style(sample):
    x, y = sample["x_test"], sample["y_test"]
    plain, truth = digit_bench.make_page(np.random.default_rng(3), x, y)
    inverted, same = digit_bench.make_page(np.random.default_rng(3), x, y,
                                           digit_bench.CONDITIONS["light ink on dark"])
    assert plain.dtype == np.uint8 and truth == same
    assert 2 <= len(truth) <= 5 and all(1 <= len(line["text"]) <= 8 for line in truth)
    for line in truth:
        for x0, y0, x1, y1 in line["boxes"]:
            assert plain[y0:y1, x0:x1].min() < 100 < inverted[y0:y1, x0:x1].max()
