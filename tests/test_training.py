"""Training pipeline: seeded augmentation and batches, the LR schedule."""

import numpy as np

from digitsuite.backend import keras
from digitsuite.data.augment import POLICIES, AugmentPolicy, augment_batch
from digitsuite.training.loop import (
    compile_for_training,
    label_smoothing_for,
    make_train_dataset,
    set_seed,
    warmup_steps,
)


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


def epoch_batches(ds, set_epoch, epoch):
    set_epoch.on_epoch_begin(epoch)  # what model.fit does as each epoch begins
    return [(np.asarray(x), np.asarray(y)) for x, y in ds]


def test_train_batches_are_a_seeded_shuffle_of_every_image_each_epoch():
    images = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(10)
    ds, steps, set_epoch = make_train_dataset(images, labels, 4, seed=5, policy=None,
                                              num_classes=12)
    assert steps == 3 and int(ds.cardinality()) == 3
    epoch1, epoch2 = (epoch_batches(ds, set_epoch, e) for e in (0, 1))
    assert len(epoch1) == len(epoch2) == 3
    onehot1 = np.concatenate([y for _, y in epoch1])
    assert onehot1.shape == (10, 12) and set(onehot1.ravel()) == {0.0, 1.0}
    labels1 = onehot1.argmax(axis=1)
    labels2 = np.concatenate([y for _, y in epoch2]).argmax(axis=1)
    assert sorted(labels1) == list(range(10)) and sorted(labels2) == list(range(10))
    assert list(labels1) != list(labels2)
    x0, y0 = epoch1[0]
    np.testing.assert_allclose(x0[:, 0, 0, 0], y0.argmax(axis=1) / 255.0, rtol=1e-6)
    # A fresh pipeline (a resumed run) at epoch 1 gives exactly the second epoch.
    resumed, _, resumed_epoch = make_train_dataset(images, labels, 4, seed=5, policy=None,
                                                   num_classes=12)
    for (x, y), (x2, y2) in zip(epoch_batches(resumed, resumed_epoch, 1), epoch2):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)


def test_several_steps_per_call_stop_exactly_at_each_epochs_end():
    """Ten steps per epoch, eight per call: two epochs take exactly twenty
    steps and end where one step per call ends."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (160, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 160)
    weights = []
    for steps_per_execution in (1, 8):
        set_seed(0)
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        ds, steps, set_epoch = make_train_dataset(images, labels, 16, seed=0, policy=None,
                                                  num_classes=10)
        compile_for_training(model, 1e-2, steps, epochs=2,
                             steps_per_execution=steps_per_execution)
        model.fit(ds, epochs=2, verbose=0, callbacks=[set_epoch])
        assert steps == 10 and int(model.optimizer.iterations) == 20
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_learning_rate_warms_up_then_decays_to_zero():
    # A long run warms up for one epoch, a short one for 5 % of its steps.
    assert warmup_steps(steps_per_epoch=10, epochs=40) == 10
    assert warmup_steps(steps_per_epoch=100, epochs=4) == 20
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    compile_for_training(model, 1e-2, steps_per_epoch=10, epochs=40)
    lr = model.optimizer.learning_rate_schedule if hasattr(
        model.optimizer, "learning_rate_schedule") else model.optimizer._learning_rate
    values = [float(lr(step)) for step in (0, 10, 200, 400)]
    assert values[0] < values[1]
    np.testing.assert_allclose(values[1], 1e-2, rtol=1e-5)
    assert values[2] < values[1] and values[3] < 1e-4


def test_label_smoothing_trains_towards_spread_targets():
    """With smoothing e, the loss is cross-entropy against targets of
    1 - e + e/k for the true class and e/k for each other class."""
    images = np.zeros((8, 28, 28), np.uint8)
    labels = np.array([0, 0, 0, 0, 0, 1, 2, 3])
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    ds, steps, _ = make_train_dataset(images, labels, 8, seed=0, policy=None, num_classes=4)
    compile_for_training(model, 1e-3, steps, epochs=1, label_smoothing=0.2)
    # All-zero images: the net predicts softmax(bias), the same for every image.
    model.layers[-1].bias.assign(np.log([0.4, 0.3, 0.2, 0.1]))
    loss = model.evaluate(ds, verbose=0, return_dict=True)["loss"]
    p = np.array([0.4, 0.3, 0.2, 0.1])
    targets = np.full((8, 4), 0.2 / 4) + 0.8 * np.eye(4)[labels]
    np.testing.assert_allclose(loss, -(targets * np.log(p)).sum(axis=1).mean(), rtol=1e-5)
    plain = -np.log(p[labels]).mean()
    assert abs(loss - plain) > 0.05  # smoothing changes what the net is trained towards


def test_label_smoothing_auto_is_the_datasets_own():
    assert label_smoothing_for("auto", "fashion_mnist") == 0.1
    assert label_smoothing_for("auto", "mnist") == 0.0
    assert label_smoothing_for(0.05, "mnist") == 0.05
