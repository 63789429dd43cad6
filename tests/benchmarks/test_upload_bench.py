"""benchmarks/upload_bench.py's dry run: it starts the real app.py, sends
the worst-case upload at once from two clients, and records the server's
memory beside the answers."""

import json

import pytest

from benchmarks import upload_bench


@pytest.mark.slow  # starts app.py in a process of its own
def test_the_dry_run_measures_the_apps_memory_under_a_hostile_upload(tmp_path, capsys):
    result = upload_bench.main(upload_bench.parse_args(["--dry-run", "--settle", "0.5",
                                                        "--out-dir", str(tmp_path)]))
    [row] = result["rows"]
    assert row["statuses"] == [400]  # refused from its header, never decoded
    assert row["clients"] == 2 and row["route"] == "/api/digit"
    assert row["peak_rss_mb"] >= row["settled_rss_mb"] > 0 and row["idle_rss_mb"] > 0
    saved = json.loads((tmp_path / f"{result['date']}-upload-memory-dry-run.json").read_text())
    assert saved["rows"] == result["rows"]
    report = (tmp_path / f"{result['date']}-upload-memory-dry-run.md").read_text()
    assert "| 7000x7000 RGBA PNG (refused) |" in report and result["machine"]["cpu"] in report
