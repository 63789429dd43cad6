"""Non-digits for training the reader (digitsuite.training.nondigits) and
the even target the training loop gives them."""

import numpy as np

from digitsuite.data.datasets import load_dataset
from digitsuite.training import loop, nondigits
from tests.support import SAMPLE_DIR


def some_digits(n=20):
    return load_dataset("mnist", SAMPLE_DIR, log=lambda *a: None).x_test[:n]


def test_nondigits_are_mnist_style_inputs():
    rng = np.random.default_rng(0)
    out = nondigits.make_nondigits(rng, 50, some_digits())
    assert out.shape == (50, 28, 28) and out.dtype == np.uint8
    assert (out.max(axis=(1, 2)) == 255).all()              # scaled like every crop
    # Fitted into the 20x20 box like MNIST: no ink in the outer 2-pixel frame.
    assert not out[:, :2].any() and not out[:, -2:].any()
    assert len({img.tobytes() for img in out}) >= 45        # varied (two dots may match)


def test_a_dash_lies_flat_and_a_piece_that_looks_like_a_one_is_refused():
    rng = np.random.default_rng(1)
    for _ in range(10):
        rows, cols = np.nonzero(nondigits.dash(rng) > 0.5)
        assert np.ptp(cols) > 2 * np.ptp(rows)
    bars = np.zeros((5, 28, 28), np.uint8)
    bars[:, 4:24, 6:22] = 255                               # a block: every slice is a bar
    bars[:, 6:22, 8:20] = 0
    assert all(nondigits.partial(rng, bars) is None for _ in range(10))
    # Even so, asking for pieces of such digits ends: the other kinds take turns.
    assert nondigits.make_nondigits(rng, 10, bars).shape == (10, 28, 28)


def test_with_nondigits_adds_the_share_asked_for_and_the_loop_spreads_their_target():
    digits = some_digits(90)
    x, y = nondigits.with_nondigits((digits, np.arange(90) % 10), 0.1, seed=1)
    assert len(x) == 100 and (y == nondigits.NOT_A_DIGIT).sum() == 10
    ds, steps, _ = loop.make_train_dataset(x, y, 100, 0, None, 10)
    ((images, targets),) = list(ds.take(1).as_numpy_iterator())
    assert steps == 1 and images.shape == (100, 28, 28, 1)
    sums = targets.sum(axis=1)
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)
    spread = np.isclose(targets, 0.1).all(axis=1)
    assert spread.sum() == 10                                # the non-digits, and only they
    assert (targets[~spread].max(axis=1) == 1).all()
