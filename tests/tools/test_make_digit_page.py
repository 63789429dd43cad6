"""tools/make_digit_page.py: the bundled page is what it draws, and
read_digits.py reads that page line by line."""

import importlib
import json

import numpy as np
from PIL import Image

from tests.support import ROOT, run_script


def test_bundled_page_is_what_its_tool_draws_and_reads_line_by_line(tmp_path, capsys,
                                                                    reader_model):
    tool = importlib.import_module("tools.make_digit_page")
    lines = tool.main(tool.parse_args(["--out-dir", str(tmp_path)]))
    committed = ROOT / "sample_data"
    drawn = np.asarray(Image.open(tmp_path / "digits_page.png"), np.int16)
    bundled = np.asarray(Image.open(committed / "digits_page.png"), np.int16)
    # Equal up to rounding differences between scipy/numpy versions.
    assert drawn.shape == bundled.shape and np.abs(drawn - bundled).max() <= 3
    assert (committed / "digits_page.txt").read_text().split() == lines
    capsys.readouterr()  # the tool's own line
    run_script("read_digits", [committed / "digits_page.png", "--model", reader_model,
                               "--json"])
    [page] = json.loads(capsys.readouterr().out)
    read = [line.replace(" ", "") for line in page["lines"]]
    assert [len(line) for line in read] == [len(line) for line in lines]
    assert sum(a == b for r, t in zip(read, lines) for a, b in zip(r, t)) >= 20  # of 24
