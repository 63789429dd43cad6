"""Read users' images and turn a digit into an MNIST-style 28x28 input.

MNIST's digits were scaled to fit a 20x20 box, keeping their aspect ratio,
anti-aliased, and placed in a 28x28 field with their centre of mass in the
middle, ink bright (1) on a black (0) background. The functions here do the
same to a photo or scan, one small step each, so that a script reading many
digits can run :func:`mnist_style` on every character it cuts out::

    grey = read_image("seven.jpg")   # (h, w) float32, 0 black .. 1 white
    ink = to_foreground(grey)        # ink 1, paper 0, either polarity
    digit = mnist_style(ink)         # (28, 28) float32 in 0-1

For crops of a larger photo, decide the polarity once on the whole photo
(``ink_is_dark(photo)``) and pass it to ``to_foreground(crop, ink_dark)``:
a tight crop of a '1' is mostly ink, which would fool the decision.
"""

import contextlib
import math
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from digitsuite.errors import ImageError, NoDigit

MAX_PIXELS = 50_000_000  # refuse larger files: decoding them could exhaust memory
# Refuse files whose decoding would take more memory than this (a PNG of a
# few hundred KB can hold 7,000x7,000 RGBA pixels). JPEG is decoded at
# reduced scale when a smaller picture is asked for, so it counts at that
# scale.
MAX_DECODE_BYTES = 128_000_000
# The formats read. Anything else is refused before Pillow hands it to a
# decoder (EPS would go to Ghostscript, say).
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")  # JPEG includes MPO (phones)
MIN_SIDE = 8             # pixels a side; smaller images cannot show a digit...
MIN_WIDTH = 3            # ...but for a crop round one character (a 1 cut tight to its ink
THIN_ASPECT = 10         # is 3-6 pixels wide), at most this many times as long as it is wide
# A picture whose short side is under this (a 28x28 MNIST image, a 16x16
# USPS digit, a crop tight round one digit) is enlarged by a whole factor
# to at least it before it is read: the page's steps measure strokes,
# gaps and edges in pixels, and at a pixel or two a stroke they misjudge
# them (a 16-pixel 0 reads as a blob).
MIN_READ_SIDE = 64
# A picture of one digit is shrunk to at most this many pixels a side before
# it is prepared: far more than a 20x20 digit needs, and it bounds the time.
DIGIT_MAX_SIDE = 1000
MIN_CONTRAST = 0.15      # ink and paper medians closer than this: no digit found
SPECK_FRACTION = 0.05    # ink blobs lighter than this share of the largest are dust
MNIST_SIZE, MNIST_BOX = 28, 20
MNIST_CENTRE = 14.0      # where MNIST's centres of mass sit (mean 14.0 on its test set)
MNIST_STROKE = 0.15      # stroke width / digit height in MNIST (~3 of 20 pixels)
MAX_STROKE = 0.3         # strokes wider than this x the digit's height are thinned...
THINNED_STROKE = 0.2     # ...to about this
WORK_SIDE = 128          # glyphs are thinned or thickened at most this large (6x the 20x20 box)
# EXIF orientation -> the transpose that turns the picture upright.
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def read_image(path, colour=False, max_side=None, min_side=None):
    """Read an image file as float32 in 0-1.

    Returns (h, w) grey, or with ``colour`` (h, w, 3) for colour files and
    (h, w, 1) for grey ones; with ``max_side``, shrunk (keeping the aspect
    ratio) so that neither side exceeds it, decoding at reduced scale where
    the format allows; with ``min_side``, a smaller picture enlarged
    (:func:`enlarged_to`). Transparent pixels are laid on white, so a digit
    drawn on a transparent canvas reads as ink on paper; phone photos are
    turned upright by their EXIF orientation. Raises ImageError for a
    missing, empty, unreadable, too small (under MIN_SIDE pixels a side,
    unless a crop of one character: MIN_WIDTH wide, THIN_ASPECT long; also
    once shrunk) or too large (over MAX_PIXELS, or over MAX_DECODE_BYTES
    to decode) file, and for formats outside FORMATS.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image; give the image files in it")
    if not path.is_file():
        raise ImageError(f"no image file at {path}; check the path")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes); give a PNG or JPEG image")
    with open(path, "rb") as f:  # permission errors surface here, as OSError
        return decode_image(f, path, colour, max_side, min_side)


def decode_image(file, name, colour=False, max_side=None, min_side=None):
    """:func:`read_image` for an open binary file (an upload, say); ``name``
    stands for the file in error messages."""
    try:
        # Pillow warns above its own pixel limit and raises at twice it;
        # both mean "too large" here.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _opened(file, name, colour, max_side) as img:
                _check_memory(img, name)
                img.load()
                # Read after load: a PNG's getexif() would decode it unchecked.
                upright = _UPRIGHT.get(img.getexif().get(0x0112))
                small = _reduced(img, max_side)
                if upright is not None:
                    small = small.transpose(upright)
                array = _to_array(small, colour, max_side, grey_file=_grey_mode(img.mode))
                return enlarged_to(array, min_side, max_side) if min_side else array
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses in Image.open, before the size check: its text names
        # its own limit, so the message gives the suite's.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too large"
        raise ImageError(f"{name} is {size}, over the {MAX_PIXELS / 1e6:.0f}-megapixel limit; "
                         "shrink it first") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{name} is not an image this suite reads; give a PNG, JPEG, BMP, "
            "GIF, TIFF or WebP file") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(
            f"{name} cannot be decoded ({exc}); the file is truncated or corrupt, "
            "save or download it again") from exc


def _check_size(size, path, max_side=None):
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{path} is {width}x{height} pixels, over the {MAX_PIXELS / 1e6:.0f}-megapixel "
            "limit; shrink it first")
    short, long = sorted((width, height))
    if short < MIN_SIDE and (short < MIN_WIDTH or long < MIN_SIDE or long > THIN_ASPECT * short):
        raise ImageError(
            f"{path} is only {width}x{height} pixels; give an image at least "
            f"{MIN_SIDE}x{MIN_SIDE}, or a crop of one character at least {MIN_WIDTH} wide and at "
            f"most {THIN_ASPECT} times as long")
    if max_side and min(_shrunk(size, max_side)) < MIN_WIDTH:
        raise ImageError(
            f"{path} is {width}x{height} pixels: shrunk to {max_side} pixels on its long "
            f"side it would be under {MIN_WIDTH} on its short one; crop it to the part "
            "with the digits")


def _shrunk(size, max_side):
    """``size`` scaled to fit ``max_side`` (unchanged when it fits)."""
    scale = min(1.0, max_side / max(size))
    return tuple(max(1, int(side * scale)) for side in size)


def _grey_mode(mode):
    return Image.getmodebase(mode) == "L"


def decode_bytes(size, mode):
    """Bytes Pillow needs to decode an image of ``size`` in ``mode``: one a
    pixel for bilevel, grey and palette, two for 16-bit grey, four for the
    rest (RGB is stored as RGBX), twice that with an alpha channel (shrinking
    or flattening it takes a premultiplied copy)."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    copies = 2 if mode in ("RGBA", "LA", "PA", "La", "RGBa") else 1
    return size[0] * size[1] * per_pixel * copies


@contextlib.contextmanager
def _opened(file, name, colour, max_side):
    """The picture in ``file`` opened (FORMATS only, nothing decoded yet),
    its size checked (:func:`_check_size`), and a JPEG set to decode at 1/2,
    1/4 or 1/8 scale when ``max_side`` allows: never the full photo."""
    with Image.open(file, formats=FORMATS) as img:
        _check_size(img.size, name, max_side)
        if max_side and img.format in ("JPEG", "MPO"):
            img.draft("RGB" if colour else "L", _shrunk(img.size, max_side))
        yield img


def decode_cost(file, max_side=None, colour=False):
    """Bytes that decoding the picture in open binary ``file`` would take
    (:func:`decode_bytes`, as :func:`decode_image` would open it), read from
    its header alone; 0 for a file it would refuse before decoding (it will
    say why). The file is rewound."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _opened(file, "", colour, max_side) as img:
                return decode_bytes(img.size, img.mode)
    except Exception:  # anything Pillow raises on a bad header, or a refused size
        return 0
    finally:
        file.seek(0)


def _check_memory(img, name):
    need = decode_bytes(img.size, img.mode)
    if need > MAX_DECODE_BYTES:
        raise ImageError(
            f"{name} is {img.size[0]}x{img.size[1]} {img.mode} pixels, which take "
            f"{need / 1e6:.0f} MB to decode, over the {MAX_DECODE_BYTES / 1e6:.0f} MB "
            "limit; shrink it or save it as JPEG")


def _reduced(img, max_side):
    """``img`` shrunk by a whole factor towards ``max_side`` (a box filter),
    so that the conversions that follow work on the small picture."""
    factor = int(max(img.size) / max_side) if max_side else 1
    if factor < 2:
        return img
    if img.mode in ("1", "P", "PA") or img.mode.startswith("I;16"):
        # Modes Pillow cannot box-filter: in the one they would become anyway.
        alpha = img.mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if alpha else "I" if img.mode.startswith("I") else "RGB")
    return img.reduce(factor)


def _to_array(img, colour, max_side, grey_file):
    """Pillow image -> float32 array in 0-1 (see read_image)."""
    if img.mode.startswith("I"):  # 16-bit grey scans; Pillow's "L" would clip them
        img = Image.fromarray(np.asarray(img, np.float32) / 65535.0)  # mode "F"
    else:
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            white = Image.new("RGBA", img.size, "white")
            img = Image.alpha_composite(white, img.convert("RGBA"))
        img = img.convert("RGB" if colour and not grey_file else "L")
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    array = np.asarray(img, np.float32)
    array = np.clip(array if img.mode == "F" else array / 255.0, 0.0, 1.0)
    return array[..., None] if colour and array.ndim == 2 else array


def enlarged_to(array, min_side, max_side=None):
    """A picture (h, w) or (h, w, c) whose short side is under ``min_side``
    enlarged by the smallest whole factor that reaches it (bilinear, each
    pixel's area kept where it was), the long side staying within
    ``max_side``; a larger one is returned as it is."""
    factor = math.ceil(min_side / min(array.shape[:2]))
    if max_side:
        factor = min(factor, max_side // max(array.shape[:2]))
    if factor < 2:
        return array
    zoom = (factor, factor) + (1,) * (array.ndim - 2)
    big = ndimage.zoom(array, zoom, order=1, mode="nearest", grid_mode=True)
    return np.clip(big, 0.0, 1.0).astype(np.float32)


def otsu_threshold(values):
    """Otsu's threshold for values in 0-1: the level that splits them into
    two groups with the largest between-group variance."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    n_low = np.cumsum(hist)
    n_high = n_low[-1] - n_low
    sum_low = np.cumsum(hist * centres)
    mean_low = sum_low / np.maximum(n_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(n_high, 1)
    between = n_low * n_high * (mean_low - mean_high) ** 2
    return float(edges[np.argmax(between) + 1])


def ink_is_dark(grey):
    """True when a grey image (0-1) shows dark ink on light paper.

    Otsu's threshold splits the pixels into two groups; the paper is the
    larger one, since strokes cover well under half of a page or a digit's
    surroundings (about a fifth of an MNIST image).
    """
    grey = np.asarray(grey, np.float32)
    return bool(np.mean(grey > otsu_threshold(grey)) > 0.5)


def to_foreground(grey, ink_dark=None, min_contrast=MIN_CONTRAST):
    """Grey image (0-1) -> float32 foreground: ink 1, paper 0.

    ``ink_dark`` gives the polarity (None: decide with :func:`ink_is_dark`).
    Otsu's threshold separates paper from ink. Paper up to its 99th
    percentile (and at least halfway to the threshold) becomes 0, which
    removes most of its texture; ink at or beyond its median level becomes
    1, like MNIST's saturated strokes with soft edges. Raises NoDigit (an
    ImageError) when no ink stands out from the paper: the two groups'
    medians are closer than ``min_contrast``.
    """
    grey = np.asarray(grey, np.float32)
    if ink_dark is None:
        ink_dark = ink_is_dark(grey)
    ink = 1.0 - grey if ink_dark else grey
    threshold = otsu_threshold(ink)
    paper, strokes = ink[ink <= threshold], ink[ink > threshold]
    if not strokes.size or not paper.size or (
            np.median(strokes) - np.median(paper) < min_contrast):
        raise NoDigit("the picture is blank or its ink barely differs from the paper; "
                      "if it has writing on it, use a sharper, evenly lit picture")
    low = max((np.median(paper) + threshold) / 2, np.percentile(paper, 99))
    high = np.median(strokes)
    return np.clip((ink - low) / (high - low), 0.0, 1.0).astype(np.float32)


def remove_specks(ink, fraction=SPECK_FRACTION):
    """Zero the connected ink blobs whose total ink is under ``fraction`` of
    the largest blob's (dust, noise); strokes of the digit stay."""
    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return ink
    mass = ndimage.sum(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], mass >= fraction * mass.max()])
    return np.where(keep[labels], ink, 0.0).astype(np.float32)


def stroke_width(ink):
    """Typical stroke width in pixels of a foreground image: twice the 95th
    percentile of the distance from ink (> 0.5) to the nearest paper."""
    mask = ink > 0.5
    if not mask.any():
        return 0.0
    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    return 2.0 * float(np.percentile(depth[mask], 95))


def thicken(ink, target=MNIST_STROKE):
    """Dilate strokes thinner than ``target`` x the digit's longer side, so a
    fine pen on a large photo keeps MNIST's proportions once shrunk to 20x20."""
    rows, cols = np.nonzero(ink > 0)
    extent = max(np.ptp(rows), np.ptp(cols)) + 1
    missing = target * extent - stroke_width(ink)
    radius = math.floor(missing / 2)
    if radius < 1:
        return ink
    # A square footprint is separable, so fast on large photos; its corners
    # vanish once the digit is shrunk to 20x20.
    return ndimage.maximum_filter(ink, size=2 * radius + 1)


def thin(ink, limit=MAX_STROKE, target=THINNED_STROKE):
    """Erode strokes wider than ``limit`` x the digit's longer side down to
    about ``target`` x it: a marker's strokes, or a digit drawn so thick that
    it fills its own loops, would otherwise be a blob once shrunk to 20x20.
    Returns ``ink`` unchanged when eroding would cut the digit short (it
    loses a fifth of its height) or leave too little of it."""
    rows, cols = np.nonzero(ink > 0)
    extent = max(np.ptp(rows), np.ptp(cols)) + 1
    width = stroke_width(ink)
    if width <= limit * extent:
        return ink
    radius = math.floor((width - target * extent) / 2)
    if radius < 1:
        return ink
    thinned = ndimage.grey_erosion(ink, footprint=disk(radius))
    kept = np.nonzero(thinned > 0.5)[0]
    if not kept.size or np.ptp(kept) + 1 < 0.8 * (np.ptp(rows) + 1) or (
            thinned.sum() < 0.2 * ink.sum()):
        return ink
    return thinned


def disk(radius):
    """A round bool footprint of the given radius (pixels, need not be whole)."""
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= radius * radius + 0.25


def shrink_to_work_size(ink, side=WORK_SIDE):
    """``ink`` cropped to its ink and, when that is larger than ``side``
    pixels, shrunk (area average) to fit it: the digit becomes 20x20, so
    thinning or thickening a photo's 1,000-pixel glyph at full size would
    only cost time (erosion grows with the area times the footprint).

    Returns ``(work, (x0, y0), scale)``: pixel (r, c) of ``work`` covers
    pixel (y0 + r / scale, x0 + c / scale) of ``ink``.
    """
    rows, cols = np.nonzero(ink > 0)
    # Room for thicken() to grow strokes outward, as it would on the whole picture.
    pad = math.ceil(MNIST_STROKE * max(np.ptp(rows), np.ptp(cols))) + 1
    top, left = max(0, rows.min() - pad), max(0, cols.min() - pad)
    crop = ink[top:rows.max() + 1 + pad, left:cols.max() + 1 + pad]
    origin = (int(left), int(top))
    height, width = crop.shape
    if max(height, width) <= side:
        return crop, origin, 1.0
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow: (w, h)
    work = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BOX), np.float32)
    return work, origin, size[0] / width


def mnist_style(ink, thin_strokes=True):
    """Foreground image (ink 1, background 0, any size) -> MNIST-style digit.
    See :func:`mnist_style_with_box`, which also says where the ink was."""
    return mnist_style_with_box(ink, thin_strokes)[0]


def mnist_style_with_box(ink, thin_strokes=True):
    """Foreground image (ink 1, background 0, any size) -> (MNIST-style
    digit, the crop it was made from as ``[x0, y0, x1, y1]`` in ``ink``'s
    pixels, x1 and y1 exclusive).

    Drops specks, thins strokes that are very thick for their size (a
    marker) and thickens those that are thin (a fine pen), crops to the
    ink, scales the crop to fit 20x20 keeping its aspect ratio (Pillow's
    anti-aliased Lanczos resampling), scales the brightest pixel to 1, then
    shifts it in a 28x28 field so its centre of mass lands on pixel (14, 14),
    as in MNIST. The digit is float32 (28, 28) in 0-1. ``thin_strokes``
    False leaves thick strokes as they are (the reader's switch for it).
    """
    ink = remove_specks(np.asarray(ink, np.float32))
    if not (ink > 0).any():
        raise ImageError("found no ink to read; use a picture with a visible digit")
    ink, (x0, y0), work_scale = shrink_to_work_size(ink)
    ink = thicken(thin(ink) if thin_strokes else ink)
    rows, cols = np.nonzero(ink > 0)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = crop.shape
    scale = MNIST_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow: (w, h)
    small = np.asarray(Image.fromarray(crop).resize(
        size, Image.Resampling.LANCZOS), np.float32)
    small = np.clip(small, 0.0, 1.0)  # Lanczos rings past 0 and 1 at edges
    if small.max() <= 0:
        raise ImageError("the ink is too faint to read; use a darker, sharper picture")
    small /= small.max()  # faint strokes (thin pens, shrunk a lot) back to full ink
    digit = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    top, left = (MNIST_SIZE - size[1]) // 2, (MNIST_SIZE - size[0]) // 2
    digit[top:top + size[1], left:left + size[0]] = small
    centre = np.array(ndimage.center_of_mass(digit))
    shift = np.round(MNIST_CENTRE - centre)  # whole pixels keep the edges crisp
    box = [x0 + math.floor(cols.min() / work_scale), y0 + math.floor(rows.min() / work_scale),
           x0 + math.ceil((cols.max() + 1) / work_scale),
           y0 + math.ceil((rows.max() + 1) / work_scale)]
    return np.clip(ndimage.shift(digit, shift, order=0), 0.0, 1.0).astype(np.float32), box


def load_digit(path, ink_dark=None):
    """Read a file showing one digit; return (grey image, 28x28 MNIST-style
    digit). The picture is shrunk to DIGIT_MAX_SIDE first, as the app does.

    Errors about the image's content name the file.
    """
    grey = read_image(path, max_side=DIGIT_MAX_SIDE)
    try:
        return grey, mnist_style(to_foreground(grey, ink_dark))
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from exc


LIGHTING_GRID = 64  # the page is shrunk to at most this many pixels a side to fit its lighting


def _quadratic_terms(y, x):
    """The six terms of a quadratic surface at coordinates y, x (broadcastable)."""
    return [np.ones_like(x * y), x, y, x * x, x * y, y * y]


def even_out_lighting(grey, iterations=6):
    """Remove smooth lighting changes (a lamp to one side, a vignette, a
    dimmer half) from a grey page (0-1) of either ink polarity.

    A quadratic surface is fitted by least squares to a shrunk copy of the
    page, then refitted to the pixels within three robust standard
    deviations of it, so strokes of either polarity drop out of the fit; the
    surface is subtracted and the median paper level added back (divided
    out, on light paper); on dark paper a correction that would leave the
    paper less even is not made. Sharp shadows remain. Returns float32 of
    the same shape, clipped to 0-1.
    """
    grey = np.asarray(grey, np.float32)
    height, width = grey.shape
    small = np.asarray(Image.fromarray(grey).resize(
        (min(width, LIGHTING_GRID), min(height, LIGHTING_GRID)), Image.Resampling.BOX),
        np.float64)
    # Coordinates run over -1..1 on both the shrunk and the full page.
    y, x = np.meshgrid(np.linspace(-1, 1, small.shape[0]), np.linspace(-1, 1, small.shape[1]),
                       indexing="ij")
    basis = np.stack([t.ravel() for t in _quadratic_terms(y, x)], axis=1)
    values = small.ravel()
    fit = np.ones(values.shape, bool)
    for _ in range(iterations):
        chosen = basis[fit]
        try:
            coef = np.linalg.solve(chosen.T @ chosen, chosen.T @ values[fit])
        except np.linalg.LinAlgError:
            # Too few pixels kept to fix all six terms (a small picture
            # that is mostly strokes): the least-squares surface of lowest norm.
            coef = np.linalg.lstsq(chosen, values[fit], rcond=None)[0]
        residual = values - basis @ coef
        spread = 1.4826 * np.median(np.abs(residual[fit])) + 1e-3
        fit = np.abs(residual) <= 3 * spread
    level = np.median((basis @ coef)[fit])
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    background = sum(np.float32(c) * t for c, t in zip(coef, _quadratic_terms(y, x)))
    if level >= LIGHT_PAPER:
        # Light multiplies what the paper and the ink reflect: where it is
        # dimmer, the ink's contrast with the paper is smaller too. Dividing
        # restores both; subtracting would restore only the paper.
        scale = np.float32(level) / np.maximum(background, np.float32(LIGHT_PAPER / 4))
        return np.clip(grey * scale, 0.0, 1.0).astype(np.float32)
    flat = np.clip(grey - background + np.float32(level), 0.0, 1.0).astype(np.float32)
    # Dark paper under a light digit that fills much of a small picture (an
    # MNIST 0) can leave the fit too little paper to follow: its surface
    # bends into the corners, and subtracting it turns the black there grey
    # enough to read as marks. A correction that leaves the paper less even
    # than it was is not made.
    return flat if paper_spread(flat) <= paper_spread(grey) else grey


def paper_spread(grey):
    """The standard deviation of a grey picture's paper: the larger side of
    Otsu's split (:func:`ink_is_dark`)."""
    bright = grey > otsu_threshold(grey)
    paper = grey[bright] if bright.mean() > 0.5 else grey[~bright]
    return float(paper.std()) if paper.size else 0.0


# Paper at least this bright (0-1) is evened out by dividing by the light;
# dark paper (light ink on dark), whose light is too low to divide by
# without lifting its noise, by subtracting it.
LIGHT_PAPER = 0.4
NOISE_LIMIT = 0.05     # estimated noise (0-1 scale) above which a page is smoothed
NOISE_SAMPLE = 1 << 20  # pixels enough to estimate the noise
# Faint ink (a light, grainy pencil): a page whose darkest ink (the
# INK_PERCENTILE of its ink level) stands less than FAINT_INK x its noise
# above the paper's median is smoothed by FAINT_SMOOTHING pixels before the
# ink is thresholded, and its ink then needs only FAINT_CONTRAST (0-1) of
# contrast with the paper (MIN_CONTRAST otherwise).
INK_PERCENTILE = 99.5
FAINT_INK = 8.0
# ...but at least FAINT_INK_MIN x its noise: under that (a Gaussian's 99.5th
# percentile is 2.6 sigma) the percentile is the paper's own noise, and the
# page is blank or holds a few sparse specks, not faint writing.
FAINT_INK_MIN = 3.0
FAINT_SMOOTHING = 1.0
FAINT_CONTRAST = 0.05


# A shadow left after the lighting fit: the paper's level, taken over
# SHADOW_REACH stroke widths either way of each pixel (so strokes drop out
# of it), falls at least SHADOW_DEPTH below the page's usual paper.
SHADOW_REACH = 4
SHADOW_DEPTH = 0.15
SHADOW_GRID = 512  # the paper level is found on a copy at most this many pixels a side
SHADOW_SMOOTHING = 1.5  # pixels of that copy: the noise smoothed out of it first
# A shadow is a share of the paper's level. On paper darker than this (the
# black of an MNIST-style image, light ink on a dark page) that share is a
# few grey levels of an 8-bit picture, noise rather than light, and
# dividing by it would blow the dark up into ink.
SHADOW_MIN_PAPER = 0.04


def even_out_shadows(grey, ink_dark):
    """Divide out the shadows :func:`even_out_lighting` leaves: a band or
    the soft edge of a hand's or a phone's shadow across a page (0-1), which
    no smooth surface follows. In it Otsu's threshold takes the shaded paper
    for ink and the digits there are lost.

    The paper's level is the page with its strokes closed over: a grey
    closing (an opening for light ink) wider than SHADOW_REACH times the
    typical stroke width of the characters Otsu finds away from the page's
    edges. Only when that level falls SHADOW_DEPTH below the page's median
    paper somewhere is the page divided by it; otherwise it is returned
    unchanged, so pages without a shadow read as before.

    Within about SHADOW_REACH stroke widths of the picture's edge a
    slanting hard edge is followed less well, and a hard edge that runs
    along a stroke can leave part of it dimmer than the rest.
    """
    grey = np.asarray(grey, np.float32)
    level = 1.0 - grey if ink_dark else grey  # ink bright
    strong = level > otsu_threshold(level)
    labels, count = ndimage.label(strong)
    if not count:
        return grey
    kept = ~touches_border(labels)
    kept[0] = False
    stroke = mean_stroke_width(kept[labels])
    if not stroke:
        return grey
    small, scale = shrunk_copy(grey, SHADOW_GRID)
    paper = paper_level(small, ink_dark, 2 * max(1, int(round(SHADOW_REACH * stroke * scale))) + 1)
    usual = float(np.median(paper))
    if usual < SHADOW_MIN_PAPER:
        return grey
    # Light multiplies paper and ink alike, in either polarity: a shadow
    # lowers the paper's level by a share, and dividing gives it back.
    if (usual - float(paper.min())) < SHADOW_DEPTH * usual:
        return grey
    ratio = usual / np.maximum(enlarged(paper, grey.shape), usual / 4)
    return np.clip(grey * ratio, 0.0, 1.0).astype(np.float32)


def mean_stroke_width(mask):
    """The mean width in pixels of the strokes of a bool mask (0.0 when it
    has no ink): a stroke w wide and L long has area w L and about 2 L
    pixels of rim, so twice the area over the rim."""
    rim = int((mask & ~ndimage.binary_erosion(mask)).sum())
    return 2.0 * float(mask.sum()) / rim if rim else 0.0


def border_sides(array):
    """The picture's four sides: its top and bottom rows, its left and right
    columns."""
    return array[0], array[-1], array[:, 0], array[:, -1]


def touches_border(labels):
    """Bool per label (index 0 the background): its component touches the
    picture's edge."""
    edge = np.zeros(labels.max() + 1, bool)
    edge[np.concatenate(border_sides(labels))] = True
    edge[0] = False
    return edge


def paper_level(grey, ink_dark, size):
    """The paper's own level around each pixel of a grey picture (0-1): a
    grey closing (an opening for light ink) with a square ``size`` pixels
    across, so strokes narrower than that drop out of it, while a shadow's
    or a table's hard edge stays where it is (a closing keeps steps).

    Smoothed first: a closing takes the brightest pixel near each one, and
    of sensor noise that is brighter by more, in a shadow's dim paper, than
    of the paper's own level. Opened after over the one-pixel slivers the
    closing fills in at the steps of a slanting edge (each a dark line
    along it once divided out)."""
    close, open_ = ((ndimage.grey_closing, ndimage.grey_opening) if ink_dark
                    else (ndimage.grey_opening, ndimage.grey_closing))
    smooth = ndimage.gaussian_filter(np.asarray(grey, np.float32), SHADOW_SMOOTHING)
    return open_(close(smooth, size=(size, size)), size=(3, 3))


def shrunk_copy(grey, side):
    """(a copy of ``grey`` at most ``side`` pixels a side, its scale): what a
    smooth, wide thing such as the light is found on, bounding its cost."""
    scale = min(1.0, side / max(grey.shape))
    return (ndimage.zoom(grey, scale, order=1) if scale < 1.0 else grey), scale


def enlarged(small, shape):
    """``small`` (from :func:`shrunk_copy`) brought back to ``shape``."""
    if small.shape == tuple(shape):
        return small
    out = ndimage.zoom(small, (shape[0] / small.shape[0], shape[1] / small.shape[1]),
                       order=1)[:shape[0], :shape[1]]
    return np.pad(out, ((0, shape[0] - out.shape[0]), (0, shape[1] - out.shape[1])),
                  mode="edge")


def noise_level(grey):
    """Robust estimate of a grey image's pixel noise (standard deviation,
    0-1 scale) from the differences between horizontal neighbours, whose
    median spread strokes wider than a pixel barely disturb."""
    grey = np.asarray(grey, np.float32)
    rows = max(1, grey.size // NOISE_SAMPLE)  # every rows-th row is plenty
    steps = np.diff(grey[::rows], axis=1)
    return float(1.4826 * np.median(np.abs(steps - np.median(steps))) / math.sqrt(2))


def faint_ink(grey, ink_dark):
    """True when the ink of a grey page (0-1) with the given polarity
    stands between FAINT_INK_MIN and FAINT_INK x its pixel noise above the
    paper (the 99.5th percentile of the ink level against the median): a
    light, grainy pencil, whose strokes a pixel-wise threshold breaks into
    specks."""
    grey = np.asarray(grey, np.float32)
    level = 1.0 - grey if ink_dark else grey
    step = float(np.percentile(level, INK_PERCENTILE) - np.median(level))
    noise = noise_level(grey)
    return FAINT_INK_MIN * noise < step < FAINT_INK * noise


def smooth_faint_ink(grey, ink_dark):
    """(grey, min_contrast): a page of :func:`faint_ink` smoothed by a
    Gaussian of FAINT_SMOOTHING pixels, which joins a pencil's grain into
    whole strokes and leaves the paper's noise a fraction of the ink's step,
    with FAINT_CONTRAST the least contrast :func:`to_foreground` then asks
    of its ink; any other page as it is, with MIN_CONTRAST."""
    if not faint_ink(grey, ink_dark):
        return np.asarray(grey, np.float32), MIN_CONTRAST
    return ndimage.gaussian_filter(np.asarray(grey, np.float32), FAINT_SMOOTHING), FAINT_CONTRAST


def reduce_noise(grey):
    """A grey image with heavy sensor noise (over NOISE_LIMIT) smoothed by a
    Gaussian of one pixel; a clean one unchanged, keeping its fine strokes."""
    grey = np.asarray(grey, np.float32)
    if noise_level(grey) <= NOISE_LIMIT:
        return grey
    return ndimage.gaussian_filter(grey, 1.0)
