"""Every script that reads a user's picture, fed pictures of every size,
shape, mode and format, and file names that are not UTF-8: each reads the
picture or says in one ``error:`` line what is wrong, never a traceback,
and an error leaves no partial output."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support import draw_seven, odd_pictures, run_script

FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


def answers_or_one_line(capsys, script, argv, codes=(1, 2)):
    """Run ``script``; True when it answered, False after one error line."""
    capsys.readouterr()
    try:
        run_script(script, argv)
    except SystemExit as exit_info:
        err = capsys.readouterr().err
        assert exit_info.code in codes, err
        lines = err.strip().splitlines()
        assert lines and all(line.startswith("error: ") for line in lines), err
        assert "Traceback" not in err
        return False
    return True


def scripts(reader_model, picture, out_dir):
    return {
        "read_digits": ["--model", reader_model, "--json", "--out-dir", out_dir / "read",
                        picture],
        "visualize_layers": ["--dry-run", "--image", picture, "--out-dir", out_dir / "layers"],
        "conv_demo": ["--image", picture, "--out-dir", out_dir / "conv"],
    }


@FUZZ
@given(picture=odd_pictures())
@pytest.mark.slow
def test_every_script_reads_any_picture_or_says_why_in_one_line(reader_model, tmp_path_factory,
                                                                capsys, picture):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / picture[0]
    path.write_bytes(picture[1])
    for script, argv in scripts(reader_model, path, folder).items():
        if not answers_or_one_line(capsys, script, argv):
            out = argv[argv.index("--out-dir") + 1]
            # read_digits still writes readings.json (empty) for the images it read.
            written = sorted(p.name for p in out.glob("*")) if out.exists() else []
            assert set(written) <= {".lock", "readings.json"}, (script, written)


NOT_UTF8 = os.fsdecode(b"seven-\xff\xfe.png")


@pytest.mark.parametrize("script", ["read_digits", "visualize_layers", "conv_demo"])
@pytest.mark.slow
def test_a_file_name_that_is_not_utf8_works(reader_model, tmp_path, capsys, script):
    path = draw_seven(tmp_path / NOT_UTF8)
    argv = scripts(reader_model, path, tmp_path)[script]
    capsys.readouterr()
    run_script(script, argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    shown = "seven-\\xff\\xfe.png"  # the bytes that are not UTF-8, as \xNN
    if script == "read_digits":
        assert json.loads(captured.out)[0]["file"].endswith(shown)
    elif script == "visualize_layers":
        assert shown in captured.out


def test_an_unreadable_picture_with_a_name_that_is_not_utf8_is_one_line(tmp_path, capsys):
    path = tmp_path / NOT_UTF8
    path.write_bytes(b"not a picture")
    assert not answers_or_one_line(capsys, "visualize_layers",
                                   ["--dry-run", "--image", path, "--out-dir", tmp_path / "out"])
    assert not [p for p in (tmp_path / "out").glob("*.png")]
