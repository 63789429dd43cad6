"""What a convolution and a max-pool do to an ordinary picture.

The operations are Keras' own (``keras.ops.depthwise_conv``,
``keras.ops.conv``, ``keras.ops.max_pool``), the ones a CNN's layers run;
like those layers they slide the kernel without flipping it (strictly a
cross-correlation). Colour pictures are filtered channel by channel.
Keras is imported inside those functions, so that scripts can parse their
arguments with this module without loading TensorFlow.
"""

import math

import matplotlib.pyplot as plt
import numpy as np

from digitsuite.data.datasets import PROJECT_ROOT

DEMO_PHOTO = PROJECT_ROOT / "sample_data" / "demo_photo.png"
KERNELS = {
    "edges (Laplacian)": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
    "box blur": np.full((3, 3), 1 / 9, np.float32),
}
SOBEL_X = "1,0,-1, 2,0,-2, 1,0,-1"  # default custom kernel: vertical edges
DPI = 100
MAX_KERNEL_SIDE = 7        # larger kernels are no longer a lesson, only slow
MAX_KERNEL_VALUE = 1000.0


def parse_kernel(text):
    """'a,b,c, d,e,f, g,h,i' (commas, spaces or semicolons) -> a square
    float32 kernel, rows top to bottom. Raises ValueError saying what is wrong."""
    parts = text.replace(";", " ").replace(",", " ").split()
    side = math.isqrt(len(parts))
    wrong_count = ValueError(f"needs 9 numbers for a 3x3 kernel (or 25 for 5x5, up to "
                             f"{MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE}), rows top to bottom; "
                             f"got {len(parts)}")
    if side > MAX_KERNEL_SIDE:  # before converting a huge list
        raise wrong_count
    try:
        values = np.array([float(p) for p in parts])
    except ValueError:
        raise ValueError(f"expected numbers, got {_short(text)}") from None
    if side < 1 or side * side != len(parts) or side % 2 == 0:
        raise wrong_count
    # Larger weights only overflow the picture's float32 sums; no filter needs them.
    if not np.all(np.abs(values) <= MAX_KERNEL_VALUE):
        raise ValueError(f"kernel values must be numbers from -{MAX_KERNEL_VALUE:g} to "
                         f"{MAX_KERNEL_VALUE:g}, got {_short(text)}")
    return values.astype(np.float32).reshape(side, side)


def _short(text, limit=80):
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def convolve(image, kernel, padding="same"):
    """Filter every channel of ``image`` (h, w, c) with the 2-D ``kernel``.

    'same' pads with zeros so the output keeps h x w; 'valid' only uses
    positions where the kernel fits, losing (k - 1) rows and columns.
    """
    from digitsuite.backend import keras

    channels = image.shape[-1]
    depthwise = np.repeat(kernel[:, :, None, None], channels, axis=2)  # (k, k, c, 1)
    out = keras.ops.depthwise_conv(image[None].astype(np.float32), depthwise,
                                   padding=padding)
    return np.asarray(out)[0]


def max_pool(image, size=2):
    """size x size max-pooling with stride ``size``: (h, w, c) -> (h // size, w // size, c).

    A last row or column that does not fill a whole window is dropped
    ('valid'), as in Keras' MaxPooling2D.
    """
    from digitsuite.backend import keras

    return np.asarray(keras.ops.max_pool(image[None].astype(np.float32), size, size,
                                         padding="valid"))[0]


def padding_example():
    """A 5x5 input (1..25) convolved with a 3x3 kernel of ones, 'valid' and
    'same': each output is the sum of the 3x3 window around it."""
    from digitsuite.backend import keras

    grid = np.arange(1, 26, dtype=np.float32).reshape(5, 5)
    kernel = np.ones((3, 3), np.float32)
    x, k = grid[None, :, :, None], kernel[:, :, None, None]  # (1, 5, 5, 1), (3, 3, 1, 1)
    return {
        "input": grid,
        "kernel": kernel,
        "padded": np.pad(grid, 1),
        "valid": np.asarray(keras.ops.conv(x, k, padding="valid"))[0, :, :, 0],
        "same": np.asarray(keras.ops.conv(x, k, padding="same"))[0, :, :, 0],
    }


def run_demo(image, kernel, name):
    """Everything the demo shows for ``image`` (h, w, channels): ``filtered``,
    each built-in kernel's and ``kernel``'s (named ``name``) 'same'
    convolution as ``{name: (kernel, output)}``; ``valid``, ``kernel`` with
    'valid' padding; ``example``, :func:`padding_example`; ``pooled``, 2x2
    max-pooling."""
    kernels = {**KERNELS, name: kernel}
    return {"filtered": {n: (k, convolve(image, k)) for n, k in kernels.items()},
            "valid": convolve(image, kernel, padding="valid"),
            "example": padding_example(), "pooled": max_pool(image)}


FIGURES = ("convolution.png", "padding.png", "pooling.png")


def report(source, image, demo):
    """``report.json`` and ``report.md`` of a demo run (:func:`run_demo` on
    ``image``, from the picture named ``source``): each kernel and the
    shape it gives, 'valid' against 'same', the padding example's numbers
    and the pooled shape. Returns (dict, Markdown text)."""
    from digitsuite.markdown import table

    own, (kernel, same) = list(demo["filtered"].items())[-1]
    example = demo["example"]
    data = {
        "image": source, "shape": list(image.shape),
        "kernels": {name: k.tolist() for name, (k, _) in demo["filtered"].items()},
        "same": list(same.shape), "valid": list(demo["valid"].shape),
        "padding_example": {key: example[key].tolist()
                            for key in ("input", "kernel", "valid", "same")},
        "pooled": list(demo["pooled"].shape), "figures": list(FIGURES),
    }
    side = kernel.shape[0]
    numbers = lambda grid: [" ".join(f"{v:.3g}" for v in row) for row in grid]  # noqa: E731
    lines = [f"# Convolution and pooling: {source}", "",
             f"The picture is {shape_text(image)} (height x width x channels). Each "
             "kernel slides over it channel by channel, as a CNN's convolution "
             "does, without flipping (a cross-correlation).", "",
             *table(["kernel", "weights, row by row"],
                    [[name, " / ".join(numbers(k))] for name, (k, _) in
                     demo["filtered"].items()]), "",
             f"- the {side}x{side} kernel {own}, 'same' padding: {shape_text(image)} -> "
             f"{shape_text(same)} (zeros round the edge keep the size);",
             f"- the same, 'valid' padding: {shape_text(image)} -> "
             f"{shape_text(demo['valid'])} (only where the kernel fits, {side - 1} "
             "rows and columns fewer);",
             f"- 2x2 max-pooling: {shape_text(image)} -> {shape_text(demo['pooled'])} "
             "(the largest of each 2x2 block).", "",
             "The padding example: a 5x5 input (1 to 25) and a 3x3 kernel of ones, "
             "so each output is the sum of the window round it.", "",
             *table(["input", "'valid' (3x3)", "'same' (5x5)"],
                    [[a, b, c] for a, b, c in zip(
                        numbers(example["input"]),
                        numbers(example["valid"]) + [""] * 2,
                        numbers(example["same"]))]), "",
             *[f"![{name}]({name})" for name in FIGURES], ""]
    return data, "\n".join(lines)


def busiest_square(image, side=48):
    """(top, left, side) of the square, at even coordinates, whose pixels vary
    most: where pooling's effect shows best in a close-up."""
    side = max(2, min(side, image.shape[0], image.shape[1]) // 2 * 2)
    step = max(2, side // 3 // 2 * 2)
    corners = [(top, left) for top in range(0, image.shape[0] - side + 1, step)
               for left in range(0, image.shape[1] - side + 1, step)]
    top, left = max(corners, key=lambda c: float(
        image[c[0]:c[0] + side, c[1]:c[1] + side].std()))
    return top, left, side


def shape_text(array):
    """'181x301x3' for an array of that shape."""
    return "x".join(str(d) for d in array.shape)


# --------------------------------------------------------------------------
# Plotting


def _show(ax, image):
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(image)
    ax.set_axis_off()


def displayable(output, kernel):
    """A filtered picture ready to show, and a note on how it was scaled.

    Kernels summing to 0 (edge detectors) give signed responses around 0:
    their size is shown, in grey. Others are divided by their sum (a no-op
    for sharpen and box blur) and clipped to 0-1.
    """
    total = float(kernel.sum())
    if abs(total) < 1e-6:
        magnitude = np.abs(output).max(axis=-1, keepdims=True)
        top = float(np.percentile(magnitude, 99.5)) or 1.0
        return np.clip(magnitude / top, 0, 1), "|response|, scaled"
    note = "clipped to 0-1" if abs(total - 1) < 1e-6 else f"/ {total:g}, clipped to 0-1"
    return np.clip(output / total, 0, 1), note


def _kernel_table(ax, kernel):
    limit = max(float(np.abs(kernel).max()), 1e-6)
    ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    size = 9 if kernel.shape[0] <= 3 else 6
    for (row, col), value in np.ndenumerate(kernel):
        ax.text(col, row, f"{value:.2g}", ha="center", va="center", fontsize=size,
                color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_kernels(image, results, source):
    """The picture and its filtered versions side by side, each kernel's
    numbers underneath. ``results`` is {name: (kernel, output)}."""
    panels = 1 + len(results)
    aspect = image.shape[0] / image.shape[1]
    fig, axes = plt.subplots(2, panels, figsize=(3.3 * panels, 3.3 * aspect + 2.6),
                             height_ratios=[3.3 * aspect, 1.5], layout="constrained")
    _show(axes[0, 0], image)
    axes[0, 0].set_title(f"input\n{shape_text(image)}", fontsize=10)
    axes[1, 0].set_axis_off()
    for col, (name, (kernel, output)) in enumerate(results.items(), start=1):
        shown, note = displayable(output, kernel)
        _show(axes[0, col], shown)
        axes[0, col].set_title(f"{name}\n{note}", fontsize=10)
        _kernel_table(axes[1, col], kernel)
        axes[1, col].set_title(f"{kernel.shape[0]}x{kernel.shape[1]} kernel", fontsize=9)
    fig.suptitle(f"Convolutions of {source}, padding 'same' (the output keeps the "
                 "input's size)")
    return fig


def _number_grid(ax, values, title, shade=None):
    """``values`` as a table of numbers; ``shade`` marks cells drawn grey."""
    ax.imshow(np.where(shade, 0.8, 1.0) if shade is not None else np.ones_like(values),
              cmap="gray", vmin=0, vmax=1)
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=9,
                color="0.45" if shade is not None and shade[row, col] else "black")
    rows, cols = values.shape
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="0.3", linewidth=0.8)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=10)


def plot_padding(example):
    """The 5x5 example: input, kernel, 'valid' output, zero-padded input and
    'same' output, every number written in its cell."""
    fig, axes = plt.subplots(1, 5, figsize=(15, 3.9), width_ratios=[5, 3, 3, 7, 5],
                             layout="constrained")
    _number_grid(axes[0], example["input"], "input, 5x5")
    _number_grid(axes[1], example["kernel"], "3x3 kernel of ones\n(sums each window)")
    _number_grid(axes[2], example["valid"],
                 f"'valid': {shape_text(example['valid'])}\nonly where the kernel fits")
    border = np.ones_like(example["padded"], bool)
    border[1:-1, 1:-1] = False
    _number_grid(axes[3], example["padded"], "'same' first pads with zeros: 7x7",
                 shade=border)
    _number_grid(axes[4], example["same"],
                 f"'same': {shape_text(example['same'])}\nthe input's size")
    fig.suptitle("Padding: a 3x3 convolution of a 5x5 input gives 3x3 with 'valid' "
                 "and 5x5 with 'same'")
    return fig


def plot_pooling(image, pooled):
    """The picture before and after 2x2 max-pooling, both at the same display
    size, with a close-up of the same corner of each."""
    aspect = image.shape[0] / image.shape[1]
    fig, axes = plt.subplots(2, 2, figsize=(10, 5 * aspect + 3.4),
                             height_ratios=[5 * aspect, 3], layout="constrained")
    _show(axes[0, 0], image)
    axes[0, 0].set_title(f"input {shape_text(image)}")
    _show(axes[0, 1], pooled)
    axes[0, 1].set_title(f"after 2x2 max-pooling {shape_text(pooled)}")
    top, left, side = busiest_square(image)
    for ax, picture, scale in ((axes[1, 0], image, 1), (axes[1, 1], pooled, 2)):
        crop = picture[top // scale:(top + side) // scale, left // scale:(left + side) // scale]
        ax.imshow(crop[..., 0] if crop.shape[-1] == 1 else crop, cmap="gray",
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"close-up: {crop.shape[0]}x{crop.shape[1]} pixels", fontsize=10)
    fig.suptitle("Max-pooling keeps the largest value of each 2x2 block: half the height "
                 "and width, a quarter of the pixels")
    return fig
