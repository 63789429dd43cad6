"""The classical models' input features (digitsuite.data.features): deskewing
and flat, scaled pixels."""

import numpy as np
import pytest

from digitsuite.data.features import deskew, make_features


def slant(image):
    """Column shift per row of an image's ink: cov(r, c) / var(r)."""
    rows, cols = np.mgrid[:28, :28]
    w = image / image.sum()
    r0, c0 = (w * rows).sum(), (w * cols).sum()
    return (w * (rows - r0) * (cols - c0)).sum() / (w * (rows - r0) ** 2).sum()


def test_deskew_straightens_a_slanted_stroke_and_centres_it():
    image = np.zeros((28, 28), np.uint8)
    for r in range(4, 24):  # a bar leaning right by half a pixel per row
        c = round(12 + 0.5 * (r - 14))
        image[r, c:c + 3] = 255
    out = deskew(image[None])
    assert out.shape == (1, 28, 28) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255
    assert slant(image) == pytest.approx(0.5, abs=0.05)
    assert abs(slant(out[0])) < 0.05
    rows, cols = np.mgrid[:28, :28]
    centre = [(out[0] * g).sum() / out[0].sum() for g in (rows, cols)]
    np.testing.assert_allclose(centre, [14, 14], atol=0.6)


def test_deskew_keeps_blank_images_blank():
    out = deskew(np.zeros((2, 28, 28), np.uint8))
    assert not out.any()


def test_features_are_flat_and_scaled():
    images = np.full((3, 28, 28), 255, np.uint8)
    x = make_features(images, "pixels")
    assert x.shape == (3, 784) and x.dtype == np.float32 and x.max() == 1.0


def test_auto_features_deskew_digits_only():
    from digitsuite.data.features import features_for

    assert features_for("auto", "mnist") == "deskew"
    assert features_for("auto", "fashion_mnist") == "pixels"
    assert features_for("pixels", "mnist") == "pixels"
