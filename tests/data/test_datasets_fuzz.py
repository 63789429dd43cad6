"""Property-based tests of digitsuite.data.datasets: the readers, fed random bytes,
either return well-formed arrays or raise DataError - never anything else."""

import gzip
import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitsuite.data import datasets as data
from digitsuite.errors import DataError

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def idx_bytes(ndim, dims, payload):
    header = bytes([0, 0, 8, ndim]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + payload


@st.composite
def near_idx(draw):
    """Bytes that are often almost a valid IDX file, sometimes gzipped."""
    ndim = draw(st.sampled_from([1, 3, 0, 2, 255]))
    dims = draw(st.lists(st.integers(0, 40), min_size=ndim if ndim < 5 else 0,
                         max_size=ndim if ndim < 5 else 3))
    size = int(np.prod(dims)) if dims else 0
    payload = draw(st.binary(min_size=0, max_size=min(size + 8, 3000)))
    raw = draw(st.one_of(st.just(idx_bytes(ndim, dims, payload)), st.binary(max_size=64)))
    if draw(st.booleans()):
        raw = gzip.compress(raw)
        if draw(st.booleans()):
            raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


@FUZZ
@given(raw=near_idx())
def test_read_idx_returns_arrays_or_raises_data_error(tmp_path, raw):
    path = tmp_path / "file-idx"
    path.write_bytes(raw)
    try:
        array = data.read_idx(path)
    except DataError as exc:
        assert str(path) in str(exc)
        return
    assert array.dtype == np.uint8 and array.ndim in (1, 3)


@FUZZ
@given(raw=st.binary(max_size=512), truncate=st.booleans())
def test_load_npz_on_random_or_truncated_bytes(tmp_path, raw, truncate):
    path = tmp_path / "mnist.npz"
    if truncate:  # a real npz cut short, as an interrupted download leaves it
        buffer = io.BytesIO()
        np.savez(buffer, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, int),
                 x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, int))
        full = buffer.getvalue()
        raw = full[:len(raw) % len(full)]
    path.write_bytes(raw)
    try:
        arrays = data.load_npz(path)
    except DataError:
        return
    assert arrays["x_train"].shape[1:] == (28, 28)


@FUZZ
@given(x=st.lists(st.integers(-300, 300), min_size=0, max_size=6),
       shape=st.sampled_from([(1, 28, 28), (2, 28, 28), (28, 28), (1, 27, 28)]),
       labels=st.lists(st.integers(-3, 12), min_size=0, max_size=3))
def test_validate_arrays_accepts_only_well_formed_data(x, shape, labels):
    images = np.resize(np.array(x or [0], dtype=np.int64), shape)
    arrays = dict(x_train=images, y_train=np.array(labels, dtype=np.int64),
                  x_test=images, y_test=np.array(labels, dtype=np.int64))
    try:
        out = data.validate_arrays(arrays, {k: k for k in arrays})
    except DataError:
        return
    assert out["x_train"].dtype == np.uint8 and out["x_train"].shape[1:] == (28, 28)
    assert len(out["x_train"]) == len(out["y_train"]) > 0
    assert out["y_train"].min() >= 0 and out["y_train"].max() <= 9
