"""The suite's results as JSON for the page.

Each function takes what the suite computed (the CNN's layer analysis, the
other models' probabilities, a reading, the convolution demo) and returns
JSON-ready dicts. Arrays go out as base64 bytes (0-255 on a stated scale)
or PNG data URLs, which the page draws with the colour maps of
:func:`colormaps`, matplotlib's, as the suite's figures use.
"""

import base64
import io
import json

import numpy as np
from PIL import Image

from digitsuite.errors import DigitsuiteError
from digitsuite.inference import runs


def scaled_bytes(array, low, high):
    """``array`` mapped from low..high to 0-255, as base64 of its bytes (C order)."""
    span = max(float(high) - float(low), 1e-12)
    scaled = np.clip((np.asarray(array, np.float32) - low) / span, 0.0, 1.0)
    return base64.b64encode(np.rint(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def png_url(image):
    """A float image (h, w), (h, w, 1) or (h, w, 3) in 0-1 as a PNG data URL."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def colormaps():
    """{use: base64 of 256 RGB triplets}: matplotlib's colour map for each use."""
    from matplotlib import colormaps as registry

    from digitsuite.visual.layerviz import COLORMAPS

    return {use: base64.b64encode(
        np.rint(registry[name](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
        .tobytes()).decode("ascii") for use, name in COLORMAPS.items()}


def info(session, max_upload_bytes):
    """What the page needs once: the models and their state, the CNN's layers
    and filters, the colour maps, the convolution demo's kernels."""
    from digitsuite.visual import convdemo, layerviz

    models = [{"name": name, "title": slot.title, "available": slot.available,
               "problem": slot.problem, "path": str(slot.path), "accuracy": slot.accuracy,
               "stand_in": slot.stand_in}
              for name, slot in ((n, session.slots[n]) for n in runs.MODELS)]
    cnn = None
    if session.analyser is not None:
        model = session.cnn
        cnn = {"layers": [{"name": name, "shape": list(model.get_layer(name).output.shape[1:]),
                           "description": layerviz.describe_layer(model.get_layer(name)),
                           "has_filters": name in session.analyser.filters}
                          for name in session.analyser.map_names],
               "dense": [{"name": name, "units": int(model.get_layer(name).units),
                          "activation": model.get_layer(name).activation.__name__}
                         for name in session.analyser.dense_names],
               "first_conv": session.analyser.filters_layer,
               "filters": {name: {"shape": list(f.shape),
                                  "values": np.round(f, 4).tolist()}
                           for name, f in session.analyser.filters.items()}}
    return {"models": models, "cnn": cnn, "colormaps": colormaps(),
            "baselines_command": session.baselines_command(),
            "reads_pages": session.page_reader is not None,
            "max_upload_bytes": max_upload_bytes,
            "kernels": {name: k.tolist() for name, k in convdemo.KERNELS.items()},
            "default_kernel": convdemo.SOBEL_X}


def _answer(probabilities):
    p = np.asarray(probabilities, np.float64)
    return {"probabilities": np.round(p, 4).tolist(), "predicted": int(np.argmax(p)),
            "confidence": round(float(p.max()), 4)}


def _answer_margin(probabilities):
    """The answer, its runner-up and the gap between their probabilities:
    the doubt shown until the confidence is calibrated."""
    p = np.asarray(probabilities, np.float64)
    first, second = np.argsort(-p, kind="stable")[:2]
    return {"second": int(second), "margin": round(float(p[first] - p[second]), 4)}


def digit(session, image):
    """Every model's answer and the CNN's layers for one MNIST-style digit
    (float (28, 28) in 0-1, from :func:`digitsuite.data.images.mnist_style`):
    conv and pool maps, the hidden dense layers' activations, the saliency.

    The digit is rounded to 8-bit pixels first, as MNIST's are, so all four
    models read exactly the pixels returned as ``input``.
    """
    from digitsuite.visual import layerviz

    pixels = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)  # (28, 28)
    answers = {name: _answer(session.predict(name, pixels[None])[0])
               for name in runs.MODELS if name != "cnn" and session.slots[name].available}
    layers, dense, saliency = [], [], None
    if session.analyser is not None:
        result = session.analyse(pixels)
        answers["cnn"] = {**_answer(result["probabilities"]),
                          **_answer_margin(result["probabilities"])}
        for name, values in result["dense"].items():  # (units,)
            low, high = layerviz.activation_scale(values)
            dense.append({"name": name, "units": int(values.size), "low": low, "high": high,
                          "active": int((values > 0).sum()),
                          "values": scaled_bytes(values, low, high)})
        for name, maps in result["maps"].items():  # (h, w, channels)
            low, high = layerviz.activation_scale(maps)
            strongest = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")
            layers.append({"name": name, "shape": list(maps.shape), "low": low, "high": high,
                           "order": strongest.tolist(),
                           "maps": scaled_bytes(np.moveaxis(maps, -1, 0), low, high)})
        saliency = scaled_bytes(result["saliency"], 0.0, 1.0)
    models = [{"name": name, "title": session.slots[name].title, **answers[name]}
              for name in runs.MODELS if name in answers]
    return {"input": base64.b64encode(pixels.tobytes()).decode("ascii"), "models": models,
            "layers": layers, "dense": dense, "saliency": saliency}


def convolution_step(session, pixels, channel, row=None, col=None):
    """One output of the CNN's first convolution on a digit, worked out
    number by number (:func:`digitsuite.visual.layerviz.convolution_step`).
    ``pixels`` is the base64 28x28 ``input`` that :func:`digit` returned.
    Raises DigitsuiteError (one line) for bad pixels, channel or position."""
    from digitsuite.data.datasets import to_model_input
    from digitsuite.visual import layerviz

    try:
        digit = np.frombuffer(base64.b64decode(pixels, validate=True), np.uint8)
    except ValueError as exc:
        raise DigitsuiteError("pixels: not base64") from exc
    if digit.size != 28 * 28:
        raise DigitsuiteError(f"pixels: {digit.size} bytes, not the 784 of a 28x28 digit")
    layer = session.cnn.get_layer(session.analyser.filters_layer)
    image = to_model_input(digit.reshape(1, 28, 28))[0, ..., 0]
    try:
        return layerviz.convolution_step(layer, image, channel, row, col)
    except ValueError as exc:
        raise DigitsuiteError(str(exc)) from exc


def reading(reading, grey):
    """A page's reading (``read_page``'s dict with ``file`` first) for the
    page: the text, the report ``read_digits.py`` prints, its ``--json``
    output, and the size of the picture the boxes refer to."""
    from digitsuite.reading.reader import format_reading, written_lines

    height, width = grey.shape
    return {"reading": reading, "text": "\n".join(written_lines(reading)),
            "report": "\n".join(format_reading(reading)),
            "json": json.dumps([reading], indent=2), "width": width, "height": height}


def conv_demo(image, kernel, source):
    """The convolution demo of ``conv_demo.py`` for ``image`` (h, w, channels)
    and the user's ``kernel``: every filtered picture as shown there, the
    'same' and 'valid' shapes, 2x2 max-pooling and the 5x5 padding example."""
    from digitsuite.visual import convdemo

    demo = convdemo.run_demo(image, kernel, "your kernel")
    shape = convdemo.shape_text
    filtered = []
    for name, (k, output) in demo["filtered"].items():
        shown, note = convdemo.displayable(output, k)
        filtered.append({"name": name, "kernel": k.tolist(), "note": note,
                         "shape": shape(output), "image": png_url(shown)})
    return {"source": source, "input": png_url(image), "shape": shape(image),
            "filtered": filtered, "valid_shape": shape(demo["valid"]),
            "pooled": png_url(demo["pooled"]), "pooled_shape": shape(demo["pooled"]),
            "example": {k: np.asarray(v).tolist() for k, v in demo["example"].items()}}
