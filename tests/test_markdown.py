"""Markdown tables (digitsuite.markdown), as every report writes them."""

from digitsuite.markdown import table


def test_table_has_header_rule_and_one_line_per_row_with_alignment():
    lines = table(["model", "accuracy"], [["CNN", "99.20 %"], ["LR", 0.942]],
                  ["left", "right"])
    assert lines == ["| model | accuracy |", "| --- | ---: |", "| CNN | 99.20 % |",
                     "| LR | 0.942 |"]
    assert table(["a"], [])[1] == "| --- |"
