"""The figures and page of what every layer sees: they draw what
:func:`digitsuite.visual.layerviz.analyse` computed. ``plot_*`` return a
figure each; :func:`write_report` saves them all with an ``index.html``
that shows them on one page."""

import html
import math

import matplotlib.pyplot as plt
import numpy as np

from digitsuite.fileio import save_figure, write_json, write_text
from digitsuite.markdown import percent, table
from digitsuite.visual.layerviz import (
    COLORMAPS,
    activation_scale,
    describe_layer,
    grid_shape,
    tile_maps,
    weight_scale,
)

OVERVIEW_MAPS = 4  # maps per layer in the overview: the most active ones
DPI = 100


def _shape_text(shape):
    return "x".join(str(d) for d in shape)


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


def plot_crop(original, box, title="the crop read"):
    """The user's picture with the box of the digit that was read drawn on
    it (``box`` [x0, y0, x1, y1] in its pixels, ends exclusive)."""
    from matplotlib.patches import Rectangle

    height, width = original.shape[:2]
    fig, ax = plt.subplots(figsize=(6, 6 * height / width + 0.6))
    ax.imshow(original, cmap="gray", vmin=0, vmax=1)
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                           edgecolor="#e8710a", linewidth=2.5))
    ax.set_title(f"{title}: x {x0}-{x1}, y {y0}-{y1} of {width}x{height} pixels")
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_feature_maps(name, maps):
    """Every feature map of one layer, (h, w, channels), on one colour scale."""
    channels = maps.shape[-1]
    return _plot_panels(
        maps, f"{name}: output {_shape_text(maps.shape)}, all {channels} feature maps\n"
              "(one colour scale; black = 0)",
        COLORMAPS["maps"], *activation_scale(maps), "activation", "white")


def plot_filters(name, filters):
    """The learned filters (kh, kw, count) of a convolution layer: red
    weights raise the response where the pixel is ink, blue ones lower it."""
    count = filters.shape[-1]
    return _plot_panels(
        filters, f"{name}: the {count} learned {_shape_text(filters.shape[:2])} filters\n"
                 "(red +, blue -)",
        COLORMAPS["filters"], *weight_scale(filters), "weight", "0.85")


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
    im = axes[1].imshow(heat, cmap=COLORMAPS["saliency"], vmin=0, vmax=1,
                        interpolation="nearest")
    axes[1].set_title(f"saliency for class {class_name}")
    axes[2].imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[2].imshow(heat, cmap=COLORMAPS["saliency"], vmin=0, vmax=1, alpha=0.55,
                   interpolation="nearest")
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
        vmin, vmax = activation_scale(fmap)
        for row, k in enumerate(strongest):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(fmap[..., k], cmap=COLORMAPS["maps"], vmin=vmin, vmax=vmax,
                      interpolation="nearest")
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
                 original=None, crop=None, image_sha256=None):
    """Save every figure of ``result`` (from
    :func:`digitsuite.visual.layerviz.analyse`), index.html, report.json and
    report.md in ``out_dir``; return the written file names, in page order.

    ``source`` says where the image came from (for titles); ``label`` is its
    true class index when known; ``original`` is the user's picture before
    MNIST-style preparation; ``crop`` the box of the digit read in it
    (then crop.png shows it); ``image_sha256`` the checksum of the picture's
    file, which report.json records so that a later run can tell its folder
    from another picture's.
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
    if original is not None and crop is not None:
        add("crop.png", plot_crop(original, crop),
            "The digit read in your picture (orange box): of the characters found, the "
            "most plausible digit; shadows, the paper's edge, dots and dashes left out.")
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
    data, markdown = report(result, class_names, source, label, crop, image_sha256, page)
    write_json(out_dir / "report.json", data)
    write_text(out_dir / "report.md", markdown)
    return [f for f, _ in page] + ["index.html", "report.json", "report.md"]


def report(result, class_names, source, label, crop, image_sha256, page):
    """``report.json`` and ``report.md`` of a run: what the picture was,
    the prediction and every class's probability, the crop read, each
    layer's output shape and the figures with their captions. Returns
    (dict, Markdown text)."""
    probabilities, predicted = result["probabilities"], result["predicted"]
    shapes = {name: list(np.shape(values))
              for name, values in {**result["maps"], **result["dense"]}.items()}
    data = {"source": source, "image_sha256": image_sha256,
            "predicted": class_names[predicted],
            "probability": round(float(probabilities[predicted]), 6),
            "probabilities": {name: round(float(p), 6)
                              for name, p in zip(class_names, probabilities)},
            "label": None if label is None else class_names[label],
            "crop": None if crop is None else [int(v) for v in crop],
            "layers": shapes, "figures": [name for name, _ in page]}
    lines = [f"# What the network sees: {source}", "",
             f"Predicted **{data['predicted']}** with probability "
             f"{percent(data['probability'], 2)} (the model's softmax, not a chance of "
             "being right on other people's writing)"
             + (f"; true label {data['label']}." if label is not None else "."), ""]
    if crop is not None:
        lines += [f"The digit read is the crop x {crop[0]}-{crop[2]}, y {crop[1]}-{crop[3]} "
                  "of the picture as it was read (shrunk or enlarged as the run printed; "
                  "crop.png shows it).", ""]
    lines += [*table(["class", "probability"],
                     [[name, percent(p, 2)] for name, p in data["probabilities"].items()],
                     ["left", "right"]), "",
              *table(["layer", "output shape"],
                     [[name, " x ".join(map(str, shape))] for name, shape in shapes.items()]),
              ""]
    for name, caption in page:
        lines += [f"## {name}", "", caption, "", f"![{name}]({name})", ""]
    return data, "\n".join(lines)
