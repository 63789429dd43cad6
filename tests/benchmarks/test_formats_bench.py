"""benchmarks/formats_bench.py's dry run: single digits saved as digit
collections keep them, read by both paths with the shipped reader."""

import json

from benchmarks import formats_bench
from tests.support import SAMPLE_DIR


def test_the_dry_run_reads_each_form_of_three_digits(tmp_path):
    result = formats_bench.main(formats_bench.parse_args(
        ["--dry-run", "--data-dir", str(SAMPLE_DIR), "--out-dir", str(tmp_path)]))
    forms = result["forms"]
    assert len(forms) == 7 and all(row["digits"] == 3 for row in forms.values())
    # MNIST's own files, a light digit on black, are digits to both paths.
    mnist = forms["MNIST's file: 28x28, light on black"]
    assert mnist["file"]["none"] == 0 and mnist["one_digit"]["none"] == 0
    assert mnist["file"]["right"] >= 2 and mnist["one_digit"]["right"] >= 2
    tight = forms["cropped to its ink's box"]
    assert tight["one_digit"]["right"] >= 2
    for row in forms.values():
        assert row["file"]["vouched_right"] <= row["file"]["vouched"] <= row["digits"]
    saved = json.loads((tmp_path / f"{result['date']}-formats-dry-run.json").read_text())
    assert saved["forms"] == forms
    report = (tmp_path / f"{result['date']}-formats-dry-run.md").read_text()
    assert "| MNIST's file: 28x28, light on black |" in report
    assert result["machine"]["cpu"] in report
    # Each digit either path got wrong is listed under its form, with the
    # polarity the file path saw: what a reader of the report looks at next.
    misread = report.split("## Misread")[1]
    for name, row in forms.items():
        assert f"- **{name}** ({len(row['misread'])}): " in misread
        for wrong in row["misread"]:
            assert wrong["ink"] in ("dark on light", "light on dark", "")
            assert f"{wrong['index']}: {wrong['label']} read `" in misread
