"""Output files and folders that survive a crash, a full disk and a second run.

- Every file is written to a temporary file beside it and moved into place
  (:func:`atomic_path`): a run killed at any moment leaves the old file or
  the new one, never a half-written one. A full disk is one error naming the
  file; the temporary file is removed.
- A run's files land as one set (:func:`output_set`): they are all written
  to temporary files first, then a journal naming them is written, then
  they are moved into place. A run killed before the journal leaves the old
  set (its temporary files are removed by the next run in the folder); one
  killed after it leaves the new set, which the next run writing into the
  folder finishes moving into place. A tool that only reads the folder
  reads the new set where it lies (:func:`committed_path`) and writes
  nothing; a journal that is not exactly the suite's is refused, never
  followed (:func:`pending_set`).
- One folder, one run (:func:`prepare_out_dir`): a run holds a lock on its
  output folder until it ends; a second run into the same folder stops at
  once with one line naming the first. The lock is an ``flock`` on
  ``.lock``, which the system drops when its process dies, however it died.
  Housekeeping never follows a symlink out of the folder.
  docs/faults.md has the details and the tests that kill runs.
"""

import contextlib
import contextvars
import datetime
import errno
import json
import os
import re
import shutil
import socket
import stat
import sys
from pathlib import Path

from digitsuite.errors import DigitsuiteError

LOCK_FILE = ".lock"
PENDING_SET = ".pending-set.json"
# Temporary files are named .<stem>.tmp<pid><suffix> (atomic_path).
_TEMP_NAME = re.compile(r"^\..+\.tmp(\d+)(\.[^.]*)?$")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

# The folder whose files are being written as one set, and their
# (temporary, final) paths so far; see output_set.
_STAGING = contextvars.ContextVar("output_set", default=None)


class DiskFull(DigitsuiteError):
    """A file could not be written because its disk (or quota) is full."""


def _is_disk_full(exc):
    """True when ``exc`` or an exception it was raised from says the disk is full.

    h5py (inside ``model.save``) reports a full disk as an OSError without an
    errno, so its message is read too.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and (exc.errno in _DISK_FULL
                                         or "No space left on device" in str(exc)
                                         or "Disk quota exceeded" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _size_text(n):
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _disk_full_error(path, tmp):
    """The one-line error for ``path`` whose temporary ``tmp`` filled the disk."""
    written = tmp.stat().st_size if tmp.exists() else 0
    earlier = path.stat().st_size if path.is_file() else 0
    free = shutil.disk_usage(path.parent).free
    return DiskFull(
        f"cannot write {path}: the disk is full ({_size_text(free)} free, at least "
        f"{_size_text(max(written, earlier, 1))} needed); free some space or choose another "
        "--out-dir")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place on success.

    The temporary name keeps the suffix, so writers that pick a format from
    the extension (``fig.savefig``, ``model.save``) behave as for ``path``.
    On any exception the temporary file is removed and ``path`` is untouched;
    a full disk becomes :class:`DiskFull`, naming ``path``. Inside
    :func:`output_set` for ``path``'s folder, the move waits for the set.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    staging = _STAGING.get()
    staged = staging is not None and staging[0] == path.parent.resolve()
    done = False
    # Whatever has this name is not a live writer's (the pid is ours): a
    # symlink planted here must not be written through.
    if os.path.lexists(tmp):
        tmp.unlink()
    try:
        yield tmp
        if staged:
            if not tmp.is_file():
                raise FileNotFoundError(errno.ENOENT, "the writer wrote nothing", str(tmp))
            staging[1].append((tmp, path))
        else:
            os.replace(tmp, path)
        done = True
    except Exception as exc:
        if _is_disk_full(exc):
            raise _disk_full_error(path, tmp) from exc
        raise
    finally:
        if not done:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def output_set(folder):
    """Files written with :func:`atomic_path` into ``folder`` inside this block
    land as one set: a crash leaves the old set or the new one, never a mix.

    On an exception (Ctrl-C, a full disk) the new files are removed and the
    old set stays as it was.
    """
    folder = Path(folder)
    staged = []
    token = _STAGING.set((folder.resolve(), staged))
    try:
        yield
        _STAGING.reset(token)
        token = None
        check_room_for(folder, [path.name for _, path in staged])
        # Written last: from here the new set is the folder's set.
        write_json(folder / PENDING_SET, {"pid": os.getpid(), "files": [
            [tmp.name, path.name] for tmp, path in staged]})
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        if token is not None:
            _STAGING.reset(token)
    finish_output_set(folder)


# What a journal may name: files the suite writes into a run's folder.
SET_SUFFIXES = (".keras", ".skops", ".json", ".md", ".png", ".npz", ".html", ".txt")


def _plain_name(name):
    """True for a file name that stays inside its folder: no separator, no
    ``..``, not absolute, nothing a shell or a file system reads specially."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name and "\0" not in name and not os.path.isabs(name))


def _regular_or_absent(path):
    """True when ``path`` is a regular file (not a symlink) or nothing at all."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return True


def pending_set(folder):
    """The set of files a stopped run committed in ``folder`` and had not
    finished moving into place: ``{final path: temporary path}``, empty
    without a journal. Reads only.

    Raises DigitsuiteError, naming the journal, unless it is exactly what
    :func:`output_set` writes: a regular file whose every entry pairs a known
    output's plain name with that name's temporary name for the journal's
    process (``.<stem>.tmp<pid><suffix>``), neither of them a symlink. A
    journal planted in a folder someone sent could otherwise move any file.
    """
    folder = Path(folder)
    journal = folder / PENDING_SET
    try:
        if not stat.S_ISREG(os.lstat(journal).st_mode):
            raise _bad_journal(journal, "it is not a regular file")
        record = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise _bad_journal(journal, f"it cannot be read as JSON ({exc})") from exc
    pid, files = (record.get("pid"), record.get("files")) if isinstance(record, dict) \
        else (None, None)
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 \
            or not isinstance(files, list):
        raise _bad_journal(journal, "it lacks the writer's pid or its list of files")
    pairs = {}
    for entry in files:
        if not (isinstance(entry, list) and len(entry) == 2
                and all(_plain_name(name) for name in entry)):
            raise _bad_journal(journal, f"entry {entry!r} is not two plain file names")
        tmp, final = entry
        stem, suffix = os.path.splitext(final)
        if final.startswith(".") or suffix not in SET_SUFFIXES:
            raise _bad_journal(journal, f"{final!r} is not a file the suite writes")
        if tmp != f".{stem}.tmp{pid}{suffix}":
            raise _bad_journal(journal, f"{tmp!r} is not the temporary name of {final!r}")
        if not (_regular_or_absent(folder / tmp) and _regular_or_absent(folder / final)):
            raise _bad_journal(journal, f"{tmp!r} or {final!r} is a symlink or a folder")
        pairs[folder / final] = folder / tmp
    return pairs


def check_room_for(folder, names):
    """Raise DigitsuiteError when a folder or a link stands where a file of
    one of ``names`` is to be written in ``folder``: the run could not
    replace it, and would find out only after its work."""
    for name in names:
        if not _regular_or_absent(Path(folder) / name):
            raise _in_the_way(Path(folder) / name)


def _in_the_way(path):
    kind = "link" if path.is_symlink() else "folder"
    return DigitsuiteError(f"{path} is a {kind}, where this run writes a file of that name; "
                           "move it away or choose another --out-dir")


def _bad_journal(journal, why):
    return DigitsuiteError(
        f"{journal} is not a journal this suite wrote ({why}); nothing was moved. If the "
        "folder came from elsewhere, check its files and delete that journal")


def committed_path(path):
    """Where to read ``path`` from: the new version a stopped run committed
    (:func:`pending_set`) while it waits to be moved into place, else
    ``path`` itself. Readers use it so that they see one whole set without
    writing to a folder they only read."""
    path = Path(path)
    tmp = pending_set(path.parent).get(path)
    return tmp if tmp is not None and tmp.is_file() else path


def finish_output_set(folder):
    """Move into place a set of files that :func:`output_set` had committed
    when its process stopped (idempotent; nothing to do without a journal).
    Only a writer of ``folder`` calls this; the journal is checked whole
    (:func:`pending_set`) before any file moves."""
    folder = Path(folder)
    for final, tmp in pending_set(folder).items():
        with contextlib.suppress(FileNotFoundError):  # moved already
            os.replace(tmp, final)
    (folder / PENDING_SET).unlink(missing_ok=True)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def json_ready(obj):
    """``obj`` with NumPy numbers, booleans and arrays (inside dicts, lists
    and tuples) turned into Python's own, so ``json.dumps`` takes it as it
    is. Anything else JSON cannot hold raises TypeError here, naming it."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return json_ready(obj.tolist())
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    raise TypeError(f"{type(obj).__name__} cannot be written as JSON: {obj!r:.80}")


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(json_ready(obj), indent=2, sort_keys=False) + "\n")


def save_figure(fig, path, **kwargs):
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **kwargs)
    finally:
        plt.close(fig)


def prepare_out_dir(path, writes=()):
    """Create ``path`` (and parents), check that it can be written to and
    hold it for this run (:func:`lock_folder`); finish a set of files that a
    stopped run had committed and remove the temporary files of dead runs.
    ``writes``: names of the files the run will write there, each refused
    now if a folder or a link stands in its place (the run could not
    replace it, and would find out only after its work)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DigitsuiteError(f"--out-dir {path} is a file, not a folder; "
                              "choose another with --out-dir")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigitsuiteError(
            f"cannot create output folder {path}: {exc.strerror}; "
            "choose another with --out-dir"
        ) from exc
    if not path.is_dir() or not os.access(path, os.W_OK):
        raise DigitsuiteError(
            f"output folder {path} is not a writable folder; "
            "choose another with --out-dir"
        )
    check_room_for(path, writes)
    lock_folder(path)
    finish_output_set(path)
    remove_dead_temps(path)
    return path


# Folders this process holds: resolved path -> open lock file. Held until
# release_folders() (cli.run calls it when a script ends) or the process ends.
_HELD = {}


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def lock_folder(path):
    """Hold output folder ``path`` for this process, or raise one error line
    naming the process that holds it.

    The lock is ``flock`` on ``path/.lock``, which also records who holds
    it and is removed when the run lets go. The system releases the lock
    when the holder's process ends, however it ends (kill -9 included), so
    a ``.lock`` left by a dead run never blocks. Holding a folder twice in
    one process is allowed.
    """
    import fcntl

    key = Path(path).resolve()
    if key in _HELD:
        return
    lock = key / LOCK_FILE
    while True:
        try:
            # O_NOFOLLOW: a .lock that is a symlink would have us truncate its target.
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise DigitsuiteError(f"{lock} is a symbolic link, not this suite's lock file; "
                                  "delete it or choose another --out-dir") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise DigitsuiteError(f"{lock} is not this suite's lock file (a hard link or "
                                  "not a regular file); delete it or choose another --out-dir")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace")
            os.close(fd)
            raise DigitsuiteError(f"{path} is in use by {_describe_holder(holder)}; wait for "
                                  "it to finish or choose another --out-dir") from None
        except OSError:  # a file system without flock (some network mounts): no lock
            os.close(fd)
            return
        # The holder before us removes the file as it lets go: lock the file
        # that is there now, not one already unlinked.
        try:
            if os.lstat(lock).st_ino == info.st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "script": Path(sys.argv[0]).name or "python",
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(info) + "\n").encode())
    _HELD[key] = fd


def _describe_holder(text):
    try:
        info = json.loads(text)
        return (f"{info['script']} (pid {info['pid']} on {info['host']}, "
                f"started {info['started']})")
    except (ValueError, KeyError, TypeError):
        return "another process that is just starting"


def release_folders():
    """Let go of every folder this process holds (:func:`lock_folder`)."""
    while _HELD:
        folder, fd = _HELD.popitem()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / LOCK_FILE)
        os.close(fd)


def remove_dead_temps(folder):
    """Remove temporary files (``.<name>.tmp<pid>...``) of processes that are no
    longer alive from ``folder`` and its subfolders (a kill -9 leaves them).
    Symlinks are never followed nor removed: the sweep stays inside ``folder``."""
    folder = Path(folder)
    subfolders = [p for p in folder.iterdir() if stat.S_ISDIR(os.lstat(p).st_mode)]
    for sub in [folder, *subfolders]:
        for path in sub.iterdir():
            match = _TEMP_NAME.match(path.name)
            if match and stat.S_ISREG(os.lstat(path).st_mode) \
                    and int(match.group(1)) != os.getpid() \
                    and not _pid_alive(int(match.group(1))):
                path.unlink(missing_ok=True)
