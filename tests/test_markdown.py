"""Markdown tables and percentages (digitsuite.markdown), as every report writes them."""

import pytest

from digitsuite.markdown import percent, table


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
