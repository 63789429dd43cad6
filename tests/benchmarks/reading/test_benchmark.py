"""The reading benchmark's pages and scoring (benchmarks.reading.benchmark)."""

import numpy as np

from benchmarks.reading import benchmark as digit_bench
from benchmarks.reading import pages


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


def test_numbers_on_one_line_are_exact_only_when_read_as_numbers_of_their_own():
    truth = [{"text": "27", "row": 0, "boxes": [[0, 0, 10, 20], [15, 0, 25, 20]]},
             {"text": "5", "row": 0, "boxes": [[60, 0, 70, 20]]}]
    reading = {"lines": ["275"], "digits": [digit([0, 0, 10, 20], 2, 0),
                                            digit([15, 0, 25, 20], 7, 0),
                                            digit([60, 0, 70, 20], 5, 0)]}

    def exact(texts):
        reading["numbers"] = [{"line": 0, "text": t} for t in texts]
        counts = digit_bench.score_page(truth, reading)
        return {k: e["exact"] for k, e in counts["by_length"].items()}

    assert exact(["27", "5"]) == {"2": 1, "1": 1}
    assert exact(["275"]) == {"2": 0, "1": 0}       # joined: neither number was read
    assert exact(["2", "75"]) == {"2": 0, "1": 0}
    assert digit_bench.rows_of(truth + [{"text": "3"}]) == [0, 0, 1]


def test_pages_keep_their_truth_and_differ_only_in_style(sample):
    x, y = sample["x_test"], sample["y_test"]
    plain, truth = pages.make_page(np.random.default_rng(3), x, y)
    inverted, same = pages.make_page(np.random.default_rng(3), x, y,
                                           digit_bench.CONDITIONS["light ink on dark"])
    assert plain.dtype == np.uint8 and truth == same
    assert 2 <= len(truth) <= 5 and all(1 <= len(line["text"]) <= 8 for line in truth)
    for line in truth:
        for x0, y0, x1, y1 in line["boxes"]:
            assert plain[y0:y1, x0:x1].min() < 100 < inverted[y0:y1, x0:x1].max()


def digit(box, value, line):
    return {"box": box, "digit": value, "line": line, "unsure": False}


AMOUNTS = [{"text": "150000", "decimal_after": 4,
            "boxes": [[20 * k, 0, 20 * k + 15, 20] for k in range(6)]},
           {"text": "1480", "decimal_after": None,
            "boxes": [[20 * k, 40, 20 * k + 15, 60] for k in range(4)]}]


def read_amounts(decimals, split_first=False):
    """A reading of AMOUNTS with every digit right; ``decimals`` the
    reported decimal_after per number (None: no ``numbers`` key at all)."""
    digits = [digit(b, int(ch), i) for i, line in enumerate(AMOUNTS)
              for ch, b in zip(line["text"], line["boxes"])]
    reading = {"lines": ["150000", "1480"], "digits": digits}
    if decimals is not None:
        numbers = [{"line": 0, "text": "150000", "decimal_after": decimals[0], "marks": []},
                   {"line": 1, "text": "1480", "decimal_after": decimals[1], "marks": []}]
        if split_first:   # the first amount read as two numbers, 1500 and 00
            numbers[:1] = [{"line": 0, "text": "1500", "decimal_after": None},
                           {"line": 0, "text": "00", "decimal_after": 4}]
        reading["numbers"] = numbers
    return reading


def test_decimal_separators_are_scored_from_the_numbers():
    def rates(reading):
        summary = digit_bench.summarise(digit_bench.score_page(AMOUNTS, reading,
                                                               decimals=True))
        assert summary["digit_accuracy"] == 1.0 and summary["numbers"] == 2
        return summary["decimal_accuracy"], summary["separator_accuracy"]

    assert rates(read_amounts([4, None])) == (1.0, 1.0)
    assert rates(read_amounts([3, None])) == (0.5, 0.0)     # the point put a digit early
    assert rates(read_amounts([4, 1])) == (0.5, 1.0)        # a thousands point as decimal
    assert rates(read_amounts(None)) == (0.0, 0.0)          # a reader without "numbers"
    assert rates(read_amounts([4, None], split_first=True)) == (0.5, 0.0)
    plain = digit_bench.score_page(AMOUNTS, read_amounts([4, None]))
    assert "numbers" not in plain and "decimal_accuracy" not in digit_bench.summarise(plain)


def fake_summary(correct, decimals=False):
    truth = [{"text": "12345", "boxes": [[20 * k, 0, 20 * k + 15, 20] for k in range(5)],
              "decimal_after": 3}]
    reading = {"lines": ["12345"], "digits": [
        digit(b, int(ch) if k < correct else 0, 0)
        for k, (ch, b) in enumerate(zip(truth[0]["text"], truth[0]["boxes"]))],
        "numbers": [{"line": 0, "text": "12345", "decimal_after": 3, "confidence": 0.99,
                     "unsure": False}]}
    summary = digit_bench.summarise(digit_bench.score_page(truth, reading, decimals))
    return {**summary, "pages": 1, "seconds": 0.1}


def test_a_number_is_right_only_whole_and_from_true_digits():
    truth = [{"text": "123", "boxes": [[20 * k, 0, 20 * k + 15, 20] for k in range(3)]}]
    boxes = truth[0]["boxes"]
    rule = [80, 0, 84, 20]                                     # a rule read as a '1'

    def judged(digits, numbers):
        reading = {"lines": ["x"], "digits": [digit(b, d, 0) for b, d in digits],
                   "numbers": [{"line": 0, "text": t, "confidence": c, "unsure": u}
                               for t, c, u in numbers]}
        return digit_bench.judged_numbers(truth, reading)

    whole = list(zip(boxes, [1, 2, 3]))
    assert judged(whole, [("123", 0.99, False)]) == [(0.99, True, True)]
    assert judged(list(zip(boxes, [1, 2, 8])), [("128", 0.9, True)]) == [(0.9, False, False)]
    # Cut in two: neither half is the number.
    assert [r for _, r, _ in judged(whole, [("12", 0.9, False), ("3", 0.9, False)])] == [
        False, False]
    # The number right, then the rule as a number of its own: that one is wrong.
    assert judged(whole + [(rule, 1)], [("123", 0.99, False), ("1", 0.95, False)]) == [
        (0.99, True, True), (0.95, False, True)]
    summary = digit_bench.summarise(digit_bench.score_page(
        truth, {"lines": ["123 1"], "digits": [digit(b, d, 0) for b, d in whole + [(rule, 1)]],
                "numbers": [{"line": 0, "text": "123", "confidence": 0.99, "unsure": False},
                            {"line": 0, "text": "1", "confidence": 0.95, "unsure": False}]}))
    assert summary["vouched_numbers"] == 2 and summary["vouched_precision"] == 0.5
    assert summary["vouched_coverage"] == 2.0 and summary["coverage_at_99_5"] == 1.0


def test_report_puts_both_sources_side_by_side_and_says_where_data_comes_from():
    names = list(digit_bench.CONDITIONS)
    results = {"mnist": {n: fake_summary(5, n == "punctuation") for n in names},
               "optdigits": {n: fake_summary(4, n == "punctuation") for n in names}}
    results["mnist"]["touching digits"].update(vouched_numbers=0, vouched_precision=None)
    sources = {"mnist": {"name": "MNIST test digits", "file": "/data/mnist", "digits": 10000,
                         "citation": digit_bench.MNIST_CITATION, "note": None},
               "optdigits": {"name": "optdigits (30 writers)", "file": "/data/opt.tra.gz",
                             "digits": 1934, "citation": "Alpaydin, E. and Kaynak, C. (1998)",
                             "note": "measurement only"}}
    config = {"model": "m.keras", "seed": 0, "min_confidence": 0.8, "benchmark_pages": 1,
              "variation_pages": 1, "dry_run": False, "sources": sources, "skipped": {},
              "judged_by": "2 models, calibrated", "unsure_rule": "a digit is unsure under x"}
    timing = {"median_seconds": 0.42, "max_seconds": 0.5, "pages": 3, "source": "optdigits",
              "cores": 2}
    md = digit_bench.report_markdown(config, results, timing, ["- `example-1.png`: ..."])
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| condition | pages | MNIST"))
    assert header.split(" | ")[2:] == ["MNIST per digit", "MNIST exact 5-digit",
                                       "optdigits per digit", "optdigits exact 5-digit |"]
    for name in names:
        row = next(line for line in lines if line.startswith(f"| {name} | 1 |"))
        assert "100.0 % | 100.0 % (of 1) | 80.0 % | 0.0 % (of 1)" in row
    assert "| MNIST test digits | `/data/mnist` | 10,000 |" in md
    assert "Alpaydin, E. and Kaynak, C. (1998)" in md and "`m.keras`" in md
    assert "page of 10 numbers: 0.42 s" in md
    decimal_rows = [line for line in lines if line.startswith("| punctuation | ")
                    and line.count(" | ") > 3 and line.split(" | ")[2] == "1"]
    assert [row.split(" | ")[1] for row in decimal_rows] == [
        "MNIST test digits", "optdigits (30 writers)"]
    assert all("| 100.0 % | 100.0 % (of 1) |" in row for row in decimal_rows)
    assert "skipped" not in md
    assert "(2 models, calibrated)" in md and "a digit is unsure under x" in md
    trust = next(line for line in lines if line.startswith("| standard | MNIST | "))
    # fake_summary's one number: vouched for (confidence 0.99), right only at 5 of 5.
    assert trust.startswith("| standard | MNIST | 100.0 % | 100.00 % (of 1) | 100.0 % |")
    assert next(line for line in lines if line.startswith("| standard | optdigits | ")
                ).startswith("| standard | optdigits | 100.0 % | 0.00 % (of 1) | 0.0 % |")
    assert "| touching digits | MNIST | 100.0 % | none vouched for |" in md
    alone = digit_bench.report_markdown(
        {**config, "sources": {"mnist": sources["mnist"]},
         "skipped": {"optdigits": "no optdigits file at /x"}},
        {"mnist": results["mnist"]}, timing, [])
    assert "The optdigits half was skipped: no optdigits file at /x." in alone
    assert "optdigits per digit" not in alone


def test_the_terminal_line_says_when_no_number_was_vouched_for():
    vouched = digit_bench.summary_line("standard", fake_summary(5))
    assert "vouched for 100.0 % of the numbers, 100.0 % of those right (1 pages" in vouched
    none = digit_bench.summary_line("touching digits", {
        **fake_summary(5), "vouched_numbers": 0, "vouched_coverage": 0.0,
        "vouched_precision": None})
    assert "no number vouched for (1 pages" in none and "–" not in none
