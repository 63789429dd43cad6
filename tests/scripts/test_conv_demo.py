"""conv_demo.py end to end: the bundled photo offline, a grey picture with a
custom kernel, and a kernel that is not square."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.support import run_script


def test_conv_demo_runs_offline_on_the_bundled_photo(tmp_path, capsys):
    result = run_script("conv_demo", ["--out-dir", tmp_path])
    assert result["image"].shape == (181, 301, 3)
    assert result["pooled"].shape == (90, 150, 3)
    assert result["valid"].shape == (179, 299, 3)
    assert all(out.shape == (181, 301, 3) for out in result["outputs"].values())
    assert {p.name for p in tmp_path.iterdir()} == {"convolution.png", "padding.png",
                                                    "pooling.png", "report.json", "report.md"}
    assert "2x2 max-pool: 181x301x3 -> 90x150x3" in capsys.readouterr().out
    assert "Sobel x (default --kernel)" in result["outputs"]
    # The report says what the figures show, in numbers a reader can check.
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["shape"] == [181, 301, 3] and report["valid"] == [179, 299, 3]
    assert report["same"] == [181, 301, 3] and report["pooled"] == [90, 150, 3]
    assert report["kernels"]["Sobel x (default --kernel)"] == [[1, 0, -1], [2, 0, -2],
                                                               [1, 0, -1]]
    example = report["padding_example"]
    assert example["valid"][0][0] == sum(range(1, 4)) + sum(range(6, 9)) + sum(range(11, 14))
    assert example["same"][0][0] == 1 + 2 + 6 + 7   # zeros round the edge
    markdown = (tmp_path / "report.md").read_text()
    assert "181x301x3 -> 179x299x3" in markdown and "![pooling.png](pooling.png)" in markdown


def test_conv_demo_on_a_grey_picture_with_a_custom_kernel(tmp_path):
    Image.new("L", (21, 15), 100).save(tmp_path / "grey.png")
    result = run_script("conv_demo", ["--image", tmp_path / "grey.png", "--kernel",
                                      "0 0 0; 0 2 0; 0 0 0", "--out-dir", tmp_path / "o"])
    assert result["image"].shape == (15, 21, 1) and result["pooled"].shape == (7, 10, 1)
    np.testing.assert_allclose(result["outputs"]["custom (--kernel)"][5, 5, 0],
                               2 * 100 / 255, atol=1e-5)


def test_conv_demo_rejects_a_kernel_that_is_not_square(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_script("conv_demo", ["--kernel", "1,2,3,4,5", "--out-dir", tmp_path])
    assert exit_info.value.code == 2
    assert "needs 9 numbers for a 3x3 kernel" in capsys.readouterr().err


def test_conv_demo_dry_run_shrinks_the_picture_and_writes_every_figure(tmp_path, capsys):
    result = run_script("conv_demo", ["--dry-run", "--out-dir", tmp_path])
    assert max(result["image"].shape[:2]) == 96  # the bundled photo is 181x301
    assert {p.name for p in tmp_path.iterdir()} == {"convolution.png", "padding.png",
                                                    "pooling.png", "report.json", "report.md"}
    assert "2x2 max-pool: 58x96x3 -> 29x48x3" in capsys.readouterr().out
