"""Batched, seeded augmentation for 28x28 grey images.

One random affine transform per image (rotation, shear, separate x/y scale,
shift), applied to the whole batch in a single ``ImageProjectiveTransformV3``
op, plus a random stroke-width change (towards a 3x3 grey dilation or
erosion). Randomness is *stateless*: the same ``seed`` tensor gives the same
batch, which makes training reproducible and resumable epoch by epoch.

The ranges suit handwriting, where people slant, write wide or narrow, and
use thick or thin pens; clothing images get shifts and mirror flips instead.
"""

import math
from dataclasses import asdict, dataclass

from digitsuite.backend import tf


@dataclass(frozen=True)
class AugmentPolicy:
    rotation_deg: float = 0.0   # uniform in [-r, r]
    shear: float = 0.0          # x-shear factor, uniform in [-s, s]
    scale: float = 0.0          # x and y scale each uniform in [1-s, 1+s]
    shift: float = 0.0          # shift, fraction of the image side, in [-s, s]
    stroke: float = 0.0         # blend towards dilation/erosion, in [-s, s]
    flip: bool = False          # mirror left-right with probability 1/2

    def as_dict(self):
        return asdict(self)


POLICIES = {
    "mnist": AugmentPolicy(rotation_deg=10, shear=0.2, scale=0.1, shift=0.1, stroke=0.5),
    "fashion_mnist": AugmentPolicy(shift=0.08, scale=0.05, flip=True),
    "none": AugmentPolicy(),
}


def _affine_transforms(batch, size, policy, seed):
    """(batch, 8) output->input projective transforms for ImageProjectiveTransformV3."""
    def uniform(k, bound):
        return tf.random.stateless_uniform(
            [batch], seed=seed + [0, k], minval=-bound, maxval=bound)

    angle = uniform(1, math.radians(policy.rotation_deg))
    shear = uniform(2, policy.shear)
    scale_x = 1.0 + uniform(3, policy.scale)
    scale_y = 1.0 + uniform(4, policy.scale)
    shift_x = uniform(5, policy.shift * size)
    shift_y = uniform(6, policy.shift * size)
    if policy.flip:
        flip = tf.where(uniform(7, 1.0) < 0, -1.0, 1.0)
        scale_x = scale_x * flip
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
    off_x = centre - (i00 * cx + i01 * cy)
    off_y = centre - (i10 * cx + i11 * cy)
    zeros = tf.zeros_like(angle)
    return tf.stack([i00, i01, off_x, i10, i11, off_y, zeros, zeros], axis=1)


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
        dilated = tf.nn.max_pool2d(out, 3, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-out, 3, 1, "SAME")
        target = tf.where(strength > 0, dilated, eroded)
        out = out + tf.abs(strength) * (target - out)
    if policy.rotation_deg or policy.shear or policy.scale or policy.shift or policy.flip:
        transforms = _affine_transforms(batch, size, policy, seed)
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=out, transforms=transforms, output_shape=tf.shape(out)[1:3],
            interpolation="BILINEAR", fill_mode="CONSTANT", fill_value=0.0)
    return out
