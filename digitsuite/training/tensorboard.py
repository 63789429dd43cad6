"""``--tensorboard``: watch a Keras run in TensorBoard while it trains.

:func:`callbacks` gives Keras' own TensorBoard callback (loss and accuracy,
train and validation, the learning rate, and a histogram of every weight
each epoch) and :class:`FeatureMapImages`, which writes the feature maps of
one fixed digit as images each epoch, so the filters can be seen forming.
View them with ``tensorboard --logdir <out-dir>/tensorboard``.
"""

from pathlib import Path

import numpy as np

from digitsuite.backend import keras, tf
from digitsuite.errors import DigitsuiteError
from digitsuite.visual.layerviz import map_layer_names, tile_maps

FEATURE_MAPS = "feature_maps"  # the image summaries' run folder under the log folder


def callbacks(log_dir, image):
    """Keras callbacks that log the run to ``log_dir``; ``image`` (28, 28)
    uint8 is the digit whose feature maps are drawn."""
    try:
        import tensorboard  # noqa: F401  (tf.summary writes nothing without it)
    except ImportError:
        raise DigitsuiteError("--tensorboard needs the tensorboard package; install it with: "
                              "pip install tensorboard") from None
    return [keras.callbacks.TensorBoard(str(log_dir), histogram_freq=1),
            FeatureMapImages(log_dir, image)]


def _scaled(maps):
    """Each map (h, w, channels) stretched to 0-1 on its own, so a map whose
    values are all small still shows its pattern (a flat map is black)."""
    low = maps.min(axis=(0, 1), keepdims=True)
    span = maps.max(axis=(0, 1), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0)


class FeatureMapImages(keras.callbacks.Callback):
    """After every epoch, write the maps of each convolution and pooling layer
    (:func:`digitsuite.visual.layerviz.map_layer_names`) for one digit as one
    tiled image per layer, tagged with the layer's name; the digit itself
    goes in once, as ``input``."""

    def __init__(self, log_dir, image):
        super().__init__()
        self.log_dir = Path(log_dir) / FEATURE_MAPS
        self.image = np.asarray(image, np.float32)[None, ..., None] / 255.0  # (1, 28, 28, 1)
        self.writer = self.probe = None

    def on_train_begin(self, logs=None):
        names = map_layer_names(self.model)
        # Shares the model's layers and weights, so each call sees this epoch's.
        self.probe = keras.Model(self.model.input,
                                 [self.model.get_layer(name).output for name in names])
        self.names = names
        self.writer = tf.summary.create_file_writer(str(self.log_dir))
        with self.writer.as_default():
            tf.summary.image("input", self.image, step=0)

    def on_epoch_end(self, epoch, logs=None):
        outputs = self.probe(self.image, training=False)
        with self.writer.as_default():
            for name, maps in zip(self.names, outputs):
                mosaic, _ = tile_maps(_scaled(np.asarray(maps)[0]), gap=1)  # (rows, cols)
                mosaic = np.nan_to_num(mosaic, nan=1.0)  # the gaps between maps white
                tf.summary.image(name, mosaic[None, ..., None], step=epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
