"""Seeded augmentation of training batches (digitsuite.data.augment)."""

import numpy as np

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
