"""What every layer of a Keras image classifier sees, for one input image.

:func:`analyse` runs one image through the model and returns the
activations of its convolution, pooling and dense layers, the class
probabilities and a saliency map (:mod:`digitsuite.visual.layerfigures`
draws them and writes the page that shows them). Layers are chosen by type and fetched by name
(``model.get_layer(name).output``), so any functional model with
convolution or pooling layers works, not only the seed CNN.
"""

import math

import numpy as np

from digitsuite.backend import keras, tf

MAP_LAYERS = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D,
              keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


# --------------------------------------------------------------------------
# Computing


def map_layer_names(model):
    """Names of the convolution and pooling layers, input to output."""
    return [layer.name for layer in model.layers if isinstance(layer, MAP_LAYERS)]


def dense_layer_names(model):
    """Names of the hidden Dense layers (the output layer is drawn as probabilities)."""
    return [layer.name for layer in model.layers[:-1] if isinstance(layer, keras.layers.Dense)]


def first_conv_layer(model):
    """The first Conv2D layer, whose filters look at the pixels; None if there is none."""
    return next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)),
                None)


def class_probabilities(output):
    """The model's output vector as probabilities: as is when it already is
    one (non-negative, summing to 1), otherwise through a softmax (logits)."""
    output = np.asarray(output, np.float64)
    if output.min() >= 0 and abs(output.sum() - 1) < 1e-3:
        return output
    exp = np.exp(output - output.max())
    return exp / exp.sum()


def class_score_model(model):
    """``model`` with the softmax of its last layer removed, so that it outputs
    class scores (logits); ``model`` itself when its last layer has no softmax.

    Saliency uses scores, as Simonyan et al. (2013) do: a probability that
    has saturated at 1.0 has no gradient left to show.
    """
    last = model.layers[-1]
    if getattr(last, "activation", None) is not keras.activations.softmax:
        return model

    def clone(layer):
        config = layer.get_config()
        if layer is last:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    scores = keras.models.clone_model(model, clone_function=clone)
    scores.set_weights(model.get_weights())
    return keras.Model(scores.input, scores.output)  # called with one tensor, like probes


def saliency(model, image, class_index):
    """|d score / d pixel| for ``class_index``, scaled to a maximum of 1: the
    pixels whose change would move that class's score most. (28, 28)."""
    x = tf.convert_to_tensor(image[None, ..., None], tf.float32)  # (1, 28, 28, 1)
    scores = class_score_model(model)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = scores(x, training=False)[0, class_index]
    return _scaled_saliency(tape.gradient(score, x).numpy()[0])


def _scaled_saliency(grad):
    """Input gradient (h, w, channels) -> (h, w): the largest |gradient| over
    channels, scaled to a maximum of 1."""
    heat = np.abs(grad).max(axis=-1)
    return heat / heat.max() if heat.max() > 0 else heat


class Analyser:
    """:func:`analyse` for one model, built once for many images.

    The probe (input -> every conv, pool and dense activation and the class
    scores) and the saliency gradient run as one compiled ``tf.function``,
    so a call costs one forward and one backward pass, not a model build.
    It snapshots the model's weights (the class-score copy and ``filters``):
    build a new one after training further. Calls may come from several
    threads at once.
    """

    def __init__(self, model):
        self.model = model
        self.map_names = map_layer_names(model)
        self.dense_names = dense_layer_names(model)
        names = self.map_names + self.dense_names
        scores = class_score_model(model)
        self._softmax_removed = scores is not model
        # model.input is the single input tensor, so the probe takes one
        # array (model.inputs would want a list).
        probe = keras.Model(scores.input, [scores.get_layer(n).output for n in names]
                            + [scores.output])
        spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)

        @tf.function(input_signature=[spec], autograph=False)  # plain ops, no control flow
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = probe(x, training=False)
                # The predicted class's score; the softmax, when there is one, keeps the argmax.
                score = tf.reduce_max(outputs[-1][0])
            return outputs, tape.gradient(score, x)

        self._run = run
        # (kh, kw, in, out) -> (kh, kw, out); the mean over input channels is
        # the filter itself for grey inputs.
        self.filters = {layer.name: np.asarray(layer.kernel).mean(axis=2)
                        for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
        conv = first_conv_layer(model)
        self.filters_layer = conv.name if conv is not None else None

    def __call__(self, image):
        """The dict of :func:`analyse` for one image (float (28, 28) in 0-1)."""
        x = np.asarray(image, np.float32).reshape(1, *self.model.input_shape[1:])
        outputs, grad = self._run(tf.constant(x))
        outputs = [o.numpy()[0] for o in outputs]
        activations = dict(zip(self.map_names + self.dense_names, outputs))
        output = outputs[-1].astype(np.float64)
        if self._softmax_removed:
            exp = np.exp(output - output.max())
            probabilities = exp / exp.sum()
        else:
            probabilities = class_probabilities(output)
        return {
            "maps": {n: activations[n] for n in self.map_names},
            "dense": {n: activations[n] for n in self.dense_names},
            "probabilities": probabilities,
            "predicted": int(np.argmax(probabilities)),
            "saliency": _scaled_saliency(grad.numpy()[0]),
            "filters": self.filters.get(self.filters_layer),
            "filters_layer": self.filters_layer,
        }


def analyse(model, image):
    """Run one image (float (28, 28) in 0-1) through ``model``.

    Returns a dict: ``maps`` {layer name: (h, w, channels)} for convolution
    and pooling layers, ``dense`` {layer name: (units,)}, ``probabilities``
    (classes,), ``predicted`` class index, ``saliency`` (28, 28), and
    ``filters`` (kh, kw, filters) of the first Conv2D layer with its
    ``filters_layer`` name (None when the model has no Conv2D). For many
    images, build one :class:`Analyser` and call it.
    """
    return Analyser(model)(image)


def convolution_step(layer, image, channel, row=None, col=None):
    """One output value of a Conv2D ``layer`` on a one-channel ``image``
    (float (h, w) in 0-1), worked out as a person would: the window of
    input pixels under filter ``channel`` at output position (``row``,
    ``col``), the weights, their nine (or k*k) products, the sum, the bias
    and the activation. Without a position, the one whose output is
    largest. Returns a dict of plain numbers and lists.

    Raises ValueError for a layer that is not a stride-1 convolution of one
    input channel, or a position or channel out of range.
    """
    config = layer.get_config()
    kernel = np.asarray(layer.kernel, np.float64)  # (kh, kw, 1, filters)
    kh, kw, inputs, filters = kernel.shape
    if inputs != 1 or tuple(config["strides"]) != (1, 1) or \
            tuple(config["dilation_rate"]) != (1, 1):
        raise ValueError(f"{layer.name} is not a stride-1 convolution of one input channel")
    if not 0 <= channel < filters:
        raise ValueError(f"{layer.name} has filters 0 to {filters - 1}, not {channel}")
    image = np.asarray(image, np.float64)
    if config["padding"] == "same":  # zeros around, as Keras pads: the extra one after
        top, left = (kh - 1) // 2, (kw - 1) // 2
        image = np.pad(image, ((top, kh - 1 - top), (left, kw - 1 - left)))
    weights = kernel[:, :, 0, channel]
    bias = float(np.asarray(layer.bias)[channel]) if layer.use_bias else 0.0
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))  # (oh, ow, kh, kw)
    if row is None or col is None:
        totals = np.einsum("ijkl,kl->ij", windows, weights) + bias
        row, col = (int(v) for v in np.unravel_index(np.argmax(totals), totals.shape))
    height, width = windows.shape[:2]
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"{layer.name}'s maps are {height}x{width}; no position ({row}, {col})")
    window = windows[row, col]
    products = window * weights
    total = float(products.sum()) + bias
    output = float(np.asarray(layer.activation(np.array([total], np.float32)))[0])
    return {"layer": layer.name, "channel": int(channel), "row": int(row), "col": int(col),
            "out_shape": [int(height), int(width)], "padding": config["padding"],
            "window": window.tolist(), "weights": weights.tolist(),
            "products": products.tolist(), "sum": float(products.sum()), "bias": bias,
            "total": total, "activation": layer.activation.__name__, "output": output}


def describe_layer(layer):
    """One sentence on what a convolution or pooling layer does."""
    config = layer.get_config()
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        kind = "max" if isinstance(layer, keras.layers.MaxPooling2D) else "average"
        size = "x".join(map(str, config["pool_size"]))
        keep = "the strongest response" if kind == "max" else "the mean response"
        return (f"{kind}-pooling over {size} blocks: each map of the layer before, shrunk, "
                f"keeping {keep} in each block")
    size = "x".join(map(str, config["kernel_size"]))
    activation = config.get("activation", "linear")
    count = config.get("filters")
    what = f"{count} filters of {size}" if count else f"{size} filters"
    return (f"convolution with {what} and {activation} activation: each map is one "
            "filter's response at every position; bright means a strong response")


# --------------------------------------------------------------------------
# Colour scales: the figures here and the app's page draw with the same ones

COLORMAPS = {"maps": "inferno", "saliency": "hot", "filters": "RdBu_r"}


def activation_scale(values):
    """(low, high) of one colour scale for activations: 0 is the bottom
    (black) unless some are negative, and an all-zero layer still spans."""
    return min(0.0, float(np.min(values))), max(float(np.max(values)), 1e-6)


def weight_scale(weights):
    """(low, high) of a colour scale centred on 0 for weights of both signs."""
    limit = max(float(np.abs(weights).max()), 1e-6)
    return -limit, limit


# --------------------------------------------------------------------------
# Maps as one array


def grid_shape(count):
    """(rows, cols) for ``count`` panels: 8 across, wider when there are many."""
    cols = min(count, max(8, math.ceil(math.sqrt(count))))
    return math.ceil(count / cols), cols


def tile_maps(maps, gap):
    """Tile maps (h, w, count) into one float array, row by row, ``gap``
    NaN pixels apart (NaN is drawn as the background): one panel per map.
    Returns the mosaic and the (row, col) of each panel's top-left pixel."""
    height, width, count = maps.shape
    rows, cols = grid_shape(count)
    mosaic = np.full((rows * (height + gap), cols * (width + gap) - gap), np.nan, np.float32)
    corners = []
    for k in range(count):
        top = (k // cols) * (height + gap) + gap  # the gap above holds the panel's number
        left = (k % cols) * (width + gap)
        mosaic[top:top + height, left:left + width] = maps[..., k]
        corners.append((top, left))
    return mosaic, corners
