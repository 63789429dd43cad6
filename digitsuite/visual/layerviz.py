"""What every layer of a Keras image classifier sees, for one input image.

:func:`analyse` runs one image through the model and returns the
activations of its convolution, pooling and dense layers, the class
probabilities and a saliency map; the ``plot_*`` functions draw them and
:func:`write_report` saves every figure plus an ``index.html`` that shows
them on one page. Layers are chosen by type and fetched by name
(``model.get_layer(name).output``), so any functional model with
convolution or pooling layers works, not only the seed CNN.
"""

import html
import math

import matplotlib.pyplot as plt
import numpy as np

from digitsuite.backend import keras, tf
from digitsuite.fileio import save_figure, write_text
from digitsuite.markdown import percent

MAP_LAYERS = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D,
              keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
OVERVIEW_MAPS = 4  # maps per layer in the overview: the most active ones
DPI = 100


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
# Plotting


def _shape_text(shape):
    return "x".join(str(d) for d in shape)


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


def _plot_panels(maps, title, cmap, vmin, vmax, label, background):
    """All maps (h, w, count) as numbered panels of one image with a colour
    bar. One image draws in a fraction of the time of one axes per panel."""
    height, width, count = maps.shape
    gap = max(1, math.ceil(0.35 * height))
    mosaic, corners = tile_maps(maps, gap)
    image_width = grid_shape(count)[1] * 1.05  # inches
    fig, ax = plt.subplots(figsize=(image_width + 1.3,
                                    image_width * mosaic.shape[0] / mosaic.shape[1] + 0.8),
                           layout="constrained")
    im = ax.imshow(mosaic, cmap=plt.get_cmap(cmap).with_extremes(bad=background),
                   vmin=vmin, vmax=vmax, interpolation="nearest")
    for k, (top, left) in enumerate(corners):
        ax.text(left - 0.5, top - 0.5 - gap / 2, str(k), fontsize=7, va="center")
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    ax.set_title(title)
    return fig


def plot_input(image, original=None, title="network input"):
    """The 28x28 input as the network sees it (ink 1 = white), next to the
    user's original picture when there is one."""
    panels = 2 if original is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.9), squeeze=False)
    axes = axes[0]
    if original is not None:
        axes[0].imshow(original, cmap="gray", vmin=0, vmax=1)
        axes[0].set_title(f"your image, {original.shape[1]}x{original.shape[0]} pixels")
        axes[0].set_axis_off()
    ax = axes[-1]
    im = ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title("as the network sees it: 28x28, 0-1")
    ax.set_xticks([0, 13, 27])
    ax.set_yticks([0, 13, 27])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(name, maps):
    """Every feature map of one layer, (h, w, channels), on one colour scale."""
    channels = maps.shape[-1]
    return _plot_panels(
        maps, f"{name}: output {_shape_text(maps.shape)}, all {channels} feature maps\n"
              "(one colour scale; black = 0)",
        "inferno", min(0.0, float(maps.min())), max(float(maps.max()), 1e-6),
        "activation", "white")


def plot_filters(name, filters):
    """The learned filters (kh, kw, count) of a convolution layer: red
    weights raise the response where the pixel is ink, blue ones lower it."""
    count = filters.shape[-1]
    limit = max(float(np.abs(filters).max()), 1e-6)
    return _plot_panels(
        filters, f"{name}: the {count} learned {_shape_text(filters.shape[:2])} filters\n"
                 "(red +, blue -)",
        "RdBu_r", -limit, limit, "weight", "0.85")


def plot_dense(dense):
    """One bar chart per hidden Dense layer: the activation of every unit."""
    fig, axes = plt.subplots(len(dense), 1, figsize=(10, 2.4 * len(dense) + 0.6),
                             squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], dense.items()):
        ax.bar(np.arange(len(values)), values, width=1.0, color="tab:blue")
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_title(f"{name}: {len(values)} units, {int(np.sum(values > 0))} active (> 0)")
        ax.set_ylabel("activation")
    axes[-1, 0].set_xlabel("unit")
    fig.suptitle("dense layers")
    fig.tight_layout()
    return fig


def plot_probabilities(probabilities, class_names, label=None):
    """Bar chart of the class probabilities, the predicted class in orange."""
    predicted = int(np.argmax(probabilities))
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = ["tab:orange" if k == predicted else "tab:blue"
               for k in range(len(probabilities))]
    bars = ax.bar(np.arange(len(probabilities)), probabilities, color=colours)
    ax.bar_label(bars, labels=[f"{p:.0%}" if p >= 0.005 else "" for p in probabilities],
                 fontsize=8, padding=2)
    rotate = 45 if max(len(n) for n in class_names) > 2 else 0
    ax.set_xticks(np.arange(len(probabilities)), class_names, rotation=rotate,
                  ha="right" if rotate else "center")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("probability")
    truth = f"; true label {class_names[label]}" if label is not None else ""
    ax.set_title(f"softmax output: predicted {class_names[predicted]} "
                 f"({percent(probabilities[predicted], 2)}){truth}")
    fig.tight_layout()
    return fig


def plot_saliency(image, heat, class_name):
    """Input, saliency map and the two overlaid."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.8))
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[0].set_title("input")
    im = axes[1].imshow(heat, cmap="hot", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"saliency for class {class_name}")
    axes[2].imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[2].imshow(heat, cmap="hot", vmin=0, vmax=1, alpha=0.55, interpolation="nearest")
    axes[2].set_title("overlay")
    for ax in axes:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes, fraction=0.025, pad=0.02, label="|d score / d pixel|, scaled")
    fig.suptitle("which pixels move the predicted class's score most")
    return fig


def plot_overview(image, maps, probabilities, class_names):
    """Left to right: input, the most active maps of each conv/pool layer,
    the class probabilities."""
    rows = OVERVIEW_MAPS
    widths = [2.0] + [1.0] * len(maps) + [2.2]
    fig = plt.figure(figsize=(1.6 * sum(widths) + 0.6, 1.45 * rows + 1.0))
    grid = fig.add_gridspec(rows, len(widths), width_ratios=widths, wspace=0.45,
                            hspace=0.25, left=0.03, right=0.97, top=0.82, bottom=0.08)
    ax = fig.add_subplot(grid[rows // 2 - 1:rows // 2 + 1, 0])
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title("input\n28x28", fontsize=9)
    ax.set_axis_off()
    columns = [ax]
    for col, (name, fmap) in enumerate(maps.items(), start=1):
        strongest = np.argsort(fmap.mean(axis=(0, 1)))[::-1][:rows]
        vmax = max(float(fmap.max()), 1e-6)
        for row, k in enumerate(strongest):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(fmap[..., k], cmap="inferno", vmin=min(0.0, float(fmap.min())),
                      vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"#{k}", fontsize=7, labelpad=1)
            if row == 0:
                ax.set_title(f"{name}\n{_shape_text(fmap.shape)}", fontsize=9)
                columns.append(ax)
    ax = fig.add_subplot(grid[:, -1])
    ax.barh(np.arange(len(probabilities)), probabilities,
            color=["tab:orange" if k == np.argmax(probabilities) else "tab:blue"
                   for k in range(len(probabilities))])
    ax.set_yticks(np.arange(len(probabilities)), class_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title("output", fontsize=9)
    columns.append(ax)
    for left, right in zip(columns, columns[1:]):  # arrows in the gaps between columns
        x = (left.get_position().x1 + right.get_position().x0) / 2
        fig.text(x, 0.45, "\u2192", ha="center", va="center", fontsize=16, color="0.4")
    predicted = int(np.argmax(probabilities))
    fig.suptitle(f"input \u2192 feature maps (the {rows} most active per layer) \u2192 "
                 f"probabilities: predicted {class_names[predicted]} "
                 f"({percent(probabilities[predicted], 2)})")
    return fig


# --------------------------------------------------------------------------
# Writing


def index_html(title, summary, figures):
    """A page showing ``figures`` [(file name, caption)] under a title and summary."""
    items = "\n".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption in figures)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }}
figure {{ margin: 2em 0; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ color: #333; margin-top: 0.4em; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary)}</p>
{items}
</body>
</html>
"""


def write_report(out_dir, model, image, result, class_names, source, label=None,
                 original=None):
    """Save every figure of ``result`` (from :func:`analyse`) and index.html
    in ``out_dir``; return the written file names, in page order.

    ``source`` says where the image came from (for titles); ``label`` is its
    true class index when known; ``original`` is the user's picture before
    MNIST-style preparation.
    """
    probabilities, predicted = result["probabilities"], result["predicted"]
    name = class_names[predicted]
    page = []  # (file, caption), in page order

    def add(file_name, fig, caption):
        save_figure(fig, out_dir / file_name, dpi=DPI)
        page.append((file_name, caption))

    add("overview.png", plot_overview(image, result["maps"], probabilities, class_names),
        "Overview, left to right: the input, the four most active feature maps of each "
        "convolution and pooling layer, and the class probabilities.")
    add("input.png", plot_input(image, original, title=source),
        "The input as the network sees it: 28x28 pixels, ink 1 (white) on 0 (black)."
        + (" Left: the picture as given; right: after MNIST-style preparation (grey, ink "
           "as foreground, cropped, fit into 20x20, centred by centre of mass)."
           if original is not None else ""))
    for layer_name, maps in result["maps"].items():
        add(f"maps_{layer_name}.png", plot_feature_maps(layer_name, maps),
            f"{layer_name}, output {_shape_text(maps.shape)}: "
            f"{describe_layer(model.get_layer(layer_name))}.")
    if result["filters"] is not None:
        conv, filters = result["filters_layer"], result["filters"]
        add(f"filters_{conv}.png", plot_filters(conv, filters),
            f"The learned filters of {conv}: the weights each one multiplies a "
            f"{_shape_text(filters.shape[:2])} patch of its input by. Red weights add to "
            "the response where the patch has ink, blue ones subtract.")
    if result["dense"]:
        add("dense.png", plot_dense(result["dense"]),
            "Activations of the hidden dense layers: each bar is one unit; ReLU units at "
            "0 are silent for this input.")
    add("probabilities.png", plot_probabilities(probabilities, class_names, label),
        f"The softmax output: predicted {name} with probability "
        f"{percent(probabilities[predicted], 2)} (orange).")
    add("saliency.png", plot_saliency(image, result["saliency"], name),
        f"Saliency: the size of the gradient of class {name}'s score (before softmax) "
        "with respect to each input pixel; bright pixels change the score most.")
    summary = (f"Predicted {name} with probability "
               f"{percent(probabilities[predicted], 2)}"
               + (f"; true label {class_names[label]}." if label is not None else "."))
    write_text(out_dir / "index.html",
               index_html(f"What the network sees: {source}", summary, page))
    return [f for f, _ in page] + ["index.html"]
