"""Convolution and pooling on a picture (digitsuite.visual.convdemo)."""

import numpy as np

from digitsuite.visual import convdemo


def test_padding_valid_shrinks_and_same_keeps_the_size():
    example = convdemo.padding_example()
    assert example["valid"].shape == (3, 3) and example["same"].shape == (5, 5)
    assert example["valid"][0, 0] == 1 + 2 + 3 + 6 + 7 + 8 + 11 + 12 + 13
    assert example["same"][0, 0] == 1 + 2 + 6 + 7  # zeros padded outside
    photo = np.random.default_rng(0).random((17, 24, 3)).astype(np.float32)
    assert convdemo.convolve(photo, convdemo.KERNELS["sharpen"], "valid").shape == (15, 22, 3)
    assert convdemo.convolve(photo, convdemo.KERNELS["sharpen"], "same").shape == (17, 24, 3)
    box = convdemo.convolve(photo, convdemo.KERNELS["box blur"], "valid")
    np.testing.assert_allclose(box[0, 0], photo[:3, :3].mean(axis=(0, 1)), atol=1e-6)


def test_max_pool_halves_odd_sizes_down():
    photo = np.random.default_rng(0).random((120, 607, 3)).astype(np.float32)
    pooled = convdemo.max_pool(photo)
    assert pooled.shape == (60, 303, 3)
    assert pooled[0, 0, 0] == photo[:2, :2, 0].max()
