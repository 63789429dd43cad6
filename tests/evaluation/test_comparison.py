"""The comparison's statistics (digitsuite.evaluation.comparison) on small
known inputs."""

import math

import numpy as np
import pytest

from digitsuite.evaluation.comparison import (
    accuracy_interval,
    compare,
    error_reduction,
    holm,
    markdown_tables,
    mcnemar,
)


def test_error_reduction_arithmetic():
    # The seed's "about 60 %": dense 2.1 % error -> CNN 0.9 %.
    assert error_reduction(0.021, 0.009) == pytest.approx(12 / 21)
    assert error_reduction(0.10, 0.05) == pytest.approx(0.5)
    assert error_reduction(0.01, 0.02) == pytest.approx(-1.0)
    assert error_reduction(0.0, 0.01) is None


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(90, 100), (1991, 2000), (3, 10)])
def test_accuracy_interval_is_the_wilson_interval(k, n):
    assert accuracy_interval(k, n) == pytest.approx(wilson(k, n), abs=1e-9)


def test_accuracy_interval_at_perfect_accuracy_stays_below_one():
    low, high = accuracy_interval(100, 100)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(100 / (100 + 1.959963984540054 ** 2))  # 0.963


def test_mcnemar_exact_p_value():
    # 1 image only A gets right, 6 only B, 3 both: p = 2 * P(X <= 1 | 7, 1/2) = 16/128.
    a = np.array([1, 0, 0, 0, 0, 0, 0, 1, 1, 1], bool)
    b = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], bool)
    assert mcnemar(a, b) == {"only_first_correct": 1, "only_second_correct": 6,
                             "p_value": pytest.approx(0.125)}
    assert mcnemar(a, a)["p_value"] == 1.0


def test_holm_adjustment():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_compare_on_known_predictions():
    y = np.zeros(10, int)
    result = compare(y, {"dense": np.r_[np.zeros(8), np.ones(2)],
                         "cnn": np.r_[np.zeros(9), np.ones(1)]}, {"cnn": {"title": "CNN"}})
    dense, cnn = result["models"]["dense"], result["models"]["cnn"]
    assert (dense["n_errors"], cnn["n_errors"]) == (2, 1)
    assert cnn["error_reduction"] == {"dense": pytest.approx(0.5)}
    assert dense["error_reduction"] == {"cnn": pytest.approx(-1.0)}
    assert cnn["reference_error_reduction"]["dense"] == pytest.approx(1 - 0.009 / 0.021)
    assert cnn["title"] == "CNN"
    assert result["mcnemar"] == [{
        "models": ["dense", "cnn"], "only_first_correct": 0, "only_second_correct": 1,
        "p_value": 1.0, "p_holm": 1.0, "significant": False}]


@pytest.mark.parametrize("precision,reason,shown", [
    ("int8", "asked for", "litert in int8 (asked for)"),
    ("float32", "float32 kept: int8 0.98x as fast", "litert in float32 (float32 kept: int8 0.98x"),
    ("float32", "exact", None),
])
def test_the_table_says_in_what_arithmetic_a_model_answered_and_why(precision, reason, shown):
    """--precision auto may keep float32 after measuring int8: the printed
    table says so, as it says why int8 was used."""
    y = np.zeros(10, int)
    details = {"cnn": {"title": "CNN", "engine": "litert", "precision": precision,
                       "precision_reason": reason, "params": 1, "params_kind": "weights",
                       "images_per_second": 1000.0, "train_seconds": 1.0}}
    table = markdown_tables(compare(y, {"cnn": np.zeros(10)}, details))
    if shown:
        assert shown in table
    else:
        assert "engines: CNN litert." in table and "(exact)" not in table


def test_accuracy_chart_shows_every_seed_figure():
    import matplotlib.pyplot as plt

    from digitsuite.evaluation.comparison import plot_accuracy

    y = np.zeros(400, int)
    # Both far above the seed's figures (LR 92 %), so the intervals alone
    # would start the axis above 92.
    predictions = {"lr": np.r_[np.zeros(396), np.ones(4)],
                   "cnn": np.r_[np.zeros(398), np.ones(2)]}
    details = {name: {"title": name, "params": 1, "params_kind": "weights",
                      "images_per_second": 1.0} for name in predictions}
    fig = plot_accuracy(compare(y, predictions, details))
    low, high = fig.axes[0].get_ylim()
    plt.close(fig)
    assert low <= 92 - 0.5 and high >= 100
