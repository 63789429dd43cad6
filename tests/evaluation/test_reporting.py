"""Run records (digitsuite.evaluation.reporting): a shipped run keeps no
path of the machine it was made on."""

import pytest

from digitsuite.evaluation.reporting import make_run_portable, portable_text


@pytest.mark.parametrize("text, expected", [
    ("IDX files in /data/shared/mnist-full", "IDX files in mnist-full"),
    ("--data-dir ../shared/data/mnist-full --out-dir /srv/runs/reader",
     "--data-dir mnist-full --out-dir reader"),
    ("| out_dir | /srv/runs/reader |", "| out_dir | reader |"),
    ("models/reader and runs/cnn", "models/reader and runs/cnn"),
    ("see https://example.org/a/b; 60,000 train / 10,000 test",
     "see https://example.org/a/b; 60,000 train / 10,000 test"),
])
def test_portable_text_cuts_machine_paths_and_keeps_the_rest(text, expected):
    assert portable_text(text, root="/nowhere/project") == expected


def test_paths_inside_the_project_become_relative(tmp_path):
    assert portable_text(f"in {tmp_path}/sample_data/x", root=tmp_path) == "in sample_data/x"


def test_make_run_portable_rewrites_config_and_report(tmp_path):
    (tmp_path / "config.json").write_text('{"data_dir": "/srv/data/mnist-full"}')
    (tmp_path / "report.md").write_text("Data: IDX files in /srv/data/mnist-full\n")
    make_run_portable(tmp_path, root="/nowhere")
    assert (tmp_path / "config.json").read_text() == '{"data_dir": "mnist-full"}'
    assert (tmp_path / "report.md").read_text() == "Data: IDX files in mnist-full\n"
