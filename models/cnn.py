"""The seed CNN: three 3x3 convolutions, two max-pools, three dense layers."""

from models.dense import classifier_head


def build_cnn(input_shape=(28, 28, 1), num_classes=10, dropout=0.5):
    """Build the seed CNN (237,482 parameters for 28x28x1 inputs, 10 classes).

    Layer names are stable (``conv1`` ... ``predictions``): visualisation
    finds layers by these names, never by position.
    """
    from digitsuite.backend import keras  # here, not on import: see models/dense.py

    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(64, 3, activation="relu", name="conv1")(inputs)  # (26, 26, 64)
    x = layers.MaxPooling2D(2, name="pool1")(x)                          # (13, 13, 64)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)       # (11, 11, 64)
    x = layers.MaxPooling2D(2, name="pool2")(x)                          # (5, 5, 64)
    x = layers.Conv2D(32, 3, activation="relu", name="conv3")(x)       # (3, 3, 32)
    x = layers.Flatten(name="flatten")(x)                                # (288,)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name="seed_cnn")
