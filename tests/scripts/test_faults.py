"""train_cnn.py killed outright (SIGKILL) at chosen moments, stopped by
SIGTERM during its final save, run onto a full disk, and started twice into
one folder: afterwards the folder holds a whole set of files, old or new,
and --resume either ends as an uninterrupted run or says in one line that
there is nothing to resume.

The kill points are every file operation of a run in its --out-dir (before
it, with the temporary file cut to half as if the kill came mid-write, and
after it) and every training batch. CI tries three, drawn at random from
the epochs, the checkpoint writes and the final save (a failure names its
point; DIGITSUITE_KILL_POINTS=before:12 tries that one again);
DIGITSUITE_KILL_POINTS=all tries every one (docs/faults.md has the figures).
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from digitsuite import fileio
from digitsuite.training import loop as training
from tests.support import ROOT, comparable, fails_with_one_line, run_script, saved_weights

OUTPUTS = ["model.keras", "config.json", "metrics.json", "report.md", "history.png",
           "confusion.png"]

# Runs a script like `python train_cnn.py ...`, SIGKILLed at one point:
#   before:N / after:N  around the N-th file operation (os.replace or os.unlink)
#                       on a path under --out-dir; "before" a replace first
#                       cuts its temporary file to half, as a kill mid-write would;
#   batch:E:K           after the K-th call of epoch E into TensorFlow (both from
#                       0; each call runs up to 8 steps, then on_train_batch_end).
KILLER = textwrap.dedent("""
    import os, signal, sys

    spec, out_dir, argv = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3:]
    kind, *numbers = spec.split(":")
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    count = [0]

    def patch(name):
        real = getattr(os, name)

        def operation(path, *args, **kwargs):
            inside = os.path.abspath(str(path)).startswith(out_dir + os.sep)
            count[0] += inside
            if inside and kind == "before" and count[0] == int(numbers[0]):
                if name == "replace":
                    os.truncate(path, os.path.getsize(path) // 2)
                die()
            try:
                return real(path, *args, **kwargs)
            finally:
                # Also when the operation raised (unlinking a temporary file
                # that is already gone): the caller catches that, goes on, and
                # a kill point after it would never come.
                if inside and kind == "after" and count[0] == int(numbers[0]):
                    die()

        setattr(os, name, operation)

    patch("replace")
    patch("unlink")
    sys.argv[0] = "train_cnn.py"
    import train_cnn
    from digitsuite import cli
    from digitsuite.training import loop

    if kind == "batch":
        def on_train_batch_end(self, batch, logs=None):
            if [self.epoch, self.calls] == [int(n) for n in numbers]:
                die()
            self.calls += 1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.calls = epoch, 0

        loop.KeepBestWeights.on_epoch_begin = on_epoch_begin
        loop.KeepBestWeights.on_train_batch_end = on_train_batch_end
    cli.run(train_cnn.main, train_cnn.parse_args(argv + ["--out-dir", out_dir]))
""")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sample):
    """300 training and 100 test digits of the sample, as one .npz."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.npz"
    np.savez(path, x_train=sample["x_train"][:300], y_train=sample["y_train"][:300],
             x_test=sample["x_test"][:100], y_test=sample["y_test"][:100])
    return path


def train_argv(tiny):
    # Two epochs of nine steps: two calls into TensorFlow each (8 + 1 steps).
    return ["--epochs", "2", "--batch-size", "32", "--data-dir", str(tiny)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny):
    """An uninterrupted run, and the file operations it made in its folder."""
    out = tmp_path_factory.mktemp("reference")
    operations = []
    real = {name: getattr(os, name) for name in ("replace", "unlink")}

    def recording(name):
        def operation(path, *args, **kwargs):
            if os.path.abspath(str(path)).startswith(str(out) + os.sep):
                operations.append((name, os.path.relpath(str(args[0] if name == "replace"
                                                             else path), out)))
            return real[name](path, *args, **kwargs)
        return operation

    mp = pytest.MonkeyPatch()
    for name in real:
        mp.setattr(os, name, recording(name))
    try:
        run_script("train_cnn", [*train_argv(tiny), "--out-dir", out])
    finally:
        mp.undo()
    return out, operations


def kill_points(operations, epochs=2, calls=2):
    """Every kill point of a run: (spec, where) with where one of 'epoch',
    'checkpoint' and 'final save'."""
    points = [(f"batch:{e}:{k}", "epoch") for e in range(epochs) for k in range(calls)]
    for n, (_, target) in enumerate(operations, start=1):
        where = "checkpoint" if target.startswith("checkpoint") else "final save"
        points += [(f"before:{n}", where), (f"after:{n}", where)]
    return points


def chosen_points(operations):
    points = kill_points(operations)
    wanted = os.environ.get("DIGITSUITE_KILL_POINTS")
    if wanted == "all":
        return points
    if wanted:  # e.g. "before:12,batch:1:0", to repeat a failure
        return [p for p in points if p[0] in wanted.split(",")]
    rng = random.Random(os.environ.get("DIGITSUITE_KILL_SEED"))
    return [rng.choice([p for p in points if p[1] == where])
            for where in ("epoch", "checkpoint", "final save")]


def earlier_set(folder):
    """An earlier run's complete set of files in ``folder``: {name: bytes}."""
    folder.mkdir(parents=True)
    files = {name: f"the earlier run's {name}".encode() for name in OUTPUTS}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return files


def killed(spec, out, tiny):
    """Run train_cnn.py into ``out`` and SIGKILL it at ``spec``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", KILLER, spec, str(out), *train_argv(tiny)],
                          capture_output=True, text=True, env=env, timeout=600)
    return done


@pytest.mark.slow
def test_killed_runs_leave_a_whole_set_and_resume_exactly(reference, tiny, tmp_path, capsys):
    ref_out, operations = reference
    points = chosen_points(operations)
    folders = [tmp_path / f"run{i}" for i in range(len(points))]
    befores = [earlier_set(folder) for folder in folders]
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda p: killed(p[0][0], p[1], tiny), zip(points, folders)))
    ref_weights = saved_weights(ref_out / "model.keras")
    ref_metrics = comparable(json.loads((ref_out / "metrics.json").read_text()))
    outcomes = {"resumed": 0, "nothing to resume": 0}
    for (spec, where), folder, before, run in zip(points, folders, befores, runs):
        context = f"kill point {spec} ({where})"
        assert run.returncode == -signal.SIGKILL, f"{context}: {run.stderr[-2000:]}"
        # Straight after the kill: the old set, or a new one committed to the journal.
        now = {name: (folder / name).read_bytes() for name in OUTPUTS}
        if not (folder / fileio.PENDING_SET).exists():
            assert now == before or all(now[n] != before[n] for n in OUTPUTS), context

        capsys.readouterr()
        try:
            run_script("train_cnn", ["--resume", "--out-dir", folder])
            outcome = "resumed"
        except SystemExit as exit_info:
            err = capsys.readouterr().err
            assert exit_info.code == 2, f"{context}: {err}"
            assert err.count("\n") == 1 and "Traceback" not in err, f"{context}: {err}"
            assert err.startswith("error: nothing to resume: no checkpoint in "), context
            outcome = "nothing to resume"
        outcomes[outcome] += 1
        assert not [p for p in folder.rglob("*") if ".tmp" in p.name], \
            f"{context}: temporary files left"
        names = {p.name for p in folder.iterdir()}
        assert fileio.PENDING_SET not in names and fileio.LOCK_FILE not in names, context
        after = {name: (folder / name).read_bytes() for name in OUTPUTS}
        if after == before:  # nothing usable: the earlier run's files, as they were
            assert outcome == "nothing to resume", context
            continue
        # Otherwise the new set, whole, and the uninterrupted run's (killed
        # after state.json went, there is nothing left to resume).
        assert all(after[n] != before[n] for n in OUTPUTS), f"{context}: a mixed set"
        assert not (folder / "checkpoint" / training.CHECKPOINT_STATE).exists(), context
        if outcome == "resumed":
            assert not (folder / "checkpoint").exists(), context
        assert comparable(json.loads((folder / "metrics.json").read_text())) == ref_metrics
        for a, b in zip(saved_weights(folder / "model.keras"), ref_weights):
            np.testing.assert_array_equal(a, b, err_msg=context)
    print(f"kill points tried: {len(points)}, survived: {len(points)} ({outcomes})")


@pytest.mark.slow
def test_sigterm_during_the_final_save_says_how_to_resume_and_keeps_the_old_set(
        reference, tiny, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    before = earlier_set(out)
    real_save = fileio.save_figure

    def stopped(fig, path, **kwargs):
        real_save(fig, path, **kwargs)
        raise KeyboardInterrupt  # what SIGTERM becomes (cli.run)

    monkeypatch.setattr("digitsuite.evaluation.reporting.save_figure", stopped)
    with pytest.raises(SystemExit) as exit_info:
        run_script("train_cnn", [*train_argv(tiny), "--out-dir", out])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == (
        f"error: interrupted; completed epochs are saved in {out / 'checkpoint'}; "
        f"continue with: python train_cnn.py --resume --out-dir {out}")
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]

    monkeypatch.undo()
    run_script("train_cnn", ["--resume", "--out-dir", out])
    for a, b in zip(saved_weights(out / "model.keras"),
                    saved_weights(reference[0] / "model.keras")):
        np.testing.assert_array_equal(a, b)


def test_a_second_run_into_a_held_folder_stops_at_once_naming_the_first(tiny, tmp_path,
                                                                        capsys):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    hold = ("import sys, time; sys.argv[0] = 'train_cnn.py'; "
            "from digitsuite.fileio import prepare_out_dir; prepare_out_dir(sys.argv[1]); "
            "print('holding', flush=True); time.sleep(120)")
    first = subprocess.Popen([sys.executable, "-c", hold, str(out)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "holding"
        err = fails_with_one_line(capsys, "train_cnn", [*train_argv(tiny), "--out-dir", out])
        assert err.startswith(
            f"error: {out} is in use by train_cnn.py (pid {first.pid} on ")
    finally:
        first.kill()
        first.wait()
    assert sorted(p.name for p in out.iterdir()) == [fileio.LOCK_FILE]  # the dead run's
    # Taken over: --resume gets past the lock to its own error, and lets go.
    with pytest.raises(SystemExit):
        run_script("train_cnn", ["--resume", "--out-dir", out])
    assert capsys.readouterr().err.startswith("error: nothing to resume")
    assert not (out / fileio.LOCK_FILE).exists()


def fill_the_disk_at(monkeypatch, epoch_prefix):
    """From the checkpoint file whose name starts with ``epoch_prefix`` on,
    each one meets a full disk after writing part of itself."""
    real = training._save_arrays

    def full(path, arrays):
        if path.name.startswith(epoch_prefix):
            with fileio.atomic_path(path) as tmp:
                tmp.write_bytes(b"x" * 3000)
                raise OSError(28, "No space left on device")
        real(path, arrays)

    monkeypatch.setattr(training, "_save_arrays", full)


def test_full_disk_during_training_is_one_line_and_keeps_the_checkpoint(tiny, tmp_path,
                                                                         monkeypatch, capsys):
    """The second epoch's checkpoint meets a full disk: one line naming the
    file, the first epoch's checkpoint kept for --resume."""
    out = tmp_path / "run"
    fill_the_disk_at(monkeypatch, "epoch002")
    err = fails_with_one_line(capsys, "train_cnn", [*train_argv(tiny), "--out-dir", out])
    assert err.startswith(f"error: cannot write {out / 'checkpoint' / 'epoch002.rng.npz'}: "
                          "the disk is full (")
    assert err.endswith(f"completed epochs are kept in {out / 'checkpoint'}: continue "
                                 f"with python train_cnn.py --resume --out-dir {out} when "
                                 "there is room")
    state = json.loads((out / "checkpoint" / training.CHECKPOINT_STATE).read_text())
    assert state["epochs_done"] == 1
    assert not [p for p in (out / "checkpoint").iterdir() if ".tmp" in p.name]


def test_full_disk_at_the_first_checkpoint_leaves_nothing_it_cannot_use(tiny, tmp_path,
                                                                         monkeypatch, capsys):
    """epoch001.keras is written, then the disk fills: no state.json could name
    it, so no checkpoint is left to hold the space (and nothing to resume)."""
    out = tmp_path / "run"
    fill_the_disk_at(monkeypatch, "epoch001")
    err = fails_with_one_line(capsys, "train_cnn", [*train_argv(tiny), "--out-dir", out])
    assert err.startswith(f"error: cannot write {out / 'checkpoint' / 'epoch001.rng.npz'}: "
                          "the disk is full (")
    assert not (out / "checkpoint").exists()
    monkeypatch.undo()
    err = fails_with_one_line(capsys, "train_cnn", ["--resume", "--out-dir", out])
    assert err.startswith("error: nothing to resume")


@pytest.mark.skipif(shutil.which("mount") is None or os.geteuid() != 0,
                    reason="mounting a small tmpfs needs root")
def test_a_real_full_disk_keeps_the_earlier_run_whole(tiny, tmp_path, capsys):
    """A 1 MB tmpfs holding an earlier run: the new model (2.9 MB) cannot fit."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = disk / "run"
        before = earlier_set(out)
        err = fails_with_one_line(capsys, "train_cnn", [*train_argv(tiny), "--out-dir", out])
        assert err.startswith(f"error: cannot write {out / 'checkpoint' / 'epoch001.keras'}: "
                              "the disk is full ("), err
        assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
        assert not [p for p in out.rglob("*") if ".tmp" in p.name]
        assert not (out / "checkpoint").exists()
    finally:
        subprocess.run(["umount", str(disk)], check=True)
