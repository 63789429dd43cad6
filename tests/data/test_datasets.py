"""Data loading (digitsuite.data.datasets): every source, the splits, and each
corrupt-file error."""

import gzip

import numpy as np
import pytest

from digitsuite.data import datasets as data
from digitsuite.errors import DataError


def write_idx(path, array, magic=None, compress=False):
    """Write ``array`` (uint8) as an IDX file the way MNIST's files are made."""
    array = np.asarray(array, np.uint8)
    magic = magic if magic is not None else 0x800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def make_arrays(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train) % 10,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=np.arange(n_test) % 10,
    )


def write_idx_folder(folder, arrays, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in data.IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if compress else "")), arrays[key], compress=compress)
    return folder


@pytest.fixture
def no_download(monkeypatch, tmp_path):
    """An empty Keras cache and no network: every lookup must fall through."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(data, "keras_cache_dirs", lambda: [tmp_path / "keras-home" / "datasets"])

    def refuse(name, failures):
        failures.append("Keras download failed: no network (test)")

    monkeypatch.setattr(data, "_from_download", refuse)
    monkeypatch.setattr(data, "NOTES_GIVEN", set())   # as in a fresh run


def test_bundled_sample_loads_as_real_mnist(sample_dir):
    ds = data.load_dataset("mnist", sample_dir)
    assert ds.x_train.shape == (8000, 28, 28) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (2000, 28, 28) and ds.y_test.shape == (2000,)
    assert set(np.unique(ds.y_train)) == set(range(10))
    # Stratified: every class has 9-12 % of the training digits.
    shares = np.bincount(ds.y_train) / len(ds.y_train)
    assert shares.min() > 0.08 and shares.max() < 0.12


def test_fallback_to_bundled_sample_says_so(no_download):
    lines = []
    ds = data.load_dataset("mnist", log=lines.append)
    assert "bundled sample" in ds.source
    assert len(ds.x_train) == 8000
    assert len(lines) == 1 and "--data-dir" in lines[0] and "no network" in lines[0]
    # A run that loads the data again (evaluate.py training what it lacks)
    # is told once.
    data.load_dataset("mnist", log=lines.append)
    assert len(lines) == 1


def test_fashion_without_any_source_is_a_clear_error(no_download, monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_DIRS", {})
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        data.load_dataset("fashion_mnist")


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder_gzipped_or_raw(tmp_path, compress):
    arrays = make_arrays()
    ds = data.load_dataset("mnist", write_idx_folder(tmp_path / "idx", arrays, compress))
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"])
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert "IDX files" in ds.source


def test_npz_in_folder_and_as_file(tmp_path):
    arrays = make_arrays()
    np.savez(tmp_path / "mnist.npz", **arrays)
    for where in (tmp_path, tmp_path / "mnist.npz"):
        ds = data.load_dataset("mnist", where)
        np.testing.assert_array_equal(ds.x_test, arrays["x_test"])
        assert ds.y_train.dtype == np.int64


def test_keras_cache_npz_is_used_when_checksum_matches(tmp_path, monkeypatch, no_download):
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", **make_arrays())
    monkeypatch.setattr(data, "MNIST_NPZ_SHA256", data.sha256(cache / "mnist.npz"))
    ds = data.load_dataset("mnist")
    assert ds.source.startswith("Keras cache") and len(ds.x_train) == 20


def test_keras_cache_with_bad_checksum_says_how_to_clear_it(tmp_path, no_download):
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"partial download")
    with pytest.raises(DataError, match=r"fails its checksum.*rm .*mnist\.npz"):
        data.load_dataset("mnist")


def test_fashion_found_in_keras_cache_folder(tmp_path, no_download):
    write_idx_folder(tmp_path / "keras-home" / "datasets" / "fashion-mnist", make_arrays())
    ds = data.load_dataset("fashion_mnist")
    assert ds.class_names[9] == "Ankle boot" and len(ds.x_test) == 10


def test_fashion_found_in_system_folder(tmp_path, monkeypatch, no_download):
    folder = write_idx_folder(tmp_path / "debian", make_arrays())
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion_mnist": [folder]})
    assert str(folder) in data.load_dataset("fashion_mnist").source


# ---------------------------------------------------------------- bad files


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.load_dataset("mnist", tmp_path / "nowhere")


def test_folder_without_data(tmp_path):
    with pytest.raises(DataError, match="neither the four IDX files"):
        data.load_dataset("mnist", tmp_path)


def test_one_idx_file_missing(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", make_arrays())
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        data.load_dataset("mnist", folder)


def test_truncated_gzip_names_the_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", make_arrays())
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError,
                       match="train-images-idx3-ubyte.gz is a truncated or corrupt gzip"):
        data.load_dataset("mnist", folder)


def test_truncated_raw_idx(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", make_arrays(), compress=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-28])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte holds .* truncated"):
        data.load_dataset("mnist", folder)


def test_wrong_magic_number(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", make_arrays())
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(20), magic=0x0D01, compress=True)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is not an IDX file.*00000d01"):
        data.load_dataset("mnist", folder)


def test_image_label_count_mismatch(tmp_path):
    arrays = make_arrays()
    arrays["y_train"] = arrays["y_train"][:15]
    with pytest.raises(DataError, match="20 images but .*train-labels.* 15 labels"):
        data.load_dataset("mnist", write_idx_folder(tmp_path / "idx", arrays))


def test_labels_outside_0_to_9(tmp_path):
    arrays = make_arrays()
    arrays["y_test"] = arrays["y_test"].copy()
    arrays["y_test"][3] = 11
    with pytest.raises(DataError, match="t10k-labels.*1 labels outside 0-9"):
        data.load_dataset("mnist", write_idx_folder(tmp_path / "idx", arrays))


def test_images_not_28x28(tmp_path):
    arrays = make_arrays()
    arrays["x_train"] = np.zeros((20, 32, 32), np.uint8)
    with pytest.raises(DataError, match=r"shape \(20, 32, 32\), expected \(n, 28, 28\)"):
        data.load_dataset("mnist", write_idx_folder(tmp_path / "idx", arrays))


def test_npz_missing_keys(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="lacks the arrays y_train, x_test, y_test"):
        data.load_dataset("mnist", tmp_path)


def test_npz_with_object_arrays_is_never_unpickled(tmp_path):
    arrays = make_arrays()
    arrays["y_train"] = np.array([object()] * 20, dtype=object)
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match="never unpickled"):
        data.load_dataset("mnist", tmp_path)


def test_npz_that_is_not_a_zip(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="mnist.npz is not a readable .npz"):
        data.load_dataset("mnist", tmp_path)


# ---------------------------------------------------------------- splits


def test_validation_split_is_stratified_seeded_and_disjoint(sample_dir):
    ds = data.load_dataset("mnist", sample_dir)
    (x_a, y_a), (x_b, y_b) = data.stratified_split(ds.x_train, ds.y_train, 0.1, seed=3)
    (x_a2, _), _ = data.stratified_split(ds.x_train, ds.y_train, 0.1, seed=3)
    assert len(x_b) == 800 and len(x_a) == 7200
    np.testing.assert_array_equal(x_a, x_a2)
    np.testing.assert_allclose(np.bincount(y_b) / 800, np.bincount(ds.y_train) / 8000, atol=0.002)
    flat_a = {img.tobytes() for img in x_a}
    assert not any(img.tobytes() in flat_a for img in x_b)


def test_keras_download_line_shows_only_when_the_download_works(monkeypatch, capsys):
    from digitsuite.backend import keras

    def offline():
        print("Downloading data from https://storage.googleapis.com/mnist.npz")
        raise OSError("URL fetch failure on https://…: None -- no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    failures = []
    assert data._from_download("mnist", failures) is None
    assert capsys.readouterr().out == ""
    assert failures == ["Keras download failed: no network"]

    arrays = make_arrays()

    def online():
        print("Downloading data from https://storage.googleapis.com/mnist.npz")
        return ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))

    monkeypatch.setattr(keras.datasets.mnist, "load_data", online)
    loaded, source = data._from_download("mnist", [])
    assert capsys.readouterr().out.startswith("Downloading data from")
    np.testing.assert_array_equal(loaded["x_test"], arrays["x_test"])
    assert source == "Keras download of mnist"
