"""Markdown tables and percentages (digitsuite.markdown), as every report writes them."""

import pytest

from digitsuite.markdown import bar_decimals, decimals_apart, percent, table


def test_table_has_header_rule_and_one_line_per_row_with_alignment():
    lines = table(["model", "accuracy"], [["CNN", "99.20 %"], ["LR", 0.942]],
                  ["left", "right"])
    assert lines == ["| model | accuracy |", "| --- | ---: |", "| CNN | 99.20 % |",
                     "| LR | 0.942 |"]
    assert table(["a"], [])[1] == "| --- |"


@pytest.mark.parametrize("probability, decimals, text", [
    (0.29, 0, "29%"), (0.5, 2, "50.00%"), (0.123456, 2, "12.34%"),
    (0.99996, 0, "99%"), (0.9999999999, 2, "99.99%"), (1.0, 0, "100%"), (0.0, 1, "0.0%")])
def test_percent_rounds_down_and_never_shows_a_near_certainty_as_100(probability, decimals,
                                                                     text):
    assert percent(probability, decimals) == text


@pytest.mark.parametrize("probability, bar", [
    (0.985, 0.989), (0.9893, 0.989), (0.98891, 0.98895), (0.68, 0.9), (0.9, 0.9),
    (0.90899, 0.9094), (0.9095, 0.9094), (0.5, 0.9094)])
def test_a_value_under_a_bar_never_reads_as_high_as_the_bar(probability, bar):
    """"check, 98%, under the 98.9% needed" beside "sure, 98%" said that the
    two numbers were equally likely right: shown with the decimals chosen
    here, a value under the bar reads under it and one at or over it does not."""
    places = decimals_apart(probability, bar)
    shown = float(percent(probability, places)[:-1])
    bar_shown = float(percent(bar, bar_decimals(bar, places))[:-1])
    assert (shown < bar_shown) == (probability < bar)
    # No more decimals than that takes: far from the bar, a whole percentage.
    assert places == 0 or percent(probability, places - 1) == percent(bar, places - 1)


def test_a_bar_is_shown_as_a_whole_percentage_only_when_it_is_one():
    assert percent(0.9, bar_decimals(0.9)) == "90%"
    assert percent(0.9094, bar_decimals(0.9094)) == "90.9%"
    assert percent(0.9094, bar_decimals(0.9094, 2)) == "90.94%"
    assert decimals_apart(0.5, None) == 0
