"""Input features for the scikit-learn models: flattened pixels, optionally
deskewed first.

Deskewing straightens slanted handwriting: it measures each image's slant
from its second-order moments and undoes it with a horizontal shear about
the centre of mass, which also centres the digit. On LeCun's MNIST table it
takes a linear classifier from 12.0 % to 8.4 % error. A model trained on
deskewed images must be fed deskewed images, so each run records its feature
name in ``config.json`` and the loader applies the same transform.
"""

import numpy as np
from scipy import ndimage


def deskew(images):
    """Deskew uint8 images (n, h, w); returns float32 (n, h, w) in 0-255.

    Per image, with centre of mass (r0, c0) and pixel-weighted moments
    var(r) and cov(r, c), the slant is ``alpha = cov(r, c) / var(r)``
    (column shift per row). Output pixel (r, c) takes the input at
    ``(r + r0 - h/2, c + alpha * (r - h/2) + c0 - w/2)``, bilinearly
    interpolated. Blank images are returned unchanged.
    """
    images = np.asarray(images, np.float32)
    n, h, w = images.shape
    rows, cols = np.mgrid[:h, :w].astype(np.float32)
    mass = images.sum(axis=(1, 2))
    blank = mass == 0
    mass[blank] = 1.0
    r0 = (images * rows).sum(axis=(1, 2)) / mass                          # (n,)
    c0 = (images * cols).sum(axis=(1, 2)) / mass
    dr = rows - r0[:, None, None]                                           # (n, h, w)
    var_r = (images * dr ** 2).sum(axis=(1, 2)) / mass
    cov_rc = (images * dr * (cols - c0[:, None, None])).sum(axis=(1, 2)) / mass
    alpha = np.divide(cov_rc, var_r, out=np.zeros_like(cov_rc), where=var_r > 0)
    centre = np.array([h / 2.0, w / 2.0])
    out = images.copy()
    for i in np.flatnonzero(~blank):
        shear = np.array([[1.0, 0.0], [alpha[i], 1.0]])
        offset = np.array([r0[i], c0[i]]) - shear @ centre
        out[i] = ndimage.affine_transform(images[i], shear, offset=offset, order=1)
    return np.clip(out, 0.0, 255.0)


def flatten(images):
    """uint8 or float images (n, h, w) in 0-255 -> float32 (n, h * w) in 0-1."""
    images = np.asarray(images, np.float32)
    return images.reshape(len(images), -1) / 255.0


FEATURES = {
    "pixels": flatten,
    "deskew": lambda images: flatten(deskew(images)),
}


# Features per dataset (``--features auto``): deskewing undoes the slant of
# handwriting, and clothes have no slant to undo, so there it only costs time.
DATASET_FEATURES = {"mnist": "deskew", "fashion_mnist": "pixels"}


def features_for(setting, dataset):
    """The features ``setting`` names for ``dataset``: 'auto' is the dataset's own."""
    return DATASET_FEATURES[dataset] if setting == "auto" else setting


def make_features(images, name):
    """The ``name`` features (a key of ``FEATURES``) of uint8 images (n, 28, 28)."""
    return FEATURES[name](images)
