"""Batched, seeded augmentation for 28x28 grey images.

One random affine transform per image (rotation, shear, separate x/y scale,
shift, optional mirror flip), sampled bilinearly for the whole batch in one
fused op, plus a random stroke-width
change (towards a 3x3 grey dilation or erosion). The reading policy adds
what other writers, pens and scanners do to a digit: an elastic wobble of
the strokes, blur, binarised ink, resampling down to a few pixels and back,
pens up to two pixels thicker. Randomness is *stateless*:
the same ``seed`` tensor gives the same
batch, which makes training reproducible and resumable epoch by epoch.

The ranges suit handwriting, where people slant, write wide or narrow, and
use thick or thin pens; clothing images get whole-pixel shifts and mirror
flips instead, which copy pixels without resampling blur.
"""

import math
from dataclasses import asdict, dataclass

from digitsuite.backend import tf

MAX_EROSION = 0.5  # blend towards a 3x3 erosion at most this far


@dataclass(frozen=True)
class AugmentPolicy:
    rotation_deg: float = 0.0   # uniform in [-r, r]
    shear: float = 0.0          # x-shear factor, uniform in [-s, s]
    scale: float = 0.0          # x and y scale each uniform in [1-s, 1+s]
    shift: float = 0.0          # shift, fraction of the image side, in [-s, s]
    stroke: float = 0.0         # blend towards dilation/erosion, in [-s, s]
    flip: bool = False          # mirror left-right with probability 1/2
    whole_pixels: bool = False  # shifts by whole pixels only (no resampling blur)
    # Reading: each below is off at 0.
    elastic: float = 0.0        # largest smooth displacement of the strokes, pixels
    blur: float = 0.0           # share of images blurred (Gaussian, sigma up to 1 pixel)
    binarize: float = 0.0       # share of images thresholded to hard 0/1 ink
    resample: float = 0.0       # share shrunk to 8-18 pixels a side and enlarged back

    @property
    def warps(self):
        return bool(self.rotation_deg or self.shear or self.scale or self.shift or self.flip
                    or self.elastic)

    def as_dict(self):
        return asdict(self)


POLICIES = {
    "mnist": AugmentPolicy(rotation_deg=8, shear=0.15, scale=0.08, shift=0.08, stroke=0.3),
    # Clothing is centred and sized the same in every image: mirror flips
    # and shifts of at most one whole pixel. Bilinear shifts by a fraction
    # of a pixel blur every image a little, and larger shifts or scaling did
    # worse (docs/fashion-mnist-recipes.md).
    "fashion_mnist": AugmentPolicy(shift=1 / 28, flip=True, whole_pixels=True),
    "none": AugmentPolicy(),
    # For reading real pages (train_reader.py): wider slants, aspect ratios
    # and pens than MNIST's writers, and the marks other scanners and phone
    # cameras leave. A stroke above 1 goes past one dilation towards two.
    "reading": AugmentPolicy(rotation_deg=12, shear=0.3, scale=0.15, shift=0.08, stroke=1.3,
                             elastic=2.0, blur=0.3, binarize=0.25, resample=0.2),
}


def policy_for(augment, dataset):
    """The policy a script's ``--augment`` flag asks for on ``dataset``."""
    return POLICIES[dataset if augment == "auto" else augment]


def _affine_coefficients(batch, size, policy, seed):
    """Per-image output->input affine maps: six (batch,) tensors a, b, c, d, e, f
    with input_x = a*x + b*y + c and input_y = d*x + e*y + f."""
    def uniform(k, bound):
        return tf.random.stateless_uniform(
            [batch], seed=seed + [0, k], minval=-bound, maxval=bound)

    angle = uniform(1, math.radians(policy.rotation_deg))
    shear = uniform(2, policy.shear)
    scale_x = 1.0 + uniform(3, policy.scale)
    scale_y = 1.0 + uniform(4, policy.scale)
    if policy.whole_pixels:
        # Whole-pixel shifts in [-k, k]: with no rotation, shear or scale the
        # bilinear gather then copies pixels exactly, as a pad-and-crop does.
        k = round(policy.shift * size)
        shift_x, shift_y = (tf.cast(tf.random.stateless_uniform(
            [batch], seed=seed + [0, j], minval=-k, maxval=k + 1, dtype=tf.int32), tf.float32)
            for j in (5, 6))
    else:
        shift_x = uniform(5, policy.shift * size)
        shift_y = uniform(6, policy.shift * size)
    if policy.flip:
        scale_x = scale_x * tf.where(uniform(7, 1.0) < 0, -1.0, 1.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map A = R(angle) @ Shear(shear) @ diag(scale_x, scale_y), about the centre.
    a00 = cos * scale_x
    a01 = (cos * shear - sin) * scale_y
    a10 = sin * scale_x
    a11 = (sin * shear + cos) * scale_y
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    centre = (size - 1) / 2.0
    # input = A^-1 (output - centre - shift) + centre
    cx, cy = centre + shift_x, centre + shift_y
    return (i00, i01, centre - (i00 * cx + i01 * cy),
            i10, i11, centre - (i10 * cx + i11 * cy))


def _bilinear(images, xs, ys):
    """Sample images (batch, h, w, c) at input coordinates xs, ys (batch, h, w);
    points outside the image read as 0."""
    shape = tf.shape(images)
    h, w = shape[1], shape[2]
    x0, y0 = tf.floor(xs), tf.floor(ys)
    wx, wy = (xs - x0)[..., None], (ys - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    batch_idx = tf.broadcast_to(tf.range(shape[0])[:, None, None], tf.shape(x0))

    def at(y, x):
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        idx = tf.stack([batch_idx, tf.clip_by_value(y, 0, h - 1),
                        tf.clip_by_value(x, 0, w - 1)], axis=-1)
        return tf.gather_nd(images, idx) * tf.cast(inside, images.dtype)[..., None]

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    return top * (1 - wy) + bottom * wy


def _affine_warp(images, coefficients):
    """Sample every image at its own affine map (:func:`_affine_coefficients`),
    bilinearly, points outside the image reading as 0: what :func:`_bilinear`
    gives on the map's grid, to the bit. One fused op per batch instead of a
    grid, four gathers and their index arithmetic, which cost far more than
    the sampling itself on a CPU."""
    a, b, c, d, e, f = coefficients
    zeros = tf.zeros_like(a)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=tf.stack([a, b, c, d, e, f, zeros, zeros], axis=1),
        output_shape=list(images.shape[1:3]), fill_value=0.0, interpolation="BILINEAR",
        fill_mode="CONSTANT")


def _dilate_erode(images):
    """3x3 grey dilation and erosion of (batch, h, w, channels) images, equal
    to ``max_pool2d(x, 3, 1, "SAME")`` and ``-max_pool2d(-x, 3, 1, "SAME")``,
    from shifted slices: TensorFlow's CPU pooling of one-channel images is
    slow enough to have been most of the augmentation's time."""
    # The border pixel repeated outside: every window reaching out already
    # holds it, so minimum and maximum are those of the pixels inside.
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")

    def window(reduce):
        rows = reduce(reduce(padded[:, :, :-2], padded[:, :, 1:-1]), padded[:, :, 2:])
        return reduce(reduce(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])

    return window(tf.maximum), window(tf.minimum)


def augment_batch(images, seed, policy):
    """Augment float images (batch, h, w, 1) in 0-1 with a stateless ``seed``.

    ``seed`` is an int32 tensor or list of two ints; the same seed gives the
    same output.
    """
    seed = tf.cast(seed, tf.int32)
    batch = tf.shape(images)[0]
    size = images.shape[1]
    out = images
    if policy.stroke:
        strength = tf.random.stateless_uniform(
            [batch, 1, 1, 1], seed=seed + [0, 11], minval=-policy.stroke, maxval=policy.stroke)
        dilated, eroded = _dilate_erode(out)
        # Erosion stops halfway: more rubs out MNIST's thin strokes.
        weight = tf.where(strength > 0, tf.minimum(strength, 1.0),
                          tf.minimum(-strength, MAX_EROSION))
        target = tf.where(strength > 0, dilated, eroded)
        out = out + weight * (target - out)
        if policy.stroke > 1:
            twice, _ = _dilate_erode(dilated)  # the unused erosion is pruned from the graph
            out = out + tf.maximum(strength - 1.0, 0.0) * (twice - dilated)
    if policy.warps and not policy.elastic:
        out = _affine_warp(out, _affine_coefficients(batch, size, policy, seed))
    elif policy.warps:
        a, b, c, d, e, f = (t[:, None, None] for t in
                            _affine_coefficients(batch, size, policy, seed))
        grid = tf.range(size, dtype=tf.float32)
        xs = a * grid[None, None, :] + b * grid[None, :, None] + c  # (batch, h, w)
        ys = d * grid[None, None, :] + e * grid[None, :, None] + f
        if policy.elastic:
            dx, dy = _elastic_field(batch, size, policy.elastic, seed)
            xs, ys = xs + dx, ys + dy
        out = _bilinear(out, xs, ys)
    if policy.resample:
        out = _some(out, _resampled(out, seed), policy.resample, seed, 21)
    if policy.blur:
        blurred = _gaussian(out, 1.0)
        amount = tf.random.stateless_uniform([batch, 1, 1, 1], seed=seed + [0, 22])
        out = _some(out, out + amount * (blurred - out), policy.blur, seed, 23)
    if policy.binarize:
        level = tf.random.stateless_uniform([batch, 1, 1, 1], seed=seed + [0, 24],
                                            minval=0.3, maxval=0.6)
        peak = tf.reduce_max(out, axis=[1, 2, 3], keepdims=True)
        out = _some(out, tf.cast(out > level * peak, out.dtype), policy.binarize, seed, 25)
    if policy.blur or policy.binarize or policy.resample:
        # The reader scales every character's brightest pixel to 1.
        out = out / tf.maximum(tf.reduce_max(out, axis=[1, 2, 3], keepdims=True), 1e-6)
    return out


def _some(images, changed, share, seed, k):
    """``changed`` for a random ``share`` of the images, ``images`` for the rest."""
    pick = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed=seed + [0, k])
    return tf.where(pick < share, changed, images)


def _gaussian_kernel(sigma):
    radius = max(1, int(math.ceil(3 * sigma)))
    taps = tf.exp(-tf.square(tf.range(-radius, radius + 1, dtype=tf.float32)) / (2 * sigma ** 2))
    return taps / tf.reduce_sum(taps)


def _gaussian(images, sigma):
    """Separable Gaussian blur of (batch, h, w, channels) images."""
    taps = _gaussian_kernel(sigma)
    channels = images.shape[-1]
    rows = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, channels, 1])
    cols = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, channels, 1])
    out = tf.nn.depthwise_conv2d(images, rows, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "SAME")


def _elastic_field(batch, size, amplitude, seed):
    """A smooth random displacement (dx, dy), each (batch, size, size), whose
    largest shift in each image is uniform in [0, amplitude] pixels (Simard
    et al. 2003's elastic distortion: smooth random noise)."""
    # Noise on a coarse 5x5 grid, enlarged smoothly: the same low-frequency
    # wobble as smoothing full-size noise, at a fraction of the cost.
    noise = tf.random.stateless_uniform([batch, 5, 5, 2], seed=seed + [0, 20],
                                        minval=-1.0, maxval=1.0)
    field = tf.image.resize(noise, [size, size], method="bicubic")
    peak = tf.reduce_max(tf.abs(field), axis=[1, 2, 3], keepdims=True)
    strength = tf.random.stateless_uniform([batch, 1, 1, 1], seed=seed + [0, 26],
                                           maxval=amplitude)
    field = field / tf.maximum(peak, 1e-6) * strength
    return field[..., 0], field[..., 1]


def _resampled(images, seed):
    """Each batch shrunk to one random side of 8-18 pixels and enlarged back:
    what a low-resolution scan leaves of a digit."""
    size = images.shape[1]
    side = tf.random.stateless_uniform([], seed=seed + [0, 27], minval=8, maxval=19,
                                       dtype=tf.int32)
    small = tf.image.resize(images, tf.stack([side, side]), method="area")
    return tf.image.resize(small, [size, size], method="bilinear")
