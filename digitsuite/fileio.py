"""Output files and folders that survive a crash, a full disk and a second run.

- Every file is written to a temporary file beside it and moved into place
  (:func:`atomic_path`): a run killed at any moment leaves the old file or
  the new one, never a half-written one. A full disk is one error naming the
  file; the temporary file is removed.
- A run's files land as one set (:func:`output_set`): they are all written
  to temporary files first, then a journal naming them is written, then
  they are moved into place. A run killed before the journal leaves the old
  set (its temporary files are removed by the next run in the folder); one
  killed after it leaves the new set, which the next writer or reader of
  the folder finishes moving into place.
- One folder, one run (:func:`prepare_out_dir`): a run holds a lock on its
  output folder until it ends; a second run into the same folder stops at
  once with one line naming the first. The lock is an ``flock`` on
  ``.lock``, which the system drops when its process dies, however it died.
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


def finish_output_set(folder):
    """Move into place a set of files that :func:`output_set` had committed
    when its process stopped (idempotent; nothing to do without a journal)."""
    journal = Path(folder) / PENDING_SET
    try:
        files = json.loads(journal.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        return
    except (ValueError, KeyError, TypeError):  # not ours: written atomically, so never partial
        return
    for tmp, final in files:
        with contextlib.suppress(FileNotFoundError):  # moved already
            os.replace(journal.parent / tmp, journal.parent / final)
    journal.unlink(missing_ok=True)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_figure(fig, path, **kwargs):
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **kwargs)
    finally:
        plt.close(fig)


def prepare_out_dir(path):
    """Create ``path`` (and parents), check that it can be written to and
    hold it for this run (:func:`lock_folder`); finish a set of files that a
    stopped run had committed and remove the temporary files of dead runs."""
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
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
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
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
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
    longer alive from ``folder`` and its subfolders (a kill -9 leaves them)."""
    folder = Path(folder)
    for sub in [folder, *(p for p in folder.iterdir() if p.is_dir())]:
        for path in sub.iterdir():
            match = _TEMP_NAME.match(path.name)
            if match and path.is_file() and int(match.group(1)) != os.getpid() \
                    and not _pid_alive(int(match.group(1))):
                path.unlink(missing_ok=True)
