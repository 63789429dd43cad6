"""The dense baseline: a multilayer perceptron on the flattened pixels, and
the classifier head it shares with the seed CNN.

Keras is imported inside the builders, through the suite's backend module
(which silences TensorFlow's start-up): reading a builder's defaults, as a
script's --help does, then does not start TensorFlow.
"""


def classifier_head(x, num_classes, dropout):
    """Dense 512 -> Dropout -> Dense 64 -> Dense ``num_classes`` (softmax), on
    features ``x``: the seed CNN's head, and the whole dense net on pixels."""
    from digitsuite.backend import keras

    layers = keras.layers
    x = layers.Dense(512, activation="relu", name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(64, activation="relu", name="dense2")(x)
    # The probabilities, and so the loss, stay float32 under a mixed
    # precision policy: bfloat16's 8-bit mantissa cannot tell 0.999 from 1.
    return layers.Dense(num_classes, activation="softmax", name="predictions",
                        dtype="float32")(x)


def build_dense(input_shape=(28, 28, 1), num_classes=10, dropout=0.5):
    """Flatten -> Dense 512 -> Dropout -> Dense 64 -> Dense ``num_classes``."""
    from digitsuite.backend import keras

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)                     # (784,)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name="dense_net")
