"""A faster forward pass for the seed CNN: the same model, the same
outputs and gradients, fewer and cheaper operations.

:func:`seed_cnn_forward` computes a seed CNN's class probabilities in a
rewritten but equivalent form. The model itself (its layers, weights and
saved file) is unchanged; :mod:`digitsuite.inference.predict` predicts
through it and :mod:`digitsuite.training.trainstep` trains through it. Two
rewrites, each exact in real arithmetic (results differ from Keras' own
by float rounding only):

1. **conv1 -> ReLU -> pool1 as four small matrix products.** TensorFlow's
   CPU kernels handle a one-channel 3x3 convolution and the backward pass
   of a 2x2 max-pool over its 26x26x64 output poorly: together they were a
   large share of a training step. Each pooled value is the largest of
   four convolution outputs, at the four "phases" (row and column offsets
   0 or 1) of its 2x2 window, all four read from one 4x4 patch of the image
   taken with stride 2. So: cut the 4x4 patches, multiply them by the 3x3
   kernel placed at each phase (four products with 16 x 64 matrices), take
   the maximum over the four phases, then add the bias and apply ReLU
   (adding one bias and ReLU both commute with the maximum). The 26x26x64
   tensor and its max-pool gradient never exist.
2. **Only what pool2 reads.** pool2 floors conv2's 11x11 output to 5x5,
   dropping its last row and column; so conv2 needs only 12x12 of pool1's
   13x13 output, which needs only the top-left 26x26 of the image. Crop the
   image first and 17 % of conv2's work (and 15 % of conv1's) disappears.

Ties inside a pooling window go to one position in both forms, so the
gradients agree too. Under Keras' ``mixed_bfloat16`` policy
(:mod:`digitsuite.precision`) the rewritten part computes in bfloat16 from
the float32 variables, as Keras' layers do. docs/performance.md gives the
measured effect.
Models laid out differently (the dense net, a changed CNN) and
multi-replica strategies keep Keras' own step.
"""

import numpy as np

from digitsuite.backend import keras, tf

# The seed CNN's layers, in order, by name (models/cnn.py).
_HEAD = ("conv3", "flatten", "dense1", "dropout", "dense2", "predictions")


def _plain_conv(layer, channels_in=None):
    """True for a 3x3, stride-1, valid, ReLU Conv2D with bias, channels last."""
    return (isinstance(layer, keras.layers.Conv2D)
            and tuple(layer.kernel_size) == (3, 3) and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1) and layer.padding == "valid"
            and layer.data_format == "channels_last" and layer.use_bias
            and layer.groups == 1
            and keras.activations.serialize(layer.activation) == "relu"
            and (channels_in is None or layer.kernel.shape[2] == channels_in))


def _plain_pool(layer):
    """True for a 2x2, stride-2, valid max-pool, channels last."""
    return (isinstance(layer, keras.layers.MaxPooling2D)
            and tuple(layer.pool_size) == (2, 2) and tuple(layer.strides) == (2, 2)
            and layer.padding == "valid" and layer.data_format == "channels_last")


# Cuts every 4x4 patch (stride 2) out of a one-channel image as 16 channels,
# in row-major order: a convolution with the identity, exact, and faster than
# tf.image.extract_patches (docs/performance.md). A numpy array, so that
# importing this module does not start TensorFlow's runtime.
_PATCH_4X4 = np.eye(16, dtype=np.float32).reshape(4, 4, 1, 16)


@tf.custom_gradient
def _first_max_of_four(p0, p1, p2, p3):
    """max(p0, p1, p2, p3), elementwise; the gradient goes to the first
    largest, as max-pooling's does. The same as a tree of tf.maximum, whose
    gradient takes six selects where these four suffice."""
    left_01, left_23 = p0 >= p1, p2 >= p3
    max_01, max_23 = tf.maximum(p0, p1), tf.maximum(p2, p3)
    top_01 = max_01 >= max_23

    def grad(upstream):
        zero = tf.zeros_like(upstream)
        to_01 = tf.where(top_01, upstream, zero)
        to_23 = upstream - to_01
        to_0, to_2 = tf.where(left_01, to_01, zero), tf.where(left_23, to_23, zero)
        return to_0, to_01 - to_0, to_2, to_23 - to_2

    return tf.maximum(max_01, max_23), grad


def seed_cnn_forward(model):
    """``forward(images, training)`` computing ``model``'s class probabilities
    by the rewrites above, or None when ``model`` is not laid out like the
    seed CNN (conv1 on one channel -> pool1 -> conv2 -> pool2 -> the rest)."""
    by_name = {layer.name: layer for layer in model.layers}
    names = ("conv1", "pool1", "conv2", "pool2") + _HEAD
    if any(name not in by_name for name in names) or len(model.inputs) != 1:
        return None
    conv1, pool1, conv2, pool2 = (by_name[n] for n in names[:4])
    if not (_plain_conv(conv1, channels_in=1) and _plain_pool(pool1)
            and _plain_conv(conv2) and _plain_pool(pool2)
            and conv1.compute_dtype == conv2.compute_dtype in ("float32", "bfloat16")):
        return None
    dtype = tf.as_dtype(conv1.compute_dtype)
    patch_4x4 = _PATCH_4X4.astype(dtype.as_numpy_dtype)
    # The chain must be exactly input -> conv1 -> pool1 -> conv2 -> pool2 -> conv3.
    chain = [model.inputs[0], conv1.output, pool1.output, conv2.output, pool2.output]
    for layer, source in zip((conv1, pool1, conv2, pool2, by_name["conv3"]), chain):
        if layer.input is not source:
            return None
    pool2_out = pool2.output.shape[1:3]               # (5, 5) for 28x28 images
    conv2_in = [2 * side + 2 for side in pool2_out]   # pool1 rows/cols conv2 reads: 12
    image_in = [2 * side + 2 for side in conv2_in]    # image rows/cols conv1 reads: 26
    head = [by_name[name] for name in _HEAD]

    def conv1_relu_pool1(images):
        images = tf.cast(images[:, :image_in[0], :image_in[1], :], dtype)
        patches = tf.nn.conv2d(images, patch_4x4, 2, "VALID")    # (batch, 12, 12, 16)
        kernel = tf.cast(conv1.kernel[:, :, 0, :], dtype)       # (3, 3, 64)
        rows = tf.reshape(patches, [-1, 16])
        # One (rows, 64) product per phase: the kernel placed at offset (dy, dx)
        # of the 4x4 patch. Four products beat one wide product cut into
        # phases, and a max of four separate tensors beats arg-max over a
        # length-4 axis and its one-hot spread (which took as long as
        # conv2's whole backward pass).
        phase = [tf.matmul(rows, tf.reshape(tf.pad(kernel, [[dy, 1 - dy], [dx, 1 - dx], [0, 0]]),
                                            [16, -1]))
                 for dy in (0, 1) for dx in (0, 1)]
        pooled = tf.reshape(_first_max_of_four(*phase), [-1, *conv2_in, kernel.shape[-1]])
        return tf.nn.relu(pooled + tf.cast(conv1.bias, dtype))

    def forward(images, training=False):
        x = conv1_relu_pool1(images)
        x = tf.nn.conv2d(x, tf.cast(conv2.kernel, dtype), 1, "VALID")
        x = tf.nn.relu(x + tf.cast(conv2.bias, dtype))
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        for layer in head:
            x = layer(x, training=training)
        return x

    return forward
