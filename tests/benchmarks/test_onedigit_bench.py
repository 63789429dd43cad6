"""benchmarks/onedigit_bench.py's dry run: a large photo of one digit
prepared once, and two shadowed photos read by the three paths."""

import json

from benchmarks import onedigit_bench, portable
from tests.support import SAMPLE_DIR


def test_the_dry_run_times_the_large_photo_and_reads_two_shadowed_ones(tmp_path):
    result = onedigit_bench.main(onedigit_bench.parse_args(
        ["--dry-run", "--data-dir", str(SAMPLE_DIR), "--out-dir", str(tmp_path)]))
    assert len(result["prepare_seconds"]) == 1 and result["prepare_median"] > 0
    labels = [row["label"] for row in result["photos"]]
    assert len(labels) == 2  # the sample's first two test digits
    # The one-digit path finds the digit under a hand's shadow beside the
    # paper's edge, where the whole picture cropped to its ink does not.
    assert result["right"]["new"] == 2
    saved = json.loads((tmp_path / f"{result['date']}-onedigit-dry-run.json").read_text())
    assert saved["right"] == result["right"] and saved["command"] == portable(result["command"])
    report = (tmp_path / f"{result['date']}-onedigit-dry-run.md").read_text()
    # A timing says which machine gave it, and how to measure it again.
    assert result["machine"]["cpu"] in report and "onedigit_bench.py --dry-run" in report
    assert str(tmp_path) not in report  # the machine's own folders stay out of it
    assert all(f"\n| {label} | " in report for label in labels)
