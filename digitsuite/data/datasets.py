"""Load MNIST-style datasets as uint8 arrays, wherever they can be found.

Sources are tried in this order:

1. ``data_dir`` given by the user: a folder with the four standard IDX files
   (gzipped or not), or a folder holding ``mnist.npz`` / an ``.npz`` file
   with Keras' keys (``x_train``, ``y_train``, ``x_test``, ``y_test``);
2. Keras' cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``);
3. a system copy (Debian's ``dataset-fashion-mnist`` package);
4. Keras' download (``keras.datasets.<name>.load_data()``);
5. for MNIST only, the bundled sample in ``sample_data/`` (real MNIST digits,
   8,000 train / 2,000 test).

Every file is parsed with numpy (never unpickled) and validated: a corrupt
file raises :class:`~digitsuite.errors.DataError` naming it.
"""

import contextlib
import gzip
import hashlib
import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from digitsuite.errors import DataError

IMAGE_SIZE = 28
NUM_CLASSES = 10
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = PROJECT_ROOT / "sample_data" / "mnist-t10k-split"

# Standard IDX file stems, keyed by the array they hold.
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # ndim -> magic for uint8 data

# Keras' published checksum of its mnist.npz download.
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}
DATASETS = tuple(CLASS_NAMES)
SYSTEM_DIRS = {"fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")]}
FULL_DATA_HINT = {
    "mnist": "for full MNIST put mnist.npz or the four IDX files in a folder "
    "and pass --data-dir FOLDER",
    "fashion_mnist": "install it with 'apt-get install -y dataset-fashion-mnist' "
    "or put the four IDX files in a folder and pass --data-dir FOLDER",
}


@dataclass
class Dataset:
    """Train and test arrays: images uint8 (n, 28, 28), labels int64 (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    source: str  # human-readable: where the arrays came from
    class_names: list

    def summary(self):
        return (f"{self.name}: {len(self.x_train):,} train / "
                f"{len(self.x_test):,} test images from {self.source}")


# --------------------------------------------------------------------------
# File readers


def read_unzipped(path, redo):
    """The bytes of the file at ``path``, gunzipped if it is gzipped. Raises
    DataError for an unreadable file or a broken gzip stream, ending with
    ``redo`` (what to do)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}; check its permissions") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path} is a truncated or corrupt gzip file ({exc}); {redo}") \
                from exc
    return raw


def read_idx(path, ndim=None):
    """Parse one IDX file (gzipped or raw) of unsigned bytes into an array.

    With ``ndim`` (3 for images, 1 for labels) the magic number must say so.
    """
    path = Path(path)
    raw = read_unzipped(path, "download it again")
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] not in IDX_MAGIC:
        magic = raw[:4].hex() if len(raw) >= 4 else "missing"
        raise DataError(
            f"{path} is not an IDX file of bytes (magic number {magic}, expected "
            "00000803 for images or 00000801 for labels); check the file"
        )
    if ndim is not None and raw[3] != ndim:
        raise DataError(
            f"{path} has magic number {raw[:4].hex()}, but "
            f"{'an images' if ndim == 3 else 'a labels'} "
            f"file needs {IDX_MAGIC[ndim]:08x}; the file is misnamed or corrupt"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header; download it again")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise DataError(
            f"{path} holds {len(raw) - header:,} data bytes but its header "
            f"announces shape {dims} ({expected - header:,} bytes); the file is "
            "truncated or corrupt, download it again"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def find_idx_files(folder):
    """Map array key -> path of the IDX files in ``folder`` (``.gz`` or raw).

    Returns None when none of the four is present; raises when only some are.
    """
    folder = Path(folder)
    found, missing = {}, []
    for key, stem in IDX_FILES.items():
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                found[key] = folder / name
                break
        else:
            missing.append(stem + "[.gz]")
    if not found:
        return None
    if missing:
        raise DataError(
            f"{folder} has only some of the four IDX files: missing "
            f"{', '.join(missing)}; add them or point --data-dir elsewhere"
        )
    return found


def load_idx_folder(folder):
    """Load the four IDX files in ``folder`` as validated arrays."""
    paths = find_idx_files(folder)
    if paths is None:
        raise DataError(f"{folder} has no IDX files")
    arrays = {key: read_idx(path, 3 if key.startswith("x") else 1)
              for key, path in paths.items()}
    return validate_arrays(arrays, {k: str(p) for k, p in paths.items()})


def load_npz(path):
    """Load a Keras-style ``.npz`` (x_train, y_train, x_test, y_test)."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path} is not a readable .npz file (not a zip archive); "
            "download it again or use the IDX files"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in IDX_FILES if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {', '.join(missing)} (it has "
                    f"{', '.join(archive.files) or 'none'}); it must hold "
                    "x_train, y_train, x_test and y_test as saved by Keras"
                )
            arrays = {key: archive[key] for key in IDX_FILES}
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(
                f"{path} holds Python objects, which are never unpickled here; "
                "save plain numeric arrays instead"
            ) from exc
        raise DataError(f"{path} is not a readable .npz file ({exc})") from exc
    except (OSError, EOFError, zlib.error, KeyError) as exc:
        raise DataError(
            f"{path} is not a readable .npz file ({exc}); download it again"
        ) from exc
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path} is not a readable .npz file ({exc})") from exc
    return validate_arrays(arrays, {k: f"{path}[{k}]" for k in IDX_FILES})


def validate_arrays(arrays, origins):
    """Check shapes, types and labels; return arrays as uint8 images, int64 labels."""
    out = {}
    for key in IDX_FILES:
        array, origin = np.asarray(arrays[key]), origins[key]
        if key.startswith("x"):
            if array.ndim != 3 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
                raise DataError(
                    f"{origin}: images have shape {array.shape}, expected "
                    f"(n, {IMAGE_SIZE}, {IMAGE_SIZE}); use 28x28 grey images"
                )
            if array.dtype != np.uint8:
                if not np.issubdtype(array.dtype, np.integer) or (
                        array.size and (array.min() < 0 or array.max() > 255)):
                    raise DataError(
                        f"{origin}: images must be 0-255 integers, got {array.dtype}"
                    )
                array = array.astype(np.uint8)
        else:
            if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
                raise DataError(
                    f"{origin}: labels must be a 1-D integer array, got "
                    f"{array.dtype} with shape {array.shape}"
                )
            bad = (array < 0) | (array >= NUM_CLASSES)
            if bad.any():
                raise DataError(
                    f"{origin}: {int(bad.sum())} labels outside 0-{NUM_CLASSES - 1} "
                    f"(e.g. {int(array[bad][0])}); the file is corrupt or not "
                    "a 10-class dataset"
                )
            array = array.astype(np.int64)
        out[key] = array
    for split in ("train", "test"):
        n_x, n_y = len(out[f"x_{split}"]), len(out[f"y_{split}"])
        if n_x != n_y:
            raise DataError(
                f"{origins[f'x_{split}']} has {n_x:,} images but "
                f"{origins[f'y_{split}']} has {n_y:,} labels; they must match"
            )
        if n_x == 0:
            raise DataError(f"{origins[f'x_{split}']} holds no images")
    return out


# --------------------------------------------------------------------------
# Sources


def keras_cache_dirs():
    """Folders where Keras keeps downloaded datasets, in the order it uses them."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    # Keras falls back to /tmp/.keras when its home is not writable.
    return [Path(home) / "datasets", Path("/tmp/.keras/datasets")]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _from_data_dir(name, data_dir):
    data_dir = Path(data_dir).expanduser()
    if not data_dir.exists():
        raise DataError(
            f"--data-dir {data_dir} does not exist; give a folder with the four "
            "IDX files or mnist.npz"
        )
    data_dir = data_dir.resolve()  # one spelling per folder in config.json
    if data_dir.is_file():
        return load_npz(data_dir), f"npz file {data_dir}"
    if find_idx_files(data_dir) is not None:
        return load_idx_folder(data_dir), f"IDX files in {data_dir}"
    npz_names = [f"{name}.npz", name.replace("_", "-") + ".npz", "mnist.npz"]
    for npz in npz_names:
        if (data_dir / npz).is_file():
            return load_npz(data_dir / npz), f"npz file {data_dir / npz}"
    raise DataError(
        f"--data-dir {data_dir} has neither the four IDX files "
        f"({', '.join(s + '[.gz]' for s in IDX_FILES.values())}) nor "
        f"{' / '.join(dict.fromkeys(npz_names))}; put them there"
    )


def _from_keras_cache(name):
    for cache in keras_cache_dirs():
        if name == "mnist":
            npz = cache / "mnist.npz"
            if npz.is_file():
                if sha256(npz) != MNIST_NPZ_SHA256:
                    raise DataError(
                        f"Keras cache file {npz} fails its checksum (an interrupted "
                        f"or corrupt download); delete it with 'rm {npz}' and run "
                        "again, or pass --data-dir"
                    )
                return load_npz(npz), f"Keras cache {npz}"
        else:
            folder = cache / name.replace("_", "-")
            if find_idx_files(folder) is not None:
                return load_idx_folder(folder), f"Keras cache {folder}"
    return None


def _from_system(name):
    for folder in SYSTEM_DIRS.get(name, []):
        if folder.is_dir() and find_idx_files(folder) is not None:
            return load_idx_folder(folder), f"IDX files in {folder}"
    return None


def _from_download(name, failures):
    """Keras' own download; returns None (noting why in ``failures``) on failure."""
    from digitsuite.backend import keras

    loader = getattr(keras.datasets, name)
    # Keras announces "Downloading data from <url>" before it tries; offline,
    # the suite then falls back by design, so that line would only mislead.
    # It is held back and shown only when the download worked.
    announced = io.StringIO()
    try:
        with contextlib.redirect_stdout(announced):
            (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # no network, proxy, refused: all the same here
        reason = " ".join(str(exc).split()) or type(exc).__name__
        # Keras says "URL fetch failure on <url>: None -- <cause>": keep the cause.
        failures.append(f"Keras download failed: {reason.rsplit(' -- ', 1)[-1]}")
        return None
    print(announced.getvalue(), end="")
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return (validate_arrays(arrays, {k: f"Keras download [{k}]" for k in arrays}),
            f"Keras download of {name}")


NOTES_GIVEN = set()  # the fallback notes this process has printed


def load_dataset(name="mnist", data_dir=None, download=True, log=print):
    """Load ``name`` from the first source that has it (see module docstring).

    ``log`` receives one line when it falls back to the bundled sample,
    the first time in this process.
    """
    if name not in CLASS_NAMES:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir is not None:
        found = _from_data_dir(name, data_dir)
    else:
        failures = ["not in the Keras cache"]
        found = (_from_keras_cache(name) or _from_system(name)
                 or (_from_download(name, failures) if download else None))
        why = "; ".join(failures if download else failures + ["download disabled"])
        if found is None and name == "mnist":
            found = load_idx_folder(SAMPLE_DIR), f"bundled sample {SAMPLE_DIR}"
            note = (f"data: full MNIST unavailable ({why}), so using the bundled sample of "
                    f"8,000 train / 2,000 test real MNIST digits; {FULL_DATA_HINT['mnist']}")
            # Said once a run: evaluate.py --train-missing loads the data for
            # each model it trains and again to compare them.
            if note not in NOTES_GIVEN:
                NOTES_GIVEN.add(note)
                log(note)
        if found is None:
            raise DataError(f"{name} unavailable ({why}); {FULL_DATA_HINT[name]}")
    arrays, source = found
    return Dataset(name=name, source=source, class_names=CLASS_NAMES[name], **arrays)


# --------------------------------------------------------------------------
# Splits


def stratified_split(x, y, fraction, seed):
    """Split off ``fraction`` of (x, y), stratified by class; returns (a, b) pairs."""
    from sklearn.model_selection import train_test_split

    x_a, x_b, y_a, y_b = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=y)
    return (x_a, y_a), (x_b, y_b)


def stratified_subset(x, y, n, seed):
    """A class-balanced random subset of ``n`` examples (all if n >= len(x))."""
    if n >= len(x):
        return x, y
    _, (x_s, y_s) = stratified_split(x, y, n, seed)
    return x_s, y_s


class Splits(NamedTuple):
    """A dataset with its training data split: ``train``, ``val`` and ``test``
    are ``(uint8 images, int labels)`` pairs."""

    dataset: Dataset
    train: tuple
    val: tuple
    test: tuple


DRY_RUN_SIZES = (600, 200)  # (training, test) images of a --dry-run smoke test


def load_splits(name="mnist", data_dir=None, *, val_fraction=0.1, seed=0, dry_run=False,
                dry_run_sizes=DRY_RUN_SIZES, log=print):
    """Load dataset ``name`` and hold out ``val_fraction`` of its training data
    for validation (stratified, seeded); the test split is only for final
    figures. ``dry_run`` takes small stratified subsets of ``dry_run_sizes``
    (training, test) images first.
    """
    dataset = load_dataset(name, data_dir, log=log)
    x_train, y_train = dataset.x_train, dataset.y_train
    x_test, y_test = dataset.x_test, dataset.y_test
    if dry_run:
        x_train, y_train = stratified_subset(x_train, y_train, dry_run_sizes[0], seed)
        x_test, y_test = stratified_subset(x_test, y_test, dry_run_sizes[1], seed)
    train, val = stratified_split(x_train, y_train, val_fraction, seed)
    return Splits(dataset, train, val, (x_test, y_test))


def to_model_input(images):
    """uint8 (n, 28, 28) -> float32 (n, 28, 28, 1) scaled to 0-1."""
    return (np.asarray(images, np.float32) / 255.0)[..., None]
