"""Seeded augmentation of training batches (digitsuite.data.augment)."""

import numpy as np

from digitsuite.backend import tf
from digitsuite.data import augment
from digitsuite.data.augment import POLICIES, AugmentPolicy, augment_batch


def digit_batch(n=8):
    x = np.zeros((n, 28, 28, 1), np.float32)
    x[:, 8:20, 12:16] = 1.0  # a vertical bar, like a "1"
    return x


def test_augmentation_is_reproducible_and_keeps_shape_and_range():
    x = digit_batch()
    a = np.asarray(augment_batch(x, [1, 2], POLICIES["mnist"]))
    b = np.asarray(augment_batch(x, [1, 2], POLICIES["mnist"]))
    c = np.asarray(augment_batch(x, [1, 3], POLICIES["mnist"]))
    assert a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 1.0 + 1e-6
    # Each image gets its own transform, and the ink mostly stays in frame.
    assert not np.allclose(a[0], a[1])
    assert (a.sum(axis=(1, 2, 3)) > 0.5 * x[0].sum()).all()


def test_mirror_flip_gives_each_image_itself_or_its_exact_mirror():
    x = np.zeros((64, 28, 28, 1), np.float32)
    x[:, 5:20, 3:9] = 1.0          # a bar on the left: its mirror is on the right
    out = np.asarray(augment_batch(x, [4, 2], AugmentPolicy(flip=True)))
    same = np.isclose(out, x, atol=1e-5).all(axis=(1, 2, 3))
    mirrored = np.isclose(out, x[:, :, ::-1], atol=1e-5).all(axis=(1, 2, 3))
    assert (same | mirrored).all()
    assert 10 < mirrored.sum() < 54  # about half of them, chosen per image
    assert POLICIES["fashion_mnist"].flip and not POLICIES["mnist"].flip


def test_whole_pixel_shifts_copy_pixels_without_blur():
    rng = np.random.default_rng(0)
    x = rng.random((48, 28, 28, 1)).astype(np.float32)
    policy = AugmentPolicy(shift=2 / 28, flip=True, whole_pixels=True)
    out = np.asarray(augment_batch(x, [3, 1], policy))[..., 0]
    padded = np.pad(x[..., 0], [(0, 0), (2, 2), (2, 2)])
    seen = set()
    for i in range(len(x)):
        # Each image is one of its own copies shifted by -2..2 px each way,
        # mirrored or not, with zeros shifted in: no pixel is a blend.
        matches = [(dy, dx, flip) for flip in (False, True) for dy in range(-2, 3)
                   for dx in range(-2, 3)
                   if np.allclose(out[i], (padded[i][:, ::-1] if flip else padded[i])
                                  [2 - dy:30 - dy, 2 - dx:30 - dx], atol=1e-6)]
        assert len(matches) == 1, f"image {i} is not a whole-pixel shift"
        seen.add(matches[0])
    assert len(seen) > 15  # shifts and flips vary from image to image


def test_no_augmentation_policy_is_identity():
    x = digit_batch()
    np.testing.assert_allclose(np.asarray(augment_batch(x, [0, 0], POLICIES["none"])), x)


def test_fused_affine_warp_samples_as_the_bilinear_gather_does():
    # The one-op warp must read each image where the gather on the map's grid
    # reads it, zeros outside included (flips and whole pixels as well).
    rng = np.random.default_rng(1)
    x = tf.constant(rng.random((32, 28, 28, 1)).astype(np.float32))
    grid = tf.range(28, dtype=tf.float32)
    for policy in (POLICIES["mnist"], POLICIES["fashion_mnist"],
                   AugmentPolicy(rotation_deg=40, scale=0.5, shift=0.4, flip=True)):
        coefficients = augment._affine_coefficients(32, 28, policy, tf.constant([7, 3]))
        a, b, c, d, e, f = (t[:, None, None] for t in coefficients)
        xs = a * grid[None, None, :] + b * grid[None, :, None] + c
        ys = d * grid[None, None, :] + e * grid[None, :, None] + f
        gathered = np.asarray(augment._bilinear(x, xs, ys))
        fused = np.asarray(augment._affine_warp(x, coefficients))
        np.testing.assert_allclose(fused, gathered, atol=1e-6)
        assert (fused == 0).any()  # some images moved partly out of frame


def test_stroke_dilation_and_erosion_are_3x3_max_and_min_pooling():
    rng = np.random.default_rng(2)
    x = tf.constant(rng.random((4, 28, 28, 1)).astype(np.float32))
    dilated, eroded = augment._dilate_erode(x)
    np.testing.assert_array_equal(dilated, tf.nn.max_pool2d(x, 3, 1, "SAME"))
    np.testing.assert_array_equal(eroded, -tf.nn.max_pool2d(-x, 3, 1, "SAME"))


def test_reading_policy_is_reproducible_and_each_effect_does_its_job():
    x = digit_batch(64)
    policy = POLICIES["reading"]
    a = np.asarray(augment_batch(x, [4, 5], policy))
    np.testing.assert_array_equal(a, np.asarray(augment_batch(x, [4, 5], policy)))
    assert a.shape == x.shape and a.min() >= 0
    # Each image's brightest pixel is 1, as the reader scales every crop.
    np.testing.assert_allclose(a.max(axis=(1, 2, 3)), 1.0, atol=1e-5)
    # Binarised ink: a share of the images holds nothing but 0 and 1.
    binary = [np.isin(np.round(img, 5), (0.0, 1.0)).all() for img in a]
    assert 0 < sum(binary) < len(a)
    # Elastic wobble alone bends a straight bar: its columns shift row by row.
    wobble = np.asarray(augment_batch(x, [4, 5], AugmentPolicy(elastic=2.0)))
    assert not np.allclose(wobble, x, atol=0.05)
    # Pens up to two pixels thicker: some images gain well over one dilation's ink.
    thick = np.asarray(augment_batch(x, [4, 5], AugmentPolicy(stroke=1.3)))
    once = np.asarray(tf.nn.max_pool2d(x, 3, 1, "SAME"))
    assert (thick.sum(axis=(1, 2, 3)) > 1.1 * once.sum(axis=(1, 2, 3))).any()
    # Blur and resampling soften edges: grey levels appear between 0 and 1.
    for soft in (AugmentPolicy(blur=1.0), AugmentPolicy(resample=1.0)):
        out = np.asarray(augment_batch(x, [4, 5], soft))
        assert ((out > 0.05) & (out < 0.95)).any()
