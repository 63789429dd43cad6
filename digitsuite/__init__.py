"""digitsuite: the shared code behind the suite's scripts.

The subpackages are the map: ``data`` (datasets, augmentation, users'
pictures), ``training`` (the Keras loop, the fast step, the baselines),
``inference`` (saved models and fast prediction), ``evaluation`` (metrics,
reports, the four-model comparison), ``visual`` (what each layer sees,
convolution on a photo) and ``reading`` (finding and reading numbers on a
page). The modules at this level serve them all.
"""

import os

# TensorFlow reads this when it is first imported; keep its C++ INFO and
# WARNING lines (oneDNN notices, "no GPU found") out of the user's terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Every picture the suite makes is written to a file, never shown; set the
# file-only backend once here, before any module imports pyplot.
os.environ.setdefault("MPLBACKEND", "Agg")

__version__ = "0.1.0"
