"""The dense baseline: a multilayer perceptron on the flattened pixels."""

from digitsuite.backend import keras
from keras import layers


def build_dense(input_shape=(28, 28, 1), num_classes=10, dropout=0.5):
    """Flatten -> Dense 512 -> Dropout -> Dense 64 -> Dense ``num_classes``."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Flatten(name="flatten")(inputs)                     # (784,)
    x = layers.Dense(512, activation="relu", name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(64, activation="relu", name="dense2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="dense_net")
