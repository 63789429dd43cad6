"""Output files (digitsuite.fileio): a full disk, a run's files as one set,
one run per folder, and temporary files left by killed runs."""

import errno
import json
import os
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pytest

from digitsuite import fileio
from digitsuite.backend import keras
from digitsuite.errors import DigitsuiteError
from digitsuite.fileio import (
    DiskFull,
    atomic_path,
    finish_output_set,
    output_set,
    prepare_out_dir,
    release_folders,
    save_figure,
    write_json,
    write_text,
)
from digitsuite.inference.runs import save_model
from digitsuite.training.loop import _save_arrays
from tests.support import ROOT


def fills_the_disk(path, *args, **kwargs):
    """Stands in for a writer: writes part of the file, then meets a full disk."""
    with open(path if isinstance(path, (str, os.PathLike)) else args[0], "wb") as f:
        f.write(b"x" * 5000)
    raise OSError(errno.ENOSPC, "No space left on device")


# What a run writes, each through the writer it really uses, patched to fill the disk.
WRITERS = {
    "report.md": ("pathlib.Path.write_text", lambda path: write_text(path, "# report")),
    "epoch001.rng.npz": ("numpy.savez", lambda path: _save_arrays(path, [np.zeros(3)])),
    "history.png": ("matplotlib.figure.Figure.savefig",
                    lambda path: save_figure(plt.subplots()[0], path)),
    "model.keras": ("keras.Model.save", lambda path: save_model(_tiny_model(), path)),
}


def _tiny_model():
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


@pytest.mark.parametrize("name", WRITERS)
def test_full_disk_is_one_error_naming_the_file_and_keeps_the_old_one(name, tmp_path,
                                                                      monkeypatch):
    target, write = WRITERS[name]
    path = tmp_path / name
    path.write_bytes(b"the earlier run's file")
    monkeypatch.setattr(target, fills_the_disk if name != "history.png"
                        else lambda fig, tmp, **kw: fills_the_disk(tmp))
    with pytest.raises(DiskFull) as error:
        write(path)
    monkeypatch.undo()
    message = str(error.value)
    assert message.startswith(f"cannot write {path}: the disk is full (")
    assert "free, at least 5.0 KB needed); free some space or choose another --out-dir" \
        in message
    assert error.value.exit_code == 2
    assert path.read_bytes() == b"the earlier run's file"
    assert [p.name for p in tmp_path.iterdir()] == [name], "temporary file left behind"


def test_full_disk_reported_by_h5py_without_errno_is_recognised(tmp_path):
    path = tmp_path / "model.keras"
    with pytest.raises(DiskFull, match="cannot write .*model.keras: the disk is full"):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"part")
            try:
                raise OSError("Unable to synchronously write data (file write failed: "
                              "errno = 28, error message = 'No space left on device')")
            except OSError as exc:
                raise ValueError("saving failed") from exc
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# A run's files as one set


def test_output_set_lands_together_or_not_at_all(tmp_path):
    write_text(tmp_path / "model.keras", "old model")
    write_text(tmp_path / "metrics.json", "old metrics")
    with pytest.raises(KeyboardInterrupt), output_set(tmp_path):
        write_text(tmp_path / "model.keras", "new model")
        assert (tmp_path / "model.keras").read_text() == "old model"  # not yet
        raise KeyboardInterrupt  # before metrics.json: the old set stays whole
    assert (tmp_path / "model.keras").read_text() == "old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.keras"]

    with output_set(tmp_path):
        write_text(tmp_path / "model.keras", "new model")
        write_json(tmp_path / "metrics.json", {"new": True})
    assert (tmp_path / "model.keras").read_text() == "new model"
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"new": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.keras"]


@pytest.mark.parametrize("kind", ["folder", "link"])
def test_a_folder_or_link_where_a_file_goes_is_refused_before_the_work(kind, tmp_path):
    """A run would only find out when it moves its files into place, after
    minutes of training: the folder is refused when it is prepared, and a
    set that meets one anyway stops in one line and leaves nothing behind."""
    (tmp_path / "elsewhere.keras").write_text("someone's file")
    blocker = tmp_path / "model.keras"
    blocker.mkdir() if kind == "folder" else blocker.symlink_to(tmp_path / "elsewhere.keras")
    with pytest.raises(DigitsuiteError, match=f"model.keras is a {kind}, where this run "
                                              "writes a file of that name; move it away"):
        prepare_out_dir(tmp_path, writes=("config.json", "model.keras"))
    release_folders()
    prepare_out_dir(tmp_path, writes=("config.json",))  # other names are no matter
    with pytest.raises(DigitsuiteError, match=f"is a {kind}"), output_set(tmp_path):
        write_text(tmp_path / "config.json", "new")
        write_text(tmp_path / "model.keras", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "elsewhere.keras",
                                                          "model.keras"]
    assert (tmp_path / "elsewhere.keras").read_text() == "someone's file"


def test_a_set_committed_by_a_killed_run_is_finished_by_the_next_reader(tmp_path):
    """Killed after the journal, before every file was moved: the new set wins."""
    (tmp_path / "model.keras").write_text("new model")     # moved before the kill
    (tmp_path / "metrics.json").write_text("old metrics")
    (tmp_path / ".metrics.tmp999999.json").write_text("new metrics")
    (tmp_path / fileio.PENDING_SET).write_text(json.dumps({"pid": 999999, "files": [
        [".model.tmp999999.keras", "model.keras"], [".metrics.tmp999999.json", "metrics.json"]]}))
    finish_output_set(tmp_path)
    assert (tmp_path / "metrics.json").read_text() == "new metrics"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.keras"]


def test_temporary_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    for folder in (tmp_path, tmp_path / "checkpoint"):
        folder.mkdir(exist_ok=True)
        (folder / f".model.tmp{dead}.keras").write_bytes(b"x" * 100)
        (folder / f".epoch001.rng.tmp{dead}.npz").write_bytes(b"")
        (folder / f".mine.tmp{os.getpid()}.json").write_text("{}")  # a live writer's
        (folder / "model.keras").write_text("kept")
    prepare_out_dir(tmp_path)
    release_folders()
    for folder in (tmp_path, tmp_path / "checkpoint"):
        left = {p.name for p in folder.iterdir()} - {fileio.LOCK_FILE, "checkpoint"}
        assert left == {f".mine.tmp{os.getpid()}.json", "model.keras"}


# --------------------------------------------------------------------------
# One folder, one run

HOLD = textwrap.dedent("""
    import sys, time
    sys.argv[0] = "train_cnn.py"
    from digitsuite.fileio import prepare_out_dir
    prepare_out_dir(sys.argv[1])
    print("holding", flush=True)
    time.sleep(120)
""")


def test_a_folder_held_by_a_live_run_is_refused_naming_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(DigitsuiteError) as error:
            prepare_out_dir(tmp_path)
        assert str(error.value).startswith(
            f"{tmp_path} is in use by train_cnn.py (pid {holder.pid} on ")
        assert str(error.value).endswith("wait for it to finish or choose another --out-dir")
    finally:
        holder.kill()
        holder.wait()
    # Killed outright, it held the lock no longer: the folder is free again.
    prepare_out_dir(tmp_path)
    release_folders()


def test_a_lock_file_left_by_a_dead_run_does_not_block(tmp_path):
    (tmp_path / fileio.LOCK_FILE).write_text(json.dumps(
        {"pid": 999999, "host": "elsewhere", "script": "train_cnn.py", "started": "then"}))
    prepare_out_dir(tmp_path)
    info = json.loads((tmp_path / fileio.LOCK_FILE).read_text())
    assert info["pid"] == os.getpid()
    prepare_out_dir(tmp_path)  # the same process may hold it twice
    release_folders()


def test_a_write_stopped_inside_a_set_leaves_no_temporary_file(tmp_path):
    write_text(tmp_path / "report.md", "old")
    with pytest.raises(KeyboardInterrupt), output_set(tmp_path):
        with atomic_path(tmp_path / "model.keras") as tmp:
            tmp.write_bytes(b"half a model")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
