"""Every reading is JSON as it is: generated pages under every condition
(punctuation and documents included, where a NumPy integer once leaked)
and odd pictures give readings that ``json.dumps`` takes without help."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.reading import pages
from digitsuite.errors import ImageError
from digitsuite.inference.modelio import load_keras_model
from digitsuite.reading.reader import read_page

PLAIN = (str, int, float, bool, type(None))
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def model(reader_model):
    return load_keras_model(reader_model)


def assert_plain(value, where="reading"):
    """Only dicts, lists and Python's own scalars, all the way down."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), where
            assert_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")
    else:
        assert type(value) in PLAIN, f"{where} is {type(value).__name__}"


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), condition=st.sampled_from(sorted(pages.CONDITIONS)))
def test_a_generated_page_reads_as_plain_json(model, sample, seed, condition):
    rng = np.random.default_rng(seed)
    page, _ = pages.make_page(rng, sample["x_test"][:500], sample["y_test"][:500],
                              pages.CONDITIONS[condition], lines=(1, 2), digits=(1, 5))
    try:
        reading, _ = read_page(model, page / 255.0)
    except ImageError:  # a page the generator left without a readable digit
        return
    json.dumps(reading, allow_nan=False)
    assert_plain(reading)


@SETTINGS
@given(shape=st.tuples(st.integers(8, 300), st.integers(8, 300)),
       kind=st.sampled_from(["noise", "blank", "bars", "dots"]), seed=st.integers(0, 999))
def test_an_odd_picture_reads_as_plain_json_or_says_why(model, shape, kind, seed):
    rng = np.random.default_rng(seed)
    grey = {"noise": lambda: rng.random(shape),
            "blank": lambda: np.full(shape, 0.9),
            "bars": lambda: np.where(np.arange(shape[1]) % 9 < 3, 0.1, 0.9)[None].repeat(
                shape[0], 0),
            "dots": lambda: np.where(rng.random(shape) < 0.02, 0.0, 1.0)}[kind]()
    try:
        reading, _ = read_page(model, grey.astype(np.float32))
    except ImageError as exc:
        assert "\n" not in str(exc)
        return
    json.dumps(reading, allow_nan=False)
    assert_plain(reading)
